"""The OpenAPI schema declares the Bearer key and which operations need it."""

from drf_spectacular.generators import SchemaGenerator


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_declares_the_bearer_security_scheme():
    scheme = _schema()["components"]["securitySchemes"]["ApiKey"]

    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_data_operations_require_the_key_and_health_does_not():
    paths = _schema()["paths"]

    assert paths["/event"]["post"]["security"] == [{"ApiKey": []}]
    assert paths["/users"]["post"]["security"] == [{"ApiKey": []}]
    assert paths["/healthz/live"]["get"]["security"] == [{}]
