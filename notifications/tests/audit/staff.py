"""Staff members who read the audit trail through their admin session."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from notifications.models import AUDIT_EVERY_TENANT


def staff_create(username: str, *, every_tenant: bool = True):
    """Create an active staff member, allowed to read every tenant's audit or not."""
    staff = get_user_model().objects.create_user(username, is_staff=True)
    if every_tenant:
        staff.user_permissions.add(Permission.objects.get(codename=AUDIT_EVERY_TENANT))
    return staff
