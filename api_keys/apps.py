from django.apps import AppConfig
from django.core import checks


class ApiKeysConfig(AppConfig):
    name = "api_keys"
    verbose_name = "API keys"

    def ready(self) -> None:
        # Registers the Bearer scheme with drf-spectacular; imported for that side effect.
        import api_keys.openapi  # noqa: F401
        from api_keys.checks import (
            key_cache_period_check,
            secret_key_check,
            throttle_rate_check,
        )

        checks.register(throttle_rate_check)
        checks.register(key_cache_period_check)
        checks.register(secret_key_check, checks.Tags.security, deploy=True)
