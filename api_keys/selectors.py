"""Reads of API keys: the key a request presents, and the tenants a key may act on."""

import hashlib
import threading
import time

from django.conf import settings

from api_keys.models import ApiKey

# Lookups kept per process, oldest dropped first; a bound, since unknown keys are kept too.
_CACHE_MAX_ENTRIES = 10_000
_cache: dict[str, tuple[float, ApiKey | None]] = {}
_cache_lock = threading.Lock()


def api_key_hash(plaintext: str) -> str:
    """Return the sha256 of a key, in hex.

    A fast hash is enough: a key carries 256 random bits, so unlike a password it cannot be
    guessed from its hash.
    """
    return hashlib.sha256(plaintext.encode()).hexdigest()


def api_key_authenticate(*, plaintext: str) -> ApiKey | None:
    """Return the active key `plaintext` is, or None for an unknown or revoked key.

    Each answer, found or not, is kept in this process for API_KEY_CACHE_SECONDS (at most 2 s,
    api_keys.checks), so a busy key costs one query a second. A key revoked by another process
    therefore keeps working here for at most that long.
    """
    digest = api_key_hash(plaintext)
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and cached[0] > now:
        return cached[1]
    key = ApiKey.objects.filter(key_hash=digest, revoked_at__isnull=True).first()
    with _cache_lock:
        _cache.pop(digest, None)
        if len(_cache) >= _CACHE_MAX_ENTRIES:
            del _cache[next(iter(_cache))]
        _cache[digest] = (now + settings.API_KEY_CACHE_SECONDS, key)
    return key


def api_key_cache_clear() -> None:
    """Forget every key lookup this process keeps."""
    with _cache_lock:
        _cache.clear()


def api_key_active_find(*, prefix_or_name: str) -> ApiKey | None:
    """Return the active key with this display prefix, else the one with this name."""
    active = ApiKey.objects.filter(revoked_at__isnull=True)
    return (
        active.filter(prefix=prefix_or_name).first() or active.filter(name=prefix_or_name).first()
    )


def tenants_allowed(*, key: ApiKey | None) -> frozenset[str] | None:
    """Return the tenants a request with `key` may act on; None means every tenant.

    `key` is `request.auth`: None for a request without a key, which acts on every tenant
    when ALLOW_ANONYMOUS is on and on none otherwise.
    """
    if key is None:
        return None if settings.ALLOW_ANONYMOUS else frozenset()
    return frozenset(key.tenants) or None
