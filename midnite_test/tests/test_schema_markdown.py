"""The schema's descriptions render as written in /docs: no raw HTML tag outside code.

Swagger UI and ReDoc render every `description` as Markdown, HTML included, so a placeholder
such as <code> outside backticks becomes a tag: it is dropped or swallows the text after it.
"""

import re
from collections.abc import Iterator

import pytest
from drf_spectacular.generators import SchemaGenerator

# Markdown code: a run of backticks up to the same run (fenced blocks included).
CODE = re.compile(r"(`+).+?\1", re.DOTALL)
TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def descriptions(node, where: str = "") -> Iterator[tuple[str, str]]:
    """Yield (where, text) for each string `description` anywhere in the schema `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield where or "/", value
            else:
                yield from descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from descriptions(value, f"{where}/{index}")


def raw_tags(markdown: str) -> list[str]:
    return TAG.findall(CODE.sub("", markdown))


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_no_description_has_a_raw_html_tag_outside_code(schema):
    found = [
        f"{where}: {tags} in {text!r}"
        for where, text in descriptions(schema)
        if (tags := raw_tags(text))
    ]

    assert not found, "\n".join(found)


def test_the_intro_shows_the_error_shape_as_code(schema):
    assert '`{"error": "<code>", "message": "...", "details": {...}}`' in (
        schema["info"]["description"]
    )


@pytest.mark.parametrize(
    ("markdown", "tags"),
    [
        ('Errors: {"error": "<code>"}', ["<code>"]),
        ('Errors: `{"error": "<code>"}`', []),
        ("```\n<b>\n```", []),
        ("a < b and b > c", []),
        ("`Bearer <key>` or <why>", ["<why>"]),
    ],
)
def test_raw_tags_outside_code_are_found(markdown, tags):
    assert raw_tags(markdown) == tags
