"""The schema describes each body in its own words, never with a kernel class's docstring.

Before: drf-spectacular took StrictSerializer's docstring ("A serializer that rejects fields it
does not declare...") as the description of every input that subclassed it without one.
"""

from pathlib import Path

import yaml

from midnite_test.serializers import StrictSerializer

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_no_component_is_described_by_the_strict_serializers_docstring():
    components = yaml.safe_load(OPENAPI_FILE.read_text())["components"]["schemas"]
    inherited = " ".join(StrictSerializer.__doc__.split())

    described = {
        name: " ".join(schema.get("description", "").split()) for name, schema in components.items()
    }

    assert [name for name, text in described.items() if text == inherited] == []
