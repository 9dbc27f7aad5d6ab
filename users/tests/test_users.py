"""The demo users."""

from django.core.management import call_command

from users.models import User


def test_create_test_users_is_idempotent_and_prints_ids(db, capsys):
    call_command("create_test_users")
    call_command("create_test_users")

    assert User.objects.count() == 4
    assert capsys.readouterr().out.split() == ["1", "2", "3", "4"] * 2


def test_users_created_after_the_demo_users_get_fresh_ids(db):
    call_command("create_test_users")

    assert User.objects.create(first_name="next").pk == 5
