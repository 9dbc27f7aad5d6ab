from django.core.management.base import BaseCommand, CommandError

from outbox.contracts import TICK_CONSUMERS
from outbox.selectors import (
    BatchesWaiting,
    outbox_backlog,
    outbox_batches_waiting,
    outbox_cursors_ahead,
)
from outbox.services import (
    outbox_cursors_rebase,
    outbox_dead_letters_retry,
    outbox_process,
    outbox_shipped_purge,
)


class Command(BaseCommand):
    help = (
        "Operate the outbox: backlog, relay now, retry dead letters, purge shipped rows, "
        "rebase a cursor after a restore."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("backlog", help="unshipped and dead-lettered messages per consumer")
        relay = actions.add_parser(
            "relay", help="process a consumer's messages now, in this process"
        )
        relay.add_argument("--consumer", choices=TICK_CONSUMERS, default=TICK_CONSUMERS[0])
        retry = actions.add_parser("retry-dead", help="re-queue dead-lettered messages")
        retry.add_argument("--consumer", choices=TICK_CONSUMERS)
        actions.add_parser("purge", help="delete shipped rows older than OUTBOX_RETENTION")
        actions.add_parser(
            "rebase-cursor",
            help="after a restore or a move to another PostgreSQL cluster: let claims resume",
        )

    def handle(self, *args, action: str, **options) -> None:
        if action == "backlog":
            for backlog in outbox_backlog():
                oldest = (
                    ""
                    if backlog.oldest_age_seconds is None
                    else f", oldest {backlog.oldest_age_seconds} s"
                )
                at_least = "at least " if backlog.unshipped_at_least else ""
                self.stdout.write(
                    f"{backlog.consumer}: {at_least}{backlog.unshipped} unshipped{oldest}, "
                    f"{backlog.dead_lettered} dead-lettered"
                )
            for ahead in outbox_cursors_ahead():
                self.stdout.write(
                    f"{ahead.consumer}: claims stopped, cursor at transaction "
                    f"{ahead.cursor_xid}, ahead of the server's {ahead.server_next_xid}: "
                    "run `manage.py outbox rebase-cursor`"
                )
        elif action == "relay":
            report = outbox_process(consumer=options["consumer"])
            self.stdout.write(
                f"shipped {report.messages} messages in {report.batches} batches"
                + (" (stopped at a failed batch)" if report.failed else "")
            )
            waiting = outbox_batches_waiting(consumer=options["consumer"])
            if waiting is not None:
                raise CommandError(_waiting_say(waiting))
        elif action == "retry-dead":
            count = outbox_dead_letters_retry(consumer=options["consumer"])
            self.stdout.write(f"re-queued {count} dead-lettered messages")
        elif action == "rebase-cursor":
            rebased = outbox_cursors_rebase()
            for done in rebased:
                self.stdout.write(
                    f"{done.consumer}: cursor rebased, {done.messages} messages of the old "
                    f"cluster moved {done.shift} transaction ids back"
                )
            if not rebased:
                self.stdout.write("no cursor is ahead of the server's transaction ids")
        else:
            self.stdout.write(f"deleted {outbox_shipped_purge()} shipped messages")


def _waiting_say(waiting: BatchesWaiting) -> str:
    """One line for an operator: what did not ship, when it is tried again, and why."""
    messages = _counted(waiting.messages, "message")
    wait = "waits" if waiting.messages == 1 else "wait"
    batches = _counted(waiting.batches, "batch", "batches")
    attempts = _counted(waiting.attempts, "failed attempt")
    due = waiting.next_attempt_at.isoformat(timespec="seconds").replace("+00:00", "Z")
    error = waiting.last_error.splitlines()[0] if waiting.last_error else "no error recorded"
    return (
        f"{messages} in {batches} {wait} to be retried, the next at {due}, after {attempts}: "
        f"{error}"
    )


def _counted(count: int, noun: str, plural: str = "") -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
