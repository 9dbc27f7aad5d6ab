"""What the key commands say of a key they revoked."""

from django.conf import settings

from api_keys.models import ApiKey


def revoked_text(key: ApiKey) -> str:
    return (
        f"Revoked API key {key.name!r} ({key.prefix}); every process refuses it within "
        f"{settings.API_KEY_CACHE_SECONDS:g} s (API_KEY_CACHE_SECONDS)."
    )
