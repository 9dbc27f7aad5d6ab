"""`create_api_key` prints a key once and stores its hash; `revoke_api_key` revokes one."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from api_keys.models import ApiKey
from api_keys.selectors import api_key_hash, tenants_allowed


def _create(*args: str) -> str:
    stdout = StringIO()
    call_command("create_api_key", *args, stdout=stdout, stderr=StringIO())
    return stdout.getvalue().strip()


def _register_nobody(client):
    return client.post("/users", {}, format="json")


def test_create_api_key_prints_a_key_that_authenticates(db, client_for):
    plaintext = _create("--name", "partner")

    assert _register_nobody(client_for(plaintext)).status_code == 400


def test_create_api_key_stores_only_the_keys_hash_and_prefix(db):
    plaintext = _create("--name", "partner")

    key = ApiKey.objects.get()
    assert key.key_hash == api_key_hash(plaintext)
    assert plaintext.startswith(f"{key.prefix}_") and key.prefix.startswith("mk_")
    stored = ApiKey.objects.values_list("name", "prefix", "key_hash", "tenants").get()
    assert not any(plaintext in str(value) for value in stored)


def test_create_api_key_without_tenants_makes_an_all_tenant_key(db):
    _create("--name", "partner")

    assert tenants_allowed(key=ApiKey.objects.get()) is None


def test_create_api_key_with_tenants_limits_the_key_to_them(db):
    _create("--name", "partner", "--tenant", "acme", "--tenant", "globex")

    assert tenants_allowed(key=ApiKey.objects.get()) == frozenset({"acme", "globex"})


def test_create_api_key_refuses_a_name_an_active_key_has(db):
    _create("--name", "partner")

    with pytest.raises(CommandError) as refused:
        _create("--name", "partner")

    assert str(refused.value) == (
        "An active API key is already named 'partner'. Use --replace to issue a new key and "
        "revoke the old one."
    )


def test_create_api_key_refuses_an_empty_tenant(db):
    with pytest.raises(CommandError, match="tenant id has 1 to 64 characters"):
        _create("--name", "partner", "--tenant", " ")


@pytest.mark.parametrize("by", ["prefix", "name"])
def test_revoke_api_key_revokes_the_key_named_by_prefix_or_name(db, client_for, by):
    plaintext = _create("--name", "partner")
    key = ApiKey.objects.get()
    stdout = StringIO()

    call_command("revoke_api_key", getattr(key, by), stdout=stdout)

    key.refresh_from_db()
    assert key.revoked_at is not None
    assert f"Revoked API key 'partner' ({key.prefix})" in stdout.getvalue()
    assert "every process refuses it within 1 s (API_KEY_CACHE_SECONDS)" in stdout.getvalue()
    assert _register_nobody(client_for(plaintext)).status_code == 401


def test_revoke_api_key_fails_for_no_active_key(db):
    _create("--name", "partner")
    call_command("revoke_api_key", "partner", stdout=StringIO())

    with pytest.raises(CommandError, match="No active API key"):
        call_command("revoke_api_key", "partner", stdout=StringIO())


def test_a_revoked_keys_name_can_be_given_to_a_new_key(db):
    _create("--name", "partner")
    call_command("revoke_api_key", "partner", stdout=StringIO())

    _create("--name", "partner")

    assert ApiKey.objects.filter(name="partner").count() == 2


def test_create_api_key_without_a_scope_makes_a_key_with_none(db):
    _create("--name", "partner")

    assert ApiKey.objects.get().scopes == []


def test_create_api_key_with_the_rules_scope_gives_the_key_that_scope(db):
    stderr = StringIO()
    call_command(
        "create_api_key",
        "--name",
        "risk",
        "--scope",
        "rules",
        "--scope",
        "rules",
        stdout=StringIO(),
        stderr=stderr,
    )

    assert ApiKey.objects.get().scopes == ["rules"]
    assert "for every tenant, with the scope `rules`. Store it" in stderr.getvalue()


def test_create_api_key_refuses_an_unknown_scope(db):
    with pytest.raises(CommandError, match="invalid choice: 'admin'"):
        _create("--name", "partner", "--scope", "admin")
    assert not ApiKey.objects.exists()


def test_create_api_key_with_replace_revokes_the_active_key_of_that_name_for_a_new_one(
    db, client_for
):
    old = _create("--name", "partner", "--tenant", "acme")
    stderr = StringIO()

    stdout = StringIO()
    call_command("create_api_key", "--name", "partner", "--replace", stdout=stdout, stderr=stderr)

    new = stdout.getvalue().strip()
    assert new != old
    replaced, created = ApiKey.objects.order_by("id")
    assert replaced.revoked_at is not None and created.revoked_at is None
    assert created.key_hash == api_key_hash(new) and created.tenants == []
    assert f"Revoked API key 'partner' ({replaced.prefix})" in stderr.getvalue()
    assert f"Created API key 'partner' ({created.prefix})" in stderr.getvalue()
    assert _register_nobody(client_for(old)).status_code == 401
    assert _register_nobody(client_for(new)).status_code == 400


def test_create_api_key_with_replace_and_no_key_of_that_name_creates_one(db):
    stderr = StringIO()

    call_command(
        "create_api_key", "--name", "partner", "--replace", stdout=StringIO(), stderr=stderr
    )

    assert ApiKey.objects.get().revoked_at is None
    assert "Revoked" not in stderr.getvalue()


def test_create_api_key_with_replace_keeps_the_old_key_when_the_new_one_is_refused(db):
    _create("--name", "partner")

    with pytest.raises(CommandError, match="tenant id has 1 to 64 characters"):
        _create("--name", "partner", "--replace", "--tenant", " ")

    assert ApiKey.objects.get().revoked_at is None
