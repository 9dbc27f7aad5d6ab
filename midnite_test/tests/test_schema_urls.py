"""The OpenAPI schema is served at /api/schema/ as at /docs/schema, to anyone."""

from rest_framework.test import APIClient


def test_the_schema_is_served_at_api_schema_as_at_docs_schema(db):
    client = APIClient()

    api = client.get("/api/schema/")
    docs = client.get("/docs/schema")

    assert api.status_code == docs.status_code == 200
    assert api.content == docs.content
    assert b"openapi: 3" in api.content
