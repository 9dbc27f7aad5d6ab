from django.core.management.base import BaseCommand

from users.services import demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo users 1 to 4 (idempotent) and print their ids."

    def handle(self, *args, **options) -> None:
        for user in demo_users_ensure():
            self.stdout.write(str(user.pk))
