"""Who may read and change the rule sets, and the name their changes are logged under."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from api_keys.authentication import ApiKeyAuthentication
from api_keys.models import SCOPE_RULES
from api_keys.permissions import ScopedKeyOrStaffSession, is_staff_session

ANONYMOUS = "anonymous"


class RulesAccess:
    """A view of the rule sets: a key with the `rules` scope, a staff session (which needs
    the change permission to write, as in the admin), or anyone under ALLOW_ANONYMOUS."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [ScopedKeyOrStaffSession]
    required_scope = SCOPE_RULES
    staff_write_permission = "rule_sets.change_rulesetversion"


def actor_name(request: Request) -> str:
    """Return who makes the request: the API key's name, the staff user's, or "anonymous"."""
    if request.auth is not None:
        return request.auth.name
    if is_staff_session(request):
        return request.user.get_username()
    return ANONYMOUS
