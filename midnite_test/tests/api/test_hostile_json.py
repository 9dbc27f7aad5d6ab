"""Hostile JSON on every way in: never a 5xx, never a partial write.

Hypothesis writes bodies as JSON text, so that they can hold what Python's json would not
write: numbers of hundreds of digits, exponents, NaN, deep nesting, repeated keys, control
characters, times out of any range. Each body starts from a valid request and has fields
replaced or added, so the hostile part reaches the code behind the parser. The requests go
through the WSGI application as served, POST /event's fast path in front of Django, and each
example counts the rows before and after: a refused request stores nothing; a batch stores
exactly the items its answer accepts, each under its own id.

Derandomized, with a modest number of examples per way in: the same cases on every run.
"""

import base64
import itertools
import json
from urllib.parse import urlencode

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alerts.fast_path import transaction_fast_path
from alerts.tests.wsgi_client import wsgi_call
from events.models import Event
from outbox.models import OutboxMessage
from users.models import User

EXAMPLES = 60
HOSTILE = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_ids = itertools.count()

# Times: in range, at and past both ends, year 1 and 9999 with offsets, not times at all.
TIMES = st.one_of(
    st.sampled_from(
        [
            "2024-01-15T10:30:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "1899-12-31T23:59:59.999999Z",
            "1900-01-01T00:00:00Z",
            "2299-12-31T23:59:59.999999Z",
            "2300-01-01T00:00:00Z",
            "2024-01-15T10:30:00",
            "2024-02-30T00:00:00Z",
            "2024-01-15T10:30:00+23:59",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat()),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=1, max_value=600).map(lambda digits: "9" * digits),
    st.integers(min_value=1, max_value=600).map(lambda zeros: "0." + "0" * zeros + "1"),
    st.integers(min_value=1, max_value=600).map(lambda digits: "1" + "0" * digits + ".5"),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.sampled_from(["1e999", "-1E-999", "NaN", "Infinity", "-Infinity", "1.0", "-0", "0.01"]),
)
TEXTS = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(categories=["Cc", "Cs", "Zl", "Zs"]), max_size=5),
    st.sampled_from(["", " ", "txn:1:2", "a" * 129, "\x00", "a\nb", "\u2028", "\x85"]),
)
# Values the parser refuses whole: NaN, exponents, nesting past 64 levels, a repeated key.
UNPARSEABLE = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1E-999", '{"a":1,"a":2}']),
    st.integers(min_value=65, max_value=3000).map(lambda depth: "[" * depth + "]" * depth),
)
SCALARS = st.one_of(
    st.sampled_from(["null", "true", "false"]),
    NUMBERS,
    TEXTS.map(json.dumps),
    TIMES.map(json.dumps),
)


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in pairs) + "}"


def _nested(depth: int, leaf: str) -> str:
    return '{"a":' * depth + leaf + "}" * depth


# JSON text the parser accepts: scalars, arrays and objects, nested a little or up to 40 deep.
VALUES = st.one_of(
    st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
            st.lists(
                st.tuples(st.text(max_size=5), inner), max_size=3, unique_by=lambda p: p[0]
            ).map(_object),
        ),
        max_leaves=6,
    ),
    st.builds(_nested, st.integers(min_value=1, max_value=40), SCALARS),
)
OBJECTS = st.one_of(
    st.builds(_nested, st.integers(min_value=1, max_value=40), SCALARS),
    st.lists(st.tuples(st.text(max_size=5), VALUES), max_size=3, unique_by=lambda p: p[0]).map(
        _object
    ),
    VALUES,
)
# What each kind of field is given instead of a valid value.
TIME_VALUES = st.one_of(TIMES.map(json.dumps), VALUES)
TEXT_VALUES = st.one_of(TEXTS.map(json.dumps), VALUES)
NUMBER_VALUES = st.one_of(NUMBERS, TEXTS.map(json.dumps), VALUES)


