"""`manage.py rules`: the rule versions from the command line, for teams that keep rules in git."""

import logging
from argparse import ArgumentTypeError
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.validation import timestamp_parse
from midnite_test.errors import DomainError
from rule_sets.backtests import rule_set_backtest_create, rule_set_backtest_run
from rule_sets.models import RuleSetBacktest
from rule_sets.selectors import rule_set_version_detail
from rule_sets.services import rule_set_version_activate, rule_set_version_get_or_create

# Who the changes made here are logged as, unless --by names someone.
COMMAND_LINE = "manage.py rules"
ISO = "%Y-%m-%dT%H:%M:%SZ"
COLUMNS = ("rule", "active", "candidate", "added", "removed", "users")


class Command(BaseCommand):
    help = (
        "Import a rules file as a new version (a draft unless --activate), export a version's "
        "source, backtest a version against the active one, or activate a version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        imported = actions.add_parser("import", help="store FILE as the next version")
        imported.add_argument("file", type=Path)
        imported.add_argument("--note", default="")
        imported.add_argument("--activate", action="store_true", help="and make it active")
        exported = actions.add_parser("export", help="print a version's source")
        exported.add_argument("--version", type=int, help="default: the active one")
        backtest = actions.add_parser("backtest", help="replay stored history, here and now")
        backtest.add_argument("--version", type=int, required=True)
        backtest.add_argument(
            "--from",
            dest="start",
            type=_timestamp,
            help="ISO 8601, with TZ; default: 7 days before --to",
        )
        backtest.add_argument(
            "--to",
            dest="end",
            type=_timestamp,
            help="ISO 8601, with TZ; default: now, or 7 days after --from (at most 31 days)",
        )
        activate = actions.add_parser("activate", help="make a version the active one")
        activate.add_argument("--version", type=int, required=True)
        for action in (imported, exported, backtest, activate):
            action.add_argument("--kind", required=True, help="alerts or notifications")
            action.add_argument("--by", default=COMMAND_LINE, help="who makes the change")

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as exc:
            details = "".join(
                f"\n  {key}: {value}" for key, value in exc.details.items() if value is not None
            )
            raise CommandError(f"{exc.message}{details}") from exc

    def _import(self, *, file: Path, kind: str, note: str, activate: bool, by: str, **_) -> None:
        try:
            source = file.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        version, created = rule_set_version_get_or_create(
            kind=kind, source=source, note=note, created_by=by
        )
        if not created:
            self.stdout.write(
                f"{kind} version {version.version} ({version.status}) already has this content: "
                "nothing stored"
            )
        if activate:
            version = rule_set_version_activate(kind=kind, version=version.version, activated_by=by)
        if created or activate:
            self.stdout.write(f"{kind} version {version.version}: {version.status}")

    def _export(self, *, kind: str, version: int | None, **_) -> None:
        self.stdout.write(
            rule_set_version_detail(kind=kind, version=version).version.source, ending=""
        )

    def _activate(self, *, kind: str, version: int, by: str, **_) -> None:
        activated = rule_set_version_activate(kind=kind, version=version, activated_by=by)
        self.stdout.write(f"{kind} version {activated.version}: {activated.status}")

    def _backtest(self, *, kind: str, version: int, start, end, by: str, **_) -> None:
        backtest = rule_set_backtest_create(
            kind=kind, version=version, start=start, end=end, created_by=by, wake=False
        )
        window = f"{backtest.window_start:{ISO}} to {backtest.window_end:{ISO}}"
        self.stderr.write(
            f"Backtest {backtest.pk}: {kind} v{version} against "
            f"v{backtest.baseline.version}, {window}"
        )
        with _warnings_only(logging.getLogger(rule_set_backtest_run.__module__)):
            ended = rule_set_backtest_run(backtest.pk, on_progress=self._progress)
        if ended is None or ended.status != RuleSetBacktest.Status.DONE:
            raise CommandError(ended.error if ended else "Another worker took the backtest.")
        self.stdout.write(backtest_table(ended.result, backtest_id=backtest.pk))

    def _progress(self, done: int, total: int) -> None:
        """Write how far the replay is; nothing while its total is 0, not yet counted or an
        empty window (the table then says so)."""
        if total:
            self.stderr.write(f"  {done:,} of {total:,} events ({done / total:.0%})")


@contextmanager
def _warnings_only(logger: logging.Logger) -> Iterator[None]:
    """Quiet `logger`'s info lines meanwhile: run here, in the foreground, a backtest's start
    and end (the worker's log lines, JSON in production) would land amid the command's own
    progress lines. Its warnings and errors still show."""
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _timestamp(value: str):
    # argparse reports an ArgumentTypeError as the option's error, in one line: a CommandError
    # raised while the arguments are read escapes Django's handling of it (a traceback).
    try:
        return timestamp_parse(value)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from exc


def backtest_table(result: dict, *, backtest_id) -> str:
    """Return a done backtest's result as text: the events, a row per rule, the outcomes."""
    rows = [COLUMNS] + [tuple(str(rule[column]) for column in COLUMNS) for rule in result["rules"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    replayed = (
        f"{result['events']:,} events replayed"
        if result["events"]
        else "The window holds no events: nothing was replayed."
    )
    lines = [replayed, ""]
    lines += ["  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows]
    for rule in result["rules"]:
        for version, counts in rule.get("outcomes", {}).items():
            outcomes = ", ".join(f"{outcome} {count}" for outcome, count in sorted(counts.items()))
            lines.append(f"{rule['rule']} under the {version} version: {outcomes}")
    lines.append(f"{len(result['samples'])} samples: GET /api/v1/rules/backtests/{backtest_id}")
    return "\n".join(lines)
