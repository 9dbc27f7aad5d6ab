"""The README's examples give the answers it prints, sent in its order to a fresh service."""

import json
import re
from pathlib import Path

import pytest
from rest_framework.test import APIClient

README = Path(__file__).resolve().parents[3] / "README.md"
POST = re.compile(r"^post '(?P<body>.*)'$")
CURL = re.compile(r"-H 'Content-Type: (?P<type>[^']+)' .* -d '(?P<body>[^']*)'$")
ZEROS = re.compile(
    r"^head -c (?P<size>\d+) /dev/zero \| tr '\\0' ' ' \| curl .*Content-Type: (?P<type>[^']+)'"
)
ANSWER = re.compile(r"^(?P<body>\{.*\}) (?P<status>\d{3})$")


def _examples() -> list[tuple[str, str, dict, int]]:
    """Return (content type, body, expected JSON, expected status) for each README command."""
    lines = README.read_text().splitlines()
    examples = []
    for command, answer in zip(lines, lines[1:]):
        if not command.startswith("$ "):
            continue
        command = command.removeprefix("$ ")
        if match := POST.match(command):
            request = ("application/json", match["body"])
        elif match := ZEROS.match(command):
            request = (match["type"], " " * int(match["size"]))
        elif match := CURL.search(command):
            request = (match["type"], match["body"])
        else:
            raise AssertionError(f"README command this test cannot send: {command}")
        expected = ANSWER.match(answer)
        assert expected, f"README answer not in '<json> <status>' form: {answer}"
        examples.append((*request, json.loads(expected["body"]), int(expected["status"])))
    return examples


def test_readme_has_an_example_for_every_error_code():
    codes = {expected.get("error") for _, _, expected, _ in _examples()}

    assert codes >= {
        "invalid_payload",
        "unknown_user",
        "timestamp_out_of_order",
        "duplicate_timestamp",
        "payload_too_large",
        "unsupported_media_type",
    }


@pytest.mark.django_db
def test_readme_examples_give_the_documented_answers(users, settings):
    settings.ALLOW_ANONYMOUS = True  # as `make run` serves them: curl sends no API key
    client = APIClient()
    for content_type, body, expected, status in _examples():
        response = client.generic("POST", "/event", body, content_type=content_type)

        assert (response.json(), response.status_code) == (expected, status), body
