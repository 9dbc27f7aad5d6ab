"""Writes of the users app: registration, the one way a user is created, the demo users."""

from django.core.management.color import no_style
from django.db import IntegrityError, connection, transaction

from outbox.contracts import CONSUMER_ANALYTICS
from outbox.services import outbox_publish
from users.analytics import TOPIC_USER_CREATED, user_record
from users.exceptions import EmailTaken
from users.models import User


@transaction.atomic(durable=True)
def user_register(*, email: str, first_name: str, last_name: str) -> User:
    """Create a user and publish `user_created`, in one transaction.

    Raises EmailTaken when another user has `email` in any letter case.
    """
    return user_save_new(user=User(email=email, first_name=first_name, last_name=last_name))


@transaction.atomic
def user_save_new(*, user: User) -> User:
    """Insert the unsaved `user` and publish `user_created` in the same transaction.

    Every way a user is created (the API, the admin, the demo users) goes through here.
    Raises EmailTaken when another user has the email in any letter case.
    """
    if user.email and User.objects.filter(email__iexact=user.email).exists():
        raise _email_taken(user.email)
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError as exc:
        # A concurrent registration of the same address won the race.
        raise _email_taken(user.email) from exc
    outbox_publish(
        messages=[user_record(user).as_message(topic=TOPIC_USER_CREATED)],
        consumers=[CONSUMER_ANALYTICS],
    )
    return user


def _email_taken(email: str) -> EmailTaken:
    return EmailTaken("A user with this email already exists.", details={"email": email})


DEMO_USER_IDS = (1, 2, 3, 4)


@transaction.atomic
def demo_users_ensure() -> list[User]:
    """Create the demo users 1 to 4 if they are missing and return them.

    Idempotent. Resets the id sequence afterwards, so users created later by the API do not
    collide with these explicit ids.
    """
    existing = User.objects.in_bulk(DEMO_USER_IDS)
    users = [
        existing.get(user_id)
        or user_save_new(
            user=User(
                id=user_id,
                first_name="Test",
                last_name=f"user {user_id}",
                email=f"user{user_id}@example.com",
            )
        )
        for user_id in DEMO_USER_IDS
    ]
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [User]):
            cursor.execute(statement)
    return users
