"""DRF authentication by API key: `Authorization: Bearer <key>`."""

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from api_keys.exceptions import InvalidApiKey
from api_keys.models import ApiKey
from api_keys.selectors import api_key_authenticate


class ApiKeyAuthentication(BaseAuthentication):
    """Authenticate a Bearer key; the key becomes both `request.user` and `request.auth`.

    A request without an Authorization header carries no key and is left to the permission
    classes; an empty one does not count as none (granian passes a value that is not ASCII as
    empty). Any other Authorization header that is not a well-formed `Bearer <key>` naming an
    active key (another scheme, a bare key, an unknown or revoked one) is 401
    `invalid_api_key`, even where requests without a key are allowed: a caller who sent
    credentials meant to be checked, and must not be served silently as anonymous.
    The one exception is another scheme on a request with a logged-in session: a proxy in front
    of the console may add `Authorization: Basic`, and the view's session authentication, where
    it has one, answers for that request.
    """

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[ApiKey, ApiKey] | None:
        if "HTTP_AUTHORIZATION" not in request.META:
            return None
        parts = get_authorization_header(request).split()
        if not parts:
            raise InvalidApiKey(
                "The Authorization header is empty (or, as some servers pass it, not ASCII). "
                "Send the key as `Authorization: Bearer <key>`."
            )
        if parts[0].lower() != self.keyword and _session_user_logged_in(request):
            return None
        if len(parts) != 2 or parts[0].lower() != self.keyword:
            raise InvalidApiKey("Send the key as `Authorization: Bearer <key>`.")
        try:
            plaintext = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise InvalidApiKey()
        key = api_key_authenticate(plaintext=plaintext)
        if key is None:
            raise InvalidApiKey()
        return key, key

    def authenticate_header(self, request: Request) -> str:
        # Present on a 401; without it DRF would answer 403.
        return 'Bearer realm="api"'


def _session_user_logged_in(request: Request) -> bool:
    user = getattr(request._request, "user", None)
    return user is not None and user.is_authenticated
