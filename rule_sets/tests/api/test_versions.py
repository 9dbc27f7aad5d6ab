"""The rule versions' API: candidates stored as drafts, the change log with diffs, activation
and rollback, bad YAML answered 400 naming the rule, the field and the line."""

import pytest
from django.conf import settings

from rule_sets.active import rule_set_active
from rule_sets.models import KIND_ALERTS, RuleSetVersion
from rule_sets.tests.conftest import LOWER_THRESHOLD
from rules.tests.test_parser import aliased_rules, rules_text

pytestmark = pytest.mark.django_db

VERSIONS = "/api/v1/rules/alerts/versions"


def _create(client, source=LOWER_THRESHOLD, note="withdrawals over 50"):
    return client.post(VERSIONS, {"source": source, "note": note}, format="json")


def test_a_candidate_is_created_as_the_next_version_a_draft(rules_client):
    response = _create(rules_client)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["kind"], body["version"], body["status"]) == ("alerts", 2, "draft")
    assert (body["note"], body["created_by"], body["activated_at"]) == (
        "withdrawals over 50",
        "risk-team",
        None,
    )
    assert RuleSetVersion.objects.get(kind=KIND_ALERTS, version=2).source == LOWER_THRESHOLD
    assert rule_set_active(KIND_ALERTS).version == 1


def test_a_source_a_version_already_has_is_200_with_that_version_and_nothing_is_stored(
    rules_client,
):
    first = _create(rules_client)

    again = _create(rules_client, note="the same file pushed again")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert RuleSetVersion.objects.filter(kind=KIND_ALERTS).count() == 2
    active = _create(rules_client, source=settings.ALERT_RULES_PATH.read_text())
    assert active.status_code == 200
    assert (active.json()["version"], active.json()["status"]) == (1, "active")


def test_a_rule_with_a_bad_field_is_400_naming_the_rule_field_and_nothing_is_stored(rules_client):
    source = LOWER_THRESHOLD.replace("count: 3\n", "count: three\n", 1)

    response = _create(rules_client, source=source)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_rules"
    assert body["details"]["rule"] == "rules[1] (code 30)"
    assert body["details"]["field"] == "condition.count"
    assert body["details"]["line"] == 22  # of `count: three`
    assert "code 30" in body["message"]
    assert not RuleSetVersion.objects.filter(kind=KIND_ALERTS, version=2).exists()


def test_a_yaml_syntax_error_is_400_naming_its_line(rules_client):
    response = _create(rules_client, source="rules:\n  - code: 1100\n    name: [unclosed\n")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_rules"
    assert response.json()["details"]["line"] == 4


def test_rules_that_aliases_expand_to_100_000_conditions_are_400_and_nothing_is_stored(
    rules_client,
):
    """A few hundred characters of YAML aliases stood for 100,000 conditions, stored as a draft
    after seconds of a web worker's time (and walked again by every backtest and activation)."""
    response = _create(rules_client, source=aliased_rules(levels=5))

    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["details"]["rule"]) == ("invalid_rules", None)
    assert "once its aliases are expanded" in body["message"]
    assert not RuleSetVersion.objects.filter(kind=KIND_ALERTS, version=2).exists()


def test_rules_with_an_alias_inside_its_own_value_are_400_naming_the_anchors_line(
    rules_client,
):
    """Its parse never ended: a RecursionError, answered 500."""
    response = _create(rules_client, source=rules_text("&loop {all: [*loop]}"))

    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["details"]["line"]) == ("invalid_rules", 6)
    assert "holds an alias of itself" in body["message"]


def test_rules_that_write_a_key_twice_are_400_naming_its_line_and_nothing_is_stored(
    rules_client,
):
    """YAML kept the last of the two silently: a threshold written twice was stored (201)."""
    source = LOWER_THRESHOLD.replace("count: 3\n", "count: 3\n      count: 4\n", 1)

    response = _create(rules_client, source=source)

    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["details"]["line"]) == ("invalid_rules", 23)
    assert "the key 'count' at line 23 repeats the one at line 22" in body["message"]
    assert not RuleSetVersion.objects.filter(kind=KIND_ALERTS, version=2).exists()


