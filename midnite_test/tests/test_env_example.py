"""env.example, the deployment template, names real settings and tells their defaults.

A key that nothing reads would be set by a deployer and silently ignored; a tuning value that
differs from the default would make a copied file change behaviour the README calls default.
"""

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
# Settings read outside settings.py: by `make`, by bin/run-embedded, by the image.
READERS = ["Makefile", "bin/run-embedded", "Dockerfile"]
ASSIGNMENT = re.compile(r"^#?([A-Z][A-Z0-9_]*)=(.*)$")


def _env_example() -> dict[str, str]:
    """Return env.example's keys, commented-out ones included, with their values."""
    lines = (BASE_DIR / "env.example").read_text().splitlines()
    return {m[1]: m[2] for m in map(ASSIGNMENT.match, lines) if m}


def _config_defaults() -> dict[str, ast.expr | None]:
    """Return each name settings.py reads, with the default `config(NAME, default=...)` gives.

    A name passed to one of settings.py's own helpers (`_webhook_url("SMS_WEBHOOK_URL")`),
    which calls `config` with it, is read too, its default left out (None).
    """
    tree = ast.parse((BASE_DIR / "midnite_test" / "settings.py").read_text())
    helpers = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    found: dict[str, ast.expr | None] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name, callee = node.args[0], getattr(node.func, "id", None)
        if isinstance(name, ast.Constant) and callee in helpers | {"config"}:
            default = next((k.value for k in node.keywords if k.arg == "default"), None)
            found[name.value] = default
    return found


def _read_elsewhere(key: str) -> bool:
    return any(re.search(rf"\b{key}\b", (BASE_DIR / path).read_text()) for path in READERS)


def test_the_template_is_read_as_expected():
    keys = _env_example()

    assert {"DATABASE_URL", "OUTBOX_RELAY_INTERVAL_SECONDS", "SECURE_SSL_REDIRECT"} <= set(keys)


@pytest.mark.parametrize("key", sorted(_env_example()))
def test_every_key_is_a_setting_something_reads(key):
    assert key in _config_defaults() or _read_elsewhere(key)


def _literal_defaults() -> list[tuple[str, str, object]]:
    """The keys whose default is a plain number, with env.example's value and the default."""
    defaults = _config_defaults()
    pairs = []
    for key, value in _env_example().items():
        default = defaults.get(key)
        if isinstance(default, ast.Constant) and type(default.value) in (int, float):
            pairs.append((key, value, default.value))
    return pairs


def test_numeric_defaults_are_found():
    assert "OUTBOX_RELAY_INTERVAL_SECONDS" in {key for key, _, _ in _literal_defaults()}


@pytest.mark.parametrize("key, value, default", _literal_defaults())
def test_a_numeric_value_is_the_default(key, value, default):
    assert float(value) == default
