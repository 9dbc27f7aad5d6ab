"""Loading the configuration: cross-checks, errors naming the file, and the cached default."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from notifications.config import (
    NotificationConfigError,
    notification_config_default,
    notification_config_load,
)
from notifications.models import Notification
from rule_sets.active import rule_set_active
from rule_sets.exceptions import InvalidRules
from rules.notification_parser import MAX_NAME_LENGTH
from rule_sets.services import rule_set_version_activate, rule_set_version_get_or_create
from rule_sets.models import KIND_NOTIFICATIONS

RULES = """
rules:
  - notification_type: PING
    event_type: signup_completed
    event_conditions: []
"""
TEMPLATES = """
notifications:
  - {type: PING, channel: sms, private: false, text: "Hi {{ first_name }}"}
"""


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    rules, templates = tmp_path / "rules.yml", tmp_path / "templates.yaml"
    rules.write_text(RULES)
    templates.write_text(TEMPLATES)
    return rules, templates


def load_error(rules: Path, templates: Path) -> str:
    with pytest.raises(NotificationConfigError) as error:
        notification_config_load(rules_path=rules, templates_path=templates)
    return str(error.value)


def test_a_valid_pair_of_files_loads(files):
    config = notification_config_load(rules_path=files[0], templates_path=files[1])

    assert [rule.name for rule in config.rules_for("signup_completed")] == ["PING"]
    assert config.templates["PING"].channel == "sms"


def test_a_rule_without_a_template_names_the_rules_file_the_rule_and_the_field(files):
    rules, templates = files
    rules.write_text(RULES.replace("PING", "PONG"))

    assert load_error(rules, templates) == (
        f"{rules}: rules[0] (PONG).notification_type: no template of type 'PONG' in {templates}"
    )


def test_a_bad_rules_file_names_the_file_first(files):
    rules, templates = files
    rules.write_text(RULES.replace("event_conditions: []", "event_conditions: [{nope: 1}]"))

    assert load_error(rules, templates).startswith(
        f"{rules}: rules[0] (PING).event_conditions[0].nope: unknown key"
    )


def test_a_bad_templates_file_names_the_file_first(files):
    rules, templates = files
    templates.write_text(TEMPLATES.replace("sms", "pidgeon"))

    assert load_error(rules, templates) == (
        f"{templates}: notifications[0] (PING).channel: must be one of: email, sms; "
        "got 'pidgeon'"
    )


def test_a_missing_file_names_the_file(files, tmp_path):
    absent = tmp_path / "absent.yml"

    assert load_error(absent, files[1]).startswith(f"{absent}: cannot read the file")


def test_a_proximity_filter_the_store_cannot_query_is_rejected_at_load(files):
    rules, templates = files
    rules.write_text(
        RULES.replace(
            "event_conditions: []",
            """event_conditions:
      - event_proximity:
          event_type: payment_failed
          time_proximity: 1h
          event_conditions:
            - property_match: {property_xpath: properties.attempt, operator: GT, value: 2}""",
        )
    )

    assert load_error(rules, templates) == (
        f"{rules}: rules[0] (PING).event_conditions: GT on 'properties.attempt': only EQ, IN "
        "and NIN match other events"
    )


def test_a_rule_language_condition_the_store_cannot_answer_names_condition(files):
    rules, templates = files
    rules.write_text(
        RULES.replace(
            "event_conditions: []",
            """condition:
      type: window_aggregate
      function: sum
      path: properties.points
      window: {before_seconds: 60}
      op: gt
      value: 5""",
        )
    )

    assert load_error(rules, templates) == (
        f"{rules}: rules[0] (PING).condition: sum is only supported over amount"
    )


def test_the_default_configuration_is_the_shipped_files_loaded_once():
    config = notification_config_default()

    assert config is notification_config_default()
    assert settings.NOTIFICATION_RULES_PATH == settings.BASE_DIR / "config/notification_rules.yml"
    assert [rule.name for rule in config.rules_for("signup_completed")] == ["WELCOME_EMAIL"]


def test_the_active_version_is_compiled_against_the_templates_in_settings(
    files, settings, active_rules
):
    settings.NOTIFICATION_TEMPLATES_PATH = files[1]
    version = active_rules(KIND_NOTIFICATIONS, RULES)

    active = rule_set_active(KIND_NOTIFICATIONS)

    assert active.version == version
    assert [rule.name for rule in active.rules.rules] == ["PING"]


def test_the_system_check_reports_a_bad_file_naming_file_rule_and_field(files, settings):
    rules, templates = files
    rules.write_text(RULES.replace("PING", "PONG"))
    settings.NOTIFICATION_RULES_PATH, settings.NOTIFICATION_TEMPLATES_PATH = files

    errors = [error for error in checks.run_checks() if error.id.startswith("notifications")]

    assert [error.id for error in errors] == ["notifications.E001"]
    assert f"{rules}: rules[0] (PONG).notification_type" in errors[0].msg


@pytest.fixture
def templates_edited(tmp_path, settings, active_rules) -> int:
    """The active version sends PING, stored while the templates had it; the templates file
    in settings has since lost it (the default rules file sends PONG, which it still has)."""
    before, after = tmp_path / "before.yaml", tmp_path / "after.yaml"
    pong = '  - {type: PONG, channel: sms, private: false, text: "Hi"}\n'
    before.write_text(TEMPLATES + pong)
    after.write_text("notifications:\n" + pong)
    default_rules = tmp_path / "default_rules.yml"
    default_rules.write_text(RULES.replace("PING", "PONG"))
    settings.NOTIFICATION_RULES_PATH, settings.NOTIFICATION_TEMPLATES_PATH = default_rules, before
    version = active_rules(KIND_NOTIFICATIONS, RULES)
    settings.NOTIFICATION_TEMPLATES_PATH = after
    return version


def test_the_start_up_check_reports_an_active_version_the_templates_no_longer_cover(
    templates_edited,
):
    errors = checks.run_checks(databases=["default"])

    [error] = [error for error in errors if error.id.startswith("notifications")]
    assert error.id == "notifications.E004"
    assert error.msg == (
        f"The active notification rules (version {templates_edited}) do not compile against "
        "the templates: rules[0] (PING).notification_type: no template of type 'PING' in "
        "after.yaml"
    )


def test_activating_a_version_the_templates_no_longer_cover_is_refused_naming_the_rule(
    templates_edited,
):
    pong, _ = rule_set_version_get_or_create(
        kind=KIND_NOTIFICATIONS, source=RULES.replace("PING", "PONG"), created_by="tests"
    )
    rule_set_version_activate(kind=KIND_NOTIFICATIONS, version=pong.version, activated_by="t")

    with pytest.raises(InvalidRules) as refused:
        rule_set_version_activate(
            kind=KIND_NOTIFICATIONS, version=templates_edited, activated_by="tests"
        )

    assert refused.value.details["rule"] == "rules[0] (PING)"
    assert "no template of type 'PING' in after.yaml" in refused.value.message
    assert rule_set_active(KIND_NOTIFICATIONS).version == pong.version


def test_manage_py_check_fails_on_a_bad_file(files, settings):
    rules, templates = files
    templates.write_text(TEMPLATES.replace("sms", "pidgeon"))
    settings.NOTIFICATION_RULES_PATH, settings.NOTIFICATION_TEMPLATES_PATH = files

    with pytest.raises(SystemCheckError, match=r"notifications\[0\] \(PING\)\.channel"):
        call_command("check")


def run(args: list[str], files: tuple[Path, Path], **extra: str) -> subprocess.CompletedProcess:
    """Run `args` from the checkout with the rules and templates `files` in the environment."""
    env = {
        **os.environ,
        "NOTIFICATION_RULES_PATH": str(files[0]),
        "NOTIFICATION_TEMPLATES_PATH": str(files[1]),
        **extra,
    }
    return subprocess.run(
        args, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_manage_py_check_exits_non_zero_naming_file_rule_and_field(files):
    rules, _ = files
    rules.write_text(RULES.replace("event_type: signup_completed", "event_type: ''"))

    result = run([sys.executable, "manage.py", "check"], files)

    assert result.returncode == 1
    assert f"{rules}: rules[0] (PING).event_type: must be a non-empty string" in result.stderr


def test_manage_py_check_passes_with_the_seed_files():
    from notifications.tests.seed import seed_dir

    seed = (seed_dir() / "notification_rules.yml", seed_dir() / "notifications.yaml")

    result = run([sys.executable, "manage.py", "check"], seed)

    assert result.returncode == 0, result.stderr


def test_the_web_server_does_not_start_with_a_bad_file(files):
    rules, _ = files
    rules.write_text(RULES.replace("event_conditions: []", "delay_seconds: soon"))

    result = run([sys.executable, "-c", "import midnite_test.wsgi"], files)

    assert result.returncode != 0
    assert f"{rules}: rules[0] (PING).delay_seconds: must be an integer" in result.stderr


def test_the_worker_does_not_start_with_a_bad_file(files):
    rules, _ = files
    rules.write_text(RULES.replace("PING", "PONG"))
    worker = [sys.executable, "-m", "celery", "-A", "midnite_test", "worker", "--pool", "solo"]

    result = run(worker, files)

    assert result.returncode == 1
    assert f"{rules}: rules[0] (PONG).notification_type" in result.stderr


def test_the_embedded_worker_does_not_start_with_a_bad_file(files, tmp_path):
    rules, _ = files
    rules.write_text(RULES.replace("PING", "PONG"))
    worker = [sys.executable, "manage.py", "run_embedded_worker"]

    result = run(worker, files, CELERY_BROKER_URL="", VAR_DIR=str(tmp_path))

    assert result.returncode == 1
    assert f"{rules}: rules[0] (PONG).notification_type" in result.stderr


def test_the_worker_does_not_start_with_an_active_version_the_templates_no_longer_cover(
    live_database_url, templates_edited, settings
):
    # The database first: its flush at the end imports the default files again (post_migrate),
    # which must be those of the settings restored by then.
    files = (settings.NOTIFICATION_RULES_PATH, settings.NOTIFICATION_TEMPLATES_PATH)
    worker = [sys.executable, "-m", "celery", "-A", "midnite_test", "worker", "--pool", "solo"]

    result = run(worker, files, DATABASE_URL=live_database_url)

    assert result.returncode == 1
    assert "(notifications.E004)" in result.stderr
    assert "rules[0] (PING).notification_type: no template of type 'PING'" in result.stderr
    # A hint that can be followed: `rules activate` runs the failing checks first.
    assert "manage.py rules --skip-checks activate --kind notifications" in result.stderr


def test_the_rule_parser_bounds_names_by_the_decisions_columns():
    for field in ("rule", "notification_type"):
        assert Notification._meta.get_field(field).max_length == MAX_NAME_LENGTH