def test_a_version_stored_with_a_key_written_twice_still_activates(rules_client):
    """Versions stored before keys were checked stay usable: a rollback must not be refused."""
    source = LOWER_THRESHOLD.replace("count: 3\n", "count: 3\n      count: 4\n", 1)
    RuleSetVersion.objects.create(
        kind=KIND_ALERTS, version=2, source=source, sha256="0" * 64, created_by="before"
    )

    response = rules_client.post(f"{VERSIONS}/2/activate")

    assert (response.status_code, response.json()["status"]) == (200, "active")
    assert rule_set_active(KIND_ALERTS).rules.rules[1].condition.count == 4


@pytest.mark.parametrize(
    "source",
    ["rules: " + "[" * 500 + "]" * 500, rules_text("{all: [" * 300 + "{}" + "]}" * 300)],
    ids=["lists", "conditions"],
)
def test_rules_nested_too_deep_are_400_naming_the_line(rules_client, source):
    """Composing them ran out of stack: a 500 and thousands of lines of traceback."""
    response = _create(rules_client, source=source)

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_rules"
    assert "nests more than 64 levels deep" in body["message"]
    assert body["details"]["line"] in (1, 6)


@pytest.mark.parametrize(
    ("field", "value"), [("code: 30", "code: 2147483648"), ("count: 3", "count: 99999999999")]
)
def test_an_integer_too_large_to_store_is_400_naming_the_field(rules_client, field, value):
    """A code of 2**31 was stored and activated, then every event its rule raised was a 500."""
    response = _create(rules_client, source=LOWER_THRESHOLD.replace(field, value, 1))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_rules"
    assert "must be at most 2147483647" in response.json()["message"]


