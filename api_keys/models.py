"""API keys: who may call the API, and on which tenants."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

TENANT_ID_MAX_LENGTH = 64
# What a key may do beyond events and reads: `rules` changes and activates the rule sets.
SCOPE_RULES = "rules"
SCOPES = (SCOPE_RULES,)


class ApiKey(models.Model):
    """A client's key. Only its sha256 and a display prefix are kept: the key is shown once.

    `tenants` lists the tenants the key may act on; an empty list means every tenant.
    `scopes` lists the extra powers it has (SCOPES); an empty list means none of them.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=20, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    tenants = models.JSONField(default=list, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    # A request made with a key has the key as `request.user` (DRF sets both user and auth),
    # so it answers what Django and DRF ask of a user.
    is_authenticated = True
    is_anonymous = False

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        constraints = [
            # A name picks one key in `revoke_api_key`; a revoked key frees its name.
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(revoked_at__isnull=True),
                name="api_key_unique_active_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
