"""The strict JSON parser refuses a key repeated in one object, at any depth, on every endpoint."""

from io import BytesIO

import pytest
from rest_framework.exceptions import ParseError
from rest_framework.test import APIClient

from midnite_test.parsers import StrictJSONParser
from midnite_test.tests.routes import api_routes

POST_PATHS = sorted({path for method, path in api_routes() if method == "post"})


def _parse(raw: bytes):
    return StrictJSONParser().parse(BytesIO(raw))


@pytest.mark.parametrize("path", POST_PATHS)
def test_a_repeated_key_is_400_invalid_payload_naming_it_on_every_endpoint(db, settings, path):
    settings.ALLOW_ANONYMOUS = True

    response = APIClient().generic("POST", path, '{"t": 200, "t": 201}', "application/json")

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_payload",
        "message": "The request body repeats the key 't' in one object; send each key once.",
        "details": {},
    }


@pytest.mark.parametrize(
    "raw",
    [
        b'{"properties": {"a": {"b": 1, "b": 2}}}',
        b'[{"items": [{"x": 1}, {"b": [], "b": null}]}]',
    ],
    ids=["nested objects", "objects in arrays"],
)
def test_a_key_repeated_deep_inside_is_refused_naming_it(raw):
    with pytest.raises(ParseError, match="repeats the key 'b'"):
        _parse(raw)


def test_one_key_in_sibling_objects_is_not_a_repeat():
    assert _parse(b'{"a": {"k": 1}, "b": {"k": 2}}') == {"a": {"k": 1}, "b": {"k": 2}}
