from django.core.management.base import BaseCommand, CommandError

from api_keys.exceptions import ApiKeyInvalid, ApiKeyNameTaken
from api_keys.management.revocation import revoked_text
from api_keys.models import SCOPES
from api_keys.services import api_key_create, api_key_replace

# The way out of a name taken, which the service's message (an API's 409 too) cannot name.
REPLACE_HINT = "Use --replace to issue a new key and revoke the old one."


class Command(BaseCommand):
    help = (
        "Create an API key and print it, once, on stdout; only its hash is stored. "
        "Without --tenant the key acts on every tenant. A name an active key has is refused, "
        "unless --replace revokes that key."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--name", required=True, help="who uses the key; unique among active keys"
        )
        parser.add_argument(
            "--tenant",
            action="append",
            default=[],
            dest="tenants",
            metavar="TENANT",
            help="a tenant the key may act on (repeat for several)",
        )
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            dest="scopes",
            choices=SCOPES,
            help="an extra power of the key: `rules` changes and activates the rule sets",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="revoke the active key with this name, if any, and create the new one in its "
            "place (one transaction: when the new key is refused, the old one stays)",
        )

    def handle(
        self, *args, name: str, tenants: list[str], scopes: list[str], replace: bool, **options
    ) -> None:
        try:
            create = api_key_replace if replace else api_key_create
            issued = create(name=name, tenants=tenants, scopes=scopes)
        except ApiKeyNameTaken as exc:
            raise CommandError(f"{exc.message} {REPLACE_HINT}")
        except ApiKeyInvalid as exc:
            raise CommandError(exc.message)
        if issued.replaced is not None:
            self.stderr.write(revoked_text(issued.replaced))
        key = issued.api_key
        tenants = ", ".join(key.tenants) if key.tenants else "every tenant"
        named = ", ".join(f"`{scope}`" for scope in key.scopes)
        powers = (
            f", with the scope{'s' if len(key.scopes) > 1 else ''} {named}" if key.scopes else ""
        )
        self.stdout.write(issued.plaintext)
        self.stderr.write(
            f"Created API key {key.name!r} ({key.prefix}) for {tenants}{powers}. "
            "Store it now: it is not shown again."
        )
