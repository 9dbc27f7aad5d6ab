"""`manage.py rules`: import (and activate) a file, export a version, backtest one in the
foreground with its table, activate one; mistakes are command errors naming the fault."""

import logging
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from midnite_test.tests.manage_process import manage_run
from rule_sets.active import rule_set_active
from rule_sets.models import KIND_ALERTS, RuleSetActivation, RuleSetBacktest, RuleSetVersion
from rule_sets.tests.conftest import LOWER_THRESHOLD

pytestmark = pytest.mark.django_db


def _rules(*args: str) -> tuple[str, str]:
    stdout, stderr = StringIO(), StringIO()
    call_command("rules", *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def lower_file(tmp_path):
    path = tmp_path / "alert_rules.yml"
    path.write_text(LOWER_THRESHOLD)
    return path


def test_import_stores_the_file_as_a_draft(lower_file):
    out, _ = _rules("import", str(lower_file), "--kind", "alerts", "--note", "from git")

    assert out == "alerts version 2: draft\n"
    version = RuleSetVersion.objects.get(kind=KIND_ALERTS, version=2)
    assert (version.source, version.note, version.created_by) == (
        LOWER_THRESHOLD,
        "from git",
        "manage.py rules",
    )
    assert rule_set_active(KIND_ALERTS).version == 1


def test_import_with_activate_makes_it_active_as_who_is_named(lower_file):
    out, _ = _rules("import", str(lower_file), "--kind", "alerts", "--activate", "--by", "ci")

    assert out == "alerts version 2: active\n"
    assert rule_set_active(KIND_ALERTS).version == 2
    assert RuleSetActivation.objects.filter(kind=KIND_ALERTS).first().activated_by == "ci"


def test_import_of_the_active_content_stores_nothing_and_names_the_version(tmp_path):
    path = tmp_path / "alert_rules.yml"
    path.write_text(settings.ALERT_RULES_PATH.read_text())

    out, _ = _rules("import", str(path), "--kind", "alerts")

    assert out == "alerts version 1 (active) already has this content: nothing stored\n"
    assert RuleSetVersion.objects.filter(kind=KIND_ALERTS).count() == 1


def test_import_with_activate_of_a_retired_content_activates_that_version(lower_file):
    _rules("import", str(lower_file), "--kind", "alerts", "--activate")
    _rules("activate", "--kind", "alerts", "--version", "1")

    out, _ = _rules("import", str(lower_file), "--kind", "alerts", "--activate")

    assert out == (
        "alerts version 2 (retired) already has this content: nothing stored\n"
        "alerts version 2: active\n"
    )
    assert RuleSetVersion.objects.filter(kind=KIND_ALERTS).count() == 2
    assert rule_set_active(KIND_ALERTS).version == 2


def test_import_of_invalid_rules_names_the_rule_and_the_field(lower_file):
    lower_file.write_text(LOWER_THRESHOLD.replace("count: 3\n", "count: three\n", 1))

    with pytest.raises(CommandError) as raised:
        _rules("import", str(lower_file), "--kind", "alerts")

    assert "rule: rules[1] (code 30)" in str(raised.value)
    assert "field: condition.count" in str(raised.value)
    assert "line: 22" in str(raised.value)  # `count: three`, as the API and console say
    assert not RuleSetVersion.objects.filter(kind=KIND_ALERTS, version=2).exists()


def test_import_of_a_yaml_syntax_error_names_its_line_and_no_empty_detail(tmp_path):
    bad = tmp_path / "alert_rules.yml"
    bad.write_text("rules:\n  - code: 1100\n    name: [unclosed\n")

    with pytest.raises(CommandError) as raised:
        _rules("import", str(bad), "--kind", "alerts")

    assert "\n  line: 4" in str(raised.value)
    assert "None" not in str(raised.value)


def test_import_of_a_missing_file_or_into_an_unknown_kind_is_refused(lower_file, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        _rules("import", str(tmp_path / "none.yml"), "--kind", "alerts")
    with pytest.raises(CommandError, match="no 'fraud' rules"):
        _rules("import", str(lower_file), "--kind", "fraud")


def test_export_prints_the_active_source_or_the_version_named(lower_file):
    _rules("import", str(lower_file), "--kind", "alerts")

    assert _rules("export", "--kind", "alerts")[0] == settings.ALERT_RULES_PATH.read_text()
    assert _rules("export", "--kind", "alerts", "--version", "2")[0] == LOWER_THRESHOLD
    with pytest.raises(CommandError, match="no version 9"):
        _rules("export", "--kind", "alerts", "--version", "9")


def test_activate_makes_a_version_active_and_activating_the_old_one_rolls_back(lower_file):
    _rules("import", str(lower_file), "--kind", "alerts")

    assert _rules("activate", "--kind", "alerts", "--version", "2")[0] == (
        "alerts version 2: active\n"
    )
    assert rule_set_active(KIND_ALERTS).version == 2
    _rules("activate", "--kind", "alerts", "--version", "1")
    assert rule_set_active(KIND_ALERTS).version == 1


def test_backtest_runs_in_the_foreground_with_progress_and_prints_the_table(
    lower_file, fake_replay
):
    _rules("import", str(lower_file), "--kind", "alerts")

    out, err = _rules(
        "backtest", "--kind", "alerts", "--version", "2",
        "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z",
    )  # fmt: skip

    assert "v2 against v1, 2026-11-01T00:00:00Z to 2026-11-02T00:00:00Z" in err
    assert out.splitlines()[:4] == [
        "2 events replayed",
        "",
        "rule  active  candidate  added  removed  users",
        "1100       0          1      1        0      1",
    ]
    backtest = RuleSetBacktest.objects.get()
    assert backtest.status == "done"
    assert out.splitlines()[-1] == f"1 samples: GET /api/v1/rules/backtests/{backtest.pk}"


def test_backtest_of_a_window_without_events_says_so_plainly(lower_file):
    """Before: `0 of 0 events (...)` on stderr, then `0 events replayed`."""
    _rules("import", str(lower_file), "--kind", "alerts")

    out, err = _rules(
        "backtest", "--kind", "alerts", "--version", "2",
        "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z",
    )  # fmt: skip

    assert "0 of 0" not in err and "(...)" not in err
    assert out.splitlines()[0] == "The window holds no events: nothing was replayed."
    assert RuleSetBacktest.objects.get().status == "done"


def test_backtest_logs_nothing_of_its_start_and_end_between_its_own_lines(
    lower_file, fake_replay, caplog
):
    """The worker's info lines (JSON in production) would interleave with the progress."""
    _rules("import", str(lower_file), "--kind", "alerts")

    with caplog.at_level(logging.INFO):
        _rules("backtest", "--kind", "alerts", "--version", "2")

    assert [record.msg for record in caplog.records if record.name.startswith("rule_sets")] == []
    assert RuleSetBacktest.objects.get().status == "done"


def test_backtest_that_fails_is_a_command_error_with_the_reason(lower_file, fake_replay):
    fake_replay.error = RuntimeError("history unreadable")
    _rules("import", str(lower_file), "--kind", "alerts")

    with pytest.raises(CommandError, match="RuntimeError: history unreadable"):
        _rules("backtest", "--kind", "alerts", "--version", "2")


def test_backtest_with_a_bad_window_is_refused(lower_file):
    _rules("import", str(lower_file), "--kind", "alerts")

    with pytest.raises(CommandError, match="must be before"):
        _rules(
            "backtest", "--kind", "alerts", "--version", "2",
            "--from", "2026-11-02T00:00:00Z", "--to", "2026-11-01T00:00:00Z",
        )  # fmt: skip
    with pytest.raises(CommandError, match="timezone"):
        _rules("backtest", "--kind", "alerts", "--version", "2", "--from", "2026-11-02T00:00")


@pytest.mark.parametrize("moment", ["2026-12-01", "0001-01-01T00:00:00Z"])
def test_a_backtest_time_it_cannot_read_is_one_line_naming_the_option(moment):
    """The refusal was raised inside argparse's conversion, outside Django's handling of
    CommandError: a 40-line traceback, exit 1."""
    done = manage_run("rules", "backtest", "--kind", "alerts", "--version", "2", "--from", moment)

    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("manage.py rules backtest: error: argument --from: ")
    assert "timezone" in last or "Must be between" in last
