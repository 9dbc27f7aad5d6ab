"""Writes of API keys (create, revoke) and the tenant check the API's views make."""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from api_keys.exceptions import ApiKeyInvalid, ApiKeyNameTaken, ApiKeyNotFound, TenantForbidden
from api_keys.models import SCOPES, TENANT_ID_MAX_LENGTH, ApiKey
from api_keys.selectors import (
    api_key_active_find,
    api_key_cache_clear,
    api_key_hash,
    tenants_allowed,
)

KEY_SCHEME = "mk"
NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length


@dataclass(frozen=True, kw_only=True)
class IssuedApiKey:
    api_key: ApiKey
    plaintext: str  # The key itself: shown once, never stored.
    replaced: ApiKey | None = None  # The active key of that name api_key_replace revoked.


def api_key_create(
    *, name: str, tenants: Iterable[str] = (), scopes: Iterable[str] = ()
) -> IssuedApiKey:
    """Create a key named `name` for `tenants` (none: every tenant) and return it in clear.

    `scopes` are the key's extra powers (api_keys.models.SCOPES), none by default.

    The key is `mk_<prefix>_<secret>`: the prefix (12 hex digits) is stored to tell keys apart,
    the secret (256 random bits) only as part of the key's sha256.
    """
    name = name.strip()
    tenants = sorted({tenant.strip() for tenant in tenants})
    scopes = sorted(set(scopes))
    if not name or len(name) > NAME_MAX_LENGTH:
        raise ApiKeyInvalid(f"A key's name has 1 to {NAME_MAX_LENGTH} characters.")
    if any(not tenant or len(tenant) > TENANT_ID_MAX_LENGTH for tenant in tenants):
        raise ApiKeyInvalid(f"A tenant id has 1 to {TENANT_ID_MAX_LENGTH} characters.")
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown:
        raise ApiKeyInvalid(f"Unknown scope {unknown[0]!r}; the scopes are: {', '.join(SCOPES)}.")
    if ApiKey.objects.filter(name=name, revoked_at__isnull=True).exists():
        raise ApiKeyNameTaken(f"An active API key is already named {name!r}.")
    prefix = f"{KEY_SCHEME}_{secrets.token_hex(6)}"
    plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=api_key_hash(plaintext),
        tenants=tenants,
        scopes=scopes,
    )
    return IssuedApiKey(api_key=key, plaintext=plaintext)


def api_key_replace(
    *, name: str, tenants: Iterable[str] = (), scopes: Iterable[str] = ()
) -> IssuedApiKey:
    """Revoke the active key named exactly `name`, if any, and create its successor.

    One transaction: when the new key is refused (ApiKeyInvalid), the old one stays active.
    """
    with transaction.atomic():
        old = (
            ApiKey.objects.select_for_update()
            .filter(name=name.strip(), revoked_at__isnull=True)
            .first()
        )
        if old is not None:
            api_keys_revoke(ids=[old.pk])
            old.refresh_from_db()
        issued = api_key_create(name=name, tenants=tenants, scopes=scopes)
    return IssuedApiKey(api_key=issued.api_key, plaintext=issued.plaintext, replaced=old)


def api_key_revoke(*, prefix_or_name: str) -> ApiKey:
    """Revoke the active key with this display prefix or name, and return it.

    This process stops accepting it at once; others within API_KEY_CACHE_SECONDS.
    """
    key = api_key_active_find(prefix_or_name=prefix_or_name)
    if key is None:
        raise ApiKeyNotFound(f"No active API key has the prefix or name {prefix_or_name!r}.")
    api_keys_revoke(ids=[key.pk])
    key.refresh_from_db()
    return key


def api_keys_revoke(*, ids: list[int]) -> int:
    """Revoke the active keys among `ids`; return how many were revoked."""
    count = ApiKey.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key_cache_clear()
    return count


def tenant_access_check(*, key: ApiKey | None, tenant_id: str) -> None:
    """Raise TenantForbidden unless a request with `key` (`request.auth`) may act on `tenant_id`."""
    allowed = tenants_allowed(key=key)
    if allowed is None or tenant_id in allowed:
        return
    who = "This API key" if key is not None else "A request without an API key"
    raise TenantForbidden(
        f"{who} may not act on tenant {tenant_id!r}.", details={"tenant_id": tenant_id}
    )
