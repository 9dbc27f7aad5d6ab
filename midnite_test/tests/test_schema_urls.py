"""The OpenAPI schema is served at /api/schema/ as at /docs/schema, to anyone."""

from rest_framework.test import APIClient


def test_the_schema_is_served_at_api_schema_as_at_docs_schema(db):
    client = APIClient()

    api = client.get("/api/schema/")
    docs = client.get("/docs/schema")

    assert api.status_code == docs.status_code == 200
    assert api.content == docs.content
    assert b"openapi: 3" in api.content


def test_the_docs_page_answers_with_and_without_a_trailing_slash(db):
    client = APIClient()

    pages = [client.get(path) for path in ("/docs", "/docs/")]

    assert [page.status_code for page in pages] == [200, 200]
    assert all(b'"/docs/schema"' in page.content for page in pages)