def test_a_body_without_source_or_with_unknown_fields_is_invalid_payload(rules_client):
    response = rules_client.post(VERSIONS, {"yaml": "rules: []"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_payload"
    assert set(body["details"]) == {"source", "yaml"}


def test_an_unknown_kind_is_404_in_the_error_shape(rules_client):
    for response in [
        rules_client.get("/api/v1/rules/fraud/versions"),
        rules_client.post("/api/v1/rules/fraud/versions", {"source": "x"}, format="json"),
        rules_client.get("/api/v1/rules/fraud/active"),
        rules_client.get("/api/v1/rules/fraud/versions/1"),
        rules_client.post("/api/v1/rules/fraud/versions/1/activate"),
        rules_client.post("/api/v1/rules/fraud/versions/1/backtests", {}, format="json"),
    ]:
        assert response.status_code == 404
        assert response.json()["error"] == "unknown_rule_set_kind"
        assert response.json()["details"]["kinds"] == ["alerts", "notifications"]


def test_an_unknown_version_is_404_naming_the_kind_and_version_read_or_activated(rules_client):
    for path in [f"{VERSIONS}/7", f"{VERSIONS}/99999999999999999999"]:
        response = rules_client.get(path)

        assert response.status_code == 404
        assert response.json()["error"] == "rule_set_version_not_found"
    read = rules_client.get(f"{VERSIONS}/7").json()
    response = rules_client.post(f"{VERSIONS}/7/activate")
    assert response.status_code == 404
    assert response.json() == read
    assert read["details"] == {"kind": "alerts", "version": 7}


def test_a_version_is_read_with_its_source_and_its_diff_from_the_active_one(rules_client):
    _create(rules_client)

    body = rules_client.get(f"{VERSIONS}/2").json()

    assert body["source"] == LOWER_THRESHOLD
    assert body["diff"].startswith("--- alerts v1\n+++ alerts v2\n")
    assert "-      value: 100\n+      value: 50\n" in body["diff"]
    assert rules_client.get(f"{VERSIONS}/1").json()["diff"] == ""


def test_the_active_version_is_read_with_its_source(rules_client):
    body = rules_client.get("/api/v1/rules/notifications/active").json()

    assert (body["kind"], body["version"], body["status"]) == ("notifications", 1, "active")
    assert "rules:" in body["source"]


def test_activating_a_draft_makes_it_active_and_retires_the_previous(rules_client):
    _create(rules_client)

    response = rules_client.post(f"{VERSIONS}/2/activate")

    assert response.status_code == 200
    assert (response.json()["version"], response.json()["status"]) == (2, "active")
    assert response.json()["activated_at"] is not None
    assert rules_client.get("/api/v1/rules/alerts/active").json()["version"] == 2
    assert rules_client.get(f"{VERSIONS}/1").json()["status"] == "retired"
    assert rule_set_active(KIND_ALERTS).rules.rules[0].condition.value == 50


def test_activating_the_retired_version_rolls_back(rules_client):
    _create(rules_client)
    rules_client.post(f"{VERSIONS}/2/activate")

    response = rules_client.post(f"{VERSIONS}/1/activate")

    assert (response.status_code, response.json()["status"]) == (200, "active")
    assert rule_set_active(KIND_ALERTS).version == 1
    assert rule_set_active(KIND_ALERTS).rules.rules[0].condition.value == 100
    assert rules_client.get(f"{VERSIONS}/2").json()["status"] == "retired"


def test_the_change_log_names_who_created_and_activated_each_version_with_the_diff(
    rules_client, unscoped_client
):
    _create(rules_client)
    rules_client.post(f"{VERSIONS}/2/activate")
    rules_client.post(f"{VERSIONS}/1/activate")

    body = rules_client.get(VERSIONS).json()

    assert body["kind"] == "alerts"
    assert [v["version"] for v in body["versions"]] == [2, 1]
    candidate, first = body["versions"]
    assert (candidate["created_by"], candidate["status"]) == ("risk-team", "retired")
    [activated] = candidate["activations"]
    assert (activated["activated_by"], activated["replaced"]) == ("risk-team", 1)
    assert "+      value: 50\n" in activated["diff"]
    rollback, imported = first["activations"]
    assert (rollback["replaced"], first["status"]) == (2, "active")
    assert "-      value: 50\n+      value: 100\n" in rollback["diff"]
    assert rollback["activated_at"] >= activated["activated_at"]
    assert imported["replaced"] is None
    assert imported["diff"].startswith("--- (none)\n+++ alerts v1\n")


def test_the_change_log_is_paged_newest_first_by_following_next(rules_client):
    for threshold in (40, 30, 20, 10):  # versions 2 to 5
        _create(
            rules_client, source=LOWER_THRESHOLD.replace("value: 50\n", f"value: {threshold}\n")
        )
    rules_client.post(f"{VERSIONS}/3/activate")

    first = rules_client.get(VERSIONS, {"page_size": 2}).json()
    second = rules_client.get(first["next"]).json()
    third = rules_client.get(second["next"]).json()

    assert [[v["version"] for v in page["versions"]] for page in (first, second, third)] == [
        [5, 4],
        [3, 2],
        [1],
    ]
    assert third["next"] is None
    [activated] = second["versions"][0]["activations"]
    assert activated["replaced"] == 1  # a version on another page
    assert activated["diff"].startswith("--- alerts v1\n+++ alerts v3\n")
    assert rules_client.get(VERSIONS).json()["next"] is None  # 100 a page by default


def test_a_bad_page_size_or_cursor_of_the_change_log_is_invalid_query(rules_client):
    for query in ({"page_size": 0}, {"page_size": 1001}, {"cursor": "x"}, {"cursor": 0}):
        response = rules_client.get(VERSIONS, query)

        assert response.status_code == 400, query
        assert response.json()["error"] == "invalid_query"
        assert list(response.json()["details"]) == list(query)


@pytest.mark.parametrize("cursor", ["x", "0", "-3"])
def test_a_cursor_the_change_log_did_not_make_is_named_as_the_other_lists_name_one(
    rules_client, cursor
):
    response = rules_client.get(VERSIONS, {"cursor": cursor})

    assert response.json()["details"] == {"cursor": ["Invalid cursor."]}