def _hostile(valid: dict, fields: dict, unparseable: bool = True):
    """Bodies of `valid`'s fields, one or two replaced by a value of `fields[name]`, or
    dropped, or a key added; with `unparseable`, now and then a value the parser refuses."""
    kinds = {**fields, "extra": VALUES}
    change = st.sampled_from(sorted(kinds)).flatmap(
        lambda name: st.tuples(st.just(name), kinds[name] | st.just(None))
    )
    if unparseable:
        change = change | st.tuples(st.sampled_from(sorted(kinds)), UNPARSEABLE)

    def body(changes: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
        changed = dict(changes)
        pairs = [(k, json.dumps(v)) for k, v in valid.items() if k not in changed]
        return pairs + [(k, v) for k, v in changed.items() if v is not None]

    return st.lists(change, min_size=1, max_size=2, unique_by=lambda c: c[0]).map(body)


def _event() -> dict:
    return {
        "event_id": f"h{next(_ids)}",
        "tenant_id": "tenant_1",
        "source": "web",
        "event_type": "click",
        "timestamp": "2024-01-15T10:30:00Z",
        "payload": {"page": "/pricing"},
        "user_id": 1,
        "amount": "12.50",
    }


def _product() -> dict:
    return {
        "event_id": f"h{next(_ids)}",
        "user_id": "u_1",
        "event_type": "signed_up",
        "event_timestamp": "2024-01-15T10:30:00Z",
        "properties": {"plan": "pro"},
        "user_traits": {"email": "ada@example.com"},
    }


EVENT_FIELDS = {
    "tenant_id": TEXT_VALUES,
    "source": TEXT_VALUES,
    "event_type": TEXT_VALUES,
    "timestamp": TIME_VALUES,
    "payload": OBJECTS,
    "user_id": NUMBER_VALUES,
    "amount": NUMBER_VALUES,
}
PRODUCT_FIELDS = {
    "user_id": TEXT_VALUES,
    "event_type": TEXT_VALUES,
    "event_timestamp": TIME_VALUES,
    "properties": OBJECTS,
    "user_traits": OBJECTS,
}


def _items(new: callable, fields: dict):
    """Batch items as JSON text: valid ones and hostile ones (parseable: one bad value must
    not turn the whole batch away), each under its own new, valid event id."""
    valid = st.builds(lambda: json.dumps(new()))
    template = {name: value for name, value in new().items() if name != "event_id"}
    hostile = st.builds(
        lambda pairs: _object([("event_id", json.dumps(f"h{next(_ids)}")), *pairs]),
        _hostile(template, fields, unparseable=False),
    )
    return st.lists(valid | hostile, min_size=1, max_size=4)


class Served:
    """The WSGI application as served: POST /event's fast path in front of Django."""

    def __init__(self, key: str) -> None:
        self.app = transaction_fast_path(WSGIHandler())
        self.key = key

    def __call__(self, method: str, path: str, body: str = "", query: str = ""):
        content = body.encode("utf-8", "surrogatepass")
        status, _, answer = wsgi_call(self.app, method, path, content, key=self.key, query=query)
        assert status < 500, (method, path, query, body[:500], answer[:500])
        return status, json.loads(answer)


@pytest.fixture
def served(settings, users, api_key):
    settings.API_THROTTLE_RATE = None
    # As Django's test client does: closing "old" connections would end the test transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield Served(api_key)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _rows() -> tuple[int, int, int]:
    return Event.objects.count(), User.objects.count(), OutboxMessage.objects.count()


def _new_ids(before: int) -> set[str]:
    return set(Event.objects.filter(pk__gt=before).values_list("event_id", flat=True))


def _last_pk() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _pairs(valid: dict, **raw: str) -> list[tuple[str, str]]:
    """`valid`'s fields as (name, JSON text), with `raw`'s values instead, written as given."""
    return [(name, raw.get(name, json.dumps(value))) for name, value in valid.items()]


def _text(valid: dict, **raw: str) -> str:
    return _object(_pairs(valid, **raw))


USER = {"email": "ada@example.com", "first_name": "Ada", "last_name": "L"}
# Cases that answered 500 before the input was bounded: run first, every time.
YEAR_1 = json.dumps("0001-01-01T00:00:00+01:00")
HUGE = "1" + "0" * 400 + ".5"


@HOSTILE
@given(pairs=_hostile(_event(), {"event_id": TEXT_VALUES, **EVENT_FIELDS}))
@example(pairs=_pairs(_event(), timestamp=YEAR_1))
@example(pairs=_pairs(_event(), payload=f'{{"n":{HUGE}}}'))
@example(pairs=_pairs(_event(), payload=_nested(700, "1")))
def test_post_events(served, pairs):
    before = _rows()

    status, _ = served("POST", "/events", _object(pairs))

    assert _rows()[0] - before[0] == (1 if status == 201 else 0)
    if status >= 400:
        assert _rows() == before


@HOSTILE
@given(items=_items(_event, EVENT_FIELDS), extra=st.one_of(st.none(), st.none(), st.none(), VALUES))
@example(items=[_text(_event()), _text(_event(), timestamp=YEAR_1)], extra=None)
@example(items=[_text(_event(), payload=f'{{"n":{HUGE}}}'), _text(_event())], extra=None)
def test_post_events_bulk(served, items, extra):
    before, last = _rows(), _last_pk()
    pairs = [("events", "[" + ",".join(items) + "]")] + ([("extra", extra)] if extra else [])

    status, answer = served("POST", "/events/bulk", _object(pairs))

    if status >= 400:
        assert _rows() == before
        return
    refused = {problem["index"] for problem in answer["rejected"] + answer["conflicts"]}
    expected = {json.loads(item)["event_id"] for n, item in enumerate(items) if n not in refused}
    assert _new_ids(last) == expected
    assert answer["accepted"] == len(expected)


@HOSTILE
@given(items=_items(_product, PRODUCT_FIELDS))
@example(items=[_text(_product()), _text(_product(), event_timestamp=YEAR_1)])
@example(items=[_text(_product(), properties=f'{{"n":{HUGE}}}'), _text(_product())])
def test_post_api_v1_events(served, items):
    before, last = _rows(), _last_pk()

    status, answer = served("POST", "/api/v1/events", "[" + ",".join(items) + "]")

    if status >= 400:
        assert _rows() == before
        return
    refused = {problem["index"] for problem in answer["rejected"]}
    expected = {json.loads(item)["event_id"] for n, item in enumerate(items) if n not in refused}
    assert _new_ids(last) == expected
    assert answer["accepted"] == len(expected)


@HOSTILE
@given(
    pairs=_hostile(
        {"type": "deposit", "amount": "1.00", "user_id": 1},
        {
            "type": TEXT_VALUES,
            "amount": NUMBER_VALUES,
            "user_id": NUMBER_VALUES,
            "t": NUMBER_VALUES,
        },
    )
)
def test_post_event(served, pairs):
    before = _rows()
    # Each example's own, increasing time, unless Hypothesis replaced `t`.
    pairs = [("t", str(next(_ids)))] + pairs if all(k != "t" for k, _ in pairs) else pairs

    status, _ = served("POST", "/event", _object(pairs))

    if status >= 400:
        assert _rows() == before


@HOSTILE
@given(
    pairs=_hostile(
        USER,
        {"email": TEXT_VALUES, "first_name": TEXT_VALUES, "last_name": TEXT_VALUES},
    )
)
@example(pairs=_pairs(USER, first_name=json.dumps("\ud800")))
@example(pairs=_pairs(USER, first_name="5"))
def test_post_users(served, pairs):
    before = _rows()

    status, _ = served("POST", "/users", _object(pairs))

    assert _rows()[1] - before[1] == (1 if status == 201 else 0)
    if status >= 400:
        assert _rows() == before


QUERY_VALUES = st.one_of(
    TIMES,
    TEXTS,
    NUMBERS,
    st.builds(
        lambda text: base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode(),
        st.one_of(
            TEXTS,
            st.tuples(TIMES, st.integers()).map(lambda pair: f"{pair[0]}|{pair[1]}"),
            st.tuples(TIMES, TEXTS, TEXTS).map(lambda key: json.dumps(list(key))),
        ),
    ),
)


@HOSTILE
@given(
    path=st.sampled_from(["/events", "/metrics"]),
    query=st.dictionaries(
        st.sampled_from(
            ["from", "to", "cursor", "tenant_id", "source", "event_type", "page", "page_size"]
        ),
        QUERY_VALUES,
        max_size=3,
    ),
)
@example(path="/events", query={"from": "0001-01-01T00:00:00+01:00"})
@example(path="/metrics", query={"to": "9999-12-31T23:59:59-01:00"})
def test_get_with_hostile_parameters(served, path, query):
    if path == "/metrics":
        query = {"tenant_id": "tenant_1", "bucket_size": "hour"} | query
    encoded = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in query.items()})

    served("GET", path, query=encoded)
