from django.core.management.base import BaseCommand, CommandError

from api_keys.exceptions import ApiKeyNotFound
from api_keys.management.revocation import revoked_text
from api_keys.services import api_key_revoke


class Command(BaseCommand):
    help = "Revoke the active API key with this prefix (mk_...) or name."

    def add_arguments(self, parser) -> None:
        parser.add_argument("prefix_or_name")

    def handle(self, *args, prefix_or_name: str, **options) -> None:
        try:
            key = api_key_revoke(prefix_or_name=prefix_or_name)
        except ApiKeyNotFound as exc:
            raise CommandError(exc.message)
        self.stdout.write(revoked_text(key))
