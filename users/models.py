"""The users whose events the service receives."""

from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Lower
from django.utils import timezone

# The tenant of what names none: a transaction (POST /event) and a user's analytics record.
DEFAULT_TENANT = "default"
# A user's `email` trait (product events), lowercased: what the people search matches an
# address against, through the index of the same expression.
EMAIL_TRAIT_LOWER = Lower(KeyTextTransform("email", "traits"))


class User(models.Model):
    """A user of the fintech app whose events the service receives."""

    # Unique by a constraint rather than `unique=True`, which would add a second index for
    # LIKE prefix searches (varchar_pattern_ops) that no query makes.
    external_id = models.CharField(max_length=128, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    traits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Moved from the events app with its table (migration users.0001).
        db_table = "events_user"
        ordering = ["id"]
        # Told apart in the admin from Django's "Users", the staff who log in to it.
        verbose_name = "app user"
        verbose_name_plural = "app users"
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="user_unique_external_id"),
            # An address belongs to one user, whatever its letter case.
            models.UniqueConstraint(
                Lower("email"),
                condition=~Q(email=""),
                name="user_unique_email_ci",
                violation_error_message="A user with this email already exists.",
            ),
        ]
        indexes = [models.Index(EMAIL_TRAIT_LOWER, name="user_email_trait_ci")]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.external_id or f"user {self.pk}"
