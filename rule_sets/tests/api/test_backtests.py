"""Backtests through the API: 202 with the running row, the window checked, a worker's result
read back, a failure's reason, never a backtest stuck `running`."""

from datetime import UTC, datetime, timedelta

import pytest

from rule_sets.backtests import rule_set_backtest_run, rule_set_backtests_run_pending
from rule_sets.models import RuleSetBacktest
from rule_sets.tests.conftest import LOWER_THRESHOLD

pytestmark = pytest.mark.django_db

VERSIONS = "/api/v1/rules/alerts/versions"
WEEK = {"from": "2026-11-01T00:00:00Z", "to": "2026-11-08T00:00:00Z"}


@pytest.fixture
def candidate(rules_client):
    response = rules_client.post(VERSIONS, {"source": LOWER_THRESHOLD}, format="json")
    assert response.status_code == 201
    return response.json()["version"]


def _backtest(client, body=WEEK, version=2):
    return client.post(f"{VERSIONS}/{version}/backtests", body, format="json")


def test_a_backtest_is_202_running_against_the_active_version(rules_client, candidate):
    response = _backtest(rules_client)

    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["progress"], body["result"]) == ("running", 0.0, None)
    # No worker has taken it yet: with none running it would say so until one does.
    assert body["started"] is False
    assert (body["candidate"], body["baseline"], body["kind"]) == (2, 1, "alerts")
    assert (body["from"], body["to"]) == (WEEK["from"], WEEK["to"])
    assert response["Location"] == f"/api/v1/rules/backtests/{body['id']}"
    assert rules_client.get(response["Location"]).json() == body


def test_a_backtest_asks_a_worker_to_run_it_once_committed(
    rules_client, candidate, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        "rule_sets.tasks.task_send", lambda task, args: sent.append((task.name, args))
    )
    with django_capture_on_commit_callbacks(execute=True):
        body = _backtest(rules_client).json()

    assert sent == [("rule_sets.backtest_run", (body["id"],))]


def test_a_backtest_without_a_window_replays_the_last_seven_days(rules_client, candidate):
    body = _backtest(rules_client, body={}).json()

    start = datetime.fromisoformat(body["from"])
    end = datetime.fromisoformat(body["to"])
    assert end - start == timedelta(days=7)
    assert abs(datetime.now(UTC) - end) < timedelta(minutes=1)


@pytest.mark.parametrize(
    "window, field",
    [
        ({"from": "2026-11-08T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, None),
        ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, None),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}, None),
        ({"from": "2026-11-01T00:00:00"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-11-01T00:00:00Z", "until": "2026-11-02T00:00:00Z"}, "until"),
    ],
)
def test_a_bad_window_is_400_and_stores_nothing(rules_client, candidate, window, field):
    response = _backtest(rules_client, body=window)

    assert response.status_code == 400
    body = response.json()
    if field is None:
        assert body["error"] == "invalid_backtest_window"
    else:
        assert (body["error"], list(body["details"])) == ("invalid_payload", [field])
    assert not RuleSetBacktest.objects.exists()


def test_a_backtest_of_an_unknown_version_is_404(rules_client):
    response = _backtest(rules_client, version=9)

    assert (response.status_code, response.json()["error"]) == (404, "rule_set_version_not_found")


def test_an_unknown_backtest_is_404(rules_client):
    response = rules_client.get("/api/v1/rules/backtests/0b6f7a4e-3d1c-4b1e-9a55-1c2d3e4f5a6b")

    assert (response.status_code, response.json()["error"]) == (404, "backtest_not_found")


def test_a_run_backtest_answers_its_result_per_rule_and_its_samples(
    rules_client, candidate, fake_replay
):
    backtest_id = _backtest(rules_client).json()["id"]

    rule_set_backtest_run(backtest_id)

    body = rules_client.get(f"/api/v1/rules/backtests/{backtest_id}").json()
    assert body["started"] is True
    assert (body["status"], body["progress"], body["events"], body["error"]) == (
        "done",
        1.0,
        2,
        "",
    )
    assert body["result"]["rules"] == [
        {"rule": "1100", "active": 0, "candidate": 1, "added": 1, "removed": 0, "users": 1}
    ]
    assert body["result"]["samples"][0]["why"] == "amount 75 is greater than 50"
    assert body["finished_at"] is not None
    [call] = fake_replay.calls
    assert call["active"].rules[0].condition.value == 100
    assert call["candidate"].rules[0].condition.value == 50
    assert (call["start"], call["end"]) == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 8, tzinfo=UTC),
    )


def test_a_replay_that_raises_fails_the_backtest_with_the_reason(
    rules_client, candidate, fake_replay
):
    fake_replay.error = RuntimeError("history unreadable")
    backtest_id = _backtest(rules_client).json()["id"]

    rule_set_backtests_run_pending()

    body = rules_client.get(f"/api/v1/rules/backtests/{backtest_id}").json()
    assert body["status"] == "failed"
    assert body["error"] == "The replay failed: RuntimeError: history unreadable"
    assert body["result"] is None


def test_a_kind_without_a_replay_fails_the_backtest_saying_so(rules_client, candidate, no_replay):
    backtest_id = _backtest(rules_client).json()["id"]

    rule_set_backtests_run_pending()

    body = rules_client.get(f"/api/v1/rules/backtests/{backtest_id}").json()
    assert body["status"] == "failed"
    assert "no backtest yet" in body["error"]


def test_a_backtest_id_that_is_not_a_uuid_is_404(rules_client):
    response = rules_client.get("/api/v1/rules/backtests/not-a-uuid")

    assert (response.status_code, response.json()["error"]) == (404, "backtest_not_found")


@pytest.mark.parametrize(
    "path",
    [f"{VERSIONS}/2/backtests", VERSIONS, f"{VERSIONS}/2/activate"],
    ids=["backtest", "version", "activation"],
)
def test_a_query_parameter_sent_to_a_post_is_400_naming_it_and_nothing_is_done(
    rules_client, candidate, path
):
    """`backtests?from=...` with an empty body ran the default window: the `from` was ignored."""
    body = {"source": LOWER_THRESHOLD + "# another\n"} if path == VERSIONS else {}

    response = rules_client.post(f"{path}?from=2026-12-01T00:00:00Z", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_query"
    assert list(response.json()["details"]) == ["from"]
    assert not RuleSetBacktest.objects.exists()
    assert rules_client.get("/api/v1/rules/alerts/active").json()["version"] == 1
    assert rules_client.get(f"{VERSIONS}/3").status_code == 404
