"""The rules each process evaluates: the active version of a kind, compiled once per version.

Versions never change once stored, so a process compiles each at most once and keeps it. Which
version is active is read from the database: by the caller's own statement where a round trip
is precious (POST /event joins `ACTIVE_VERSION_SQL` to the statement that locks the user,
alerts.pipeline), else by `rule_set_active` (one query, once per batch in the workers). So an
activation is seen by every process at its next event or batch, with no restart and no
message between processes.
"""

import functools
from dataclasses import dataclass
from typing import Any

from rule_sets.kinds import rule_set_kind
from rule_sets.models import RuleSetVersion
from rule_sets.services import rule_set_default_import

# The active version of the kind given as its one parameter: (version, sha256); no row: none is.
ACTIVE_VERSION_SQL = (
    "SELECT version, sha256 FROM rule_sets_rulesetversion WHERE kind = %s AND status = 'active'"
)


@dataclass(frozen=True)
class ActiveRuleSet:
    """A version number, its sha256 and the kind's compiled rules of that version."""

    version: int
    sha256: str
    rules: Any


def rule_set_active(kind: str) -> ActiveRuleSet:
    """Return the active version of `kind`, compiled; the default file is imported if none is."""
    row = (
        RuleSetVersion.objects.filter(kind=kind, status=RuleSetVersion.Status.ACTIVE)
        .values_list("version", "sha256")
        .first()
    )
    return rule_set_at(kind, row)


def rule_set_at(kind: str, row: tuple[int, str] | None) -> ActiveRuleSet:
    """Return the version `row` (its number and sha256) of `kind`, compiled.

    None: the active version, the default file imported if the kind has none.
    """
    if row is None:
        imported = rule_set_default_import(kind)
        row = (imported.version, imported.sha256)
    version, sha256 = row
    return ActiveRuleSet(version=version, sha256=sha256, rules=_compiled(kind, version, sha256))


def rule_set_version(kind: str, version: int) -> ActiveRuleSet:
    """Return the stored version `version` of `kind`, compiled (e.g. the one a decision names)."""
    sha256 = RuleSetVersion.objects.values_list("sha256", flat=True).get(kind=kind, version=version)
    return rule_set_at(kind, (version, sha256))


@functools.lru_cache(maxsize=32)
def _compiled(kind: str, version: int, sha256: str) -> Any:
    """Compile a stored version. Keyed by its hash too: a test database may reuse a number."""
    source = RuleSetVersion.objects.values_list("source", flat=True).get(kind=kind, version=version)
    return rule_set_kind(kind).compile(source)
