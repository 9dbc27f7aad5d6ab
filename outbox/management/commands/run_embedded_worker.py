import signal

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from outbox.embedded_worker import EmbeddedWorker


class Command(BaseCommand):
    help = (
        "Run `make run`'s one worker without a broker: the worker schedule's tasks, and the "
        "requests the web processes send to EMBEDDED_WORKER_SOCKET. Stops on SIGTERM or SIGINT."
    )

    def handle(self, *args, **options) -> None:
        if not settings.EMBEDDED_WORKER_SOCKET:
            raise CommandError(
                "CELERY_BROKER_URL is set, so the workers are Celery's: "
                "celery --app midnite_test worker"
            )
        try:
            worker = EmbeddedWorker(app=current_app, socket_path=settings.EMBEDDED_WORKER_SOCKET)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        worker.run()
