"""What the users app ships to analytics: one record per user created."""

from outbox.contracts import AnalyticsRecord
from users.models import DEFAULT_TENANT, User

TOPIC_USER_CREATED = "user_created"


def user_record(user: User) -> AnalyticsRecord:
    """Return the analytics record of `user` having been created."""
    return AnalyticsRecord(
        key=f"user:{user.pk}",
        event_type=TOPIC_USER_CREATED,
        occurred_at=user.created_at,
        tenant_id=DEFAULT_TENANT,
        user_id=user.pk,
        context={"email": user.email, "first_name": user.first_name, "last_name": user.last_name},
    )
