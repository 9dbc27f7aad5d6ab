"""Reads of the rule sets: a kind's versions, its change log with diffs, backtests."""

import difflib
import uuid
from dataclasses import dataclass
from datetime import datetime

from rule_sets.exceptions import RuleSetBacktestNotFound, RuleSetVersionNotFound
from rule_sets.models import RuleSetActivation, RuleSetBacktest, RuleSetVersion
from rule_sets.services import rule_set_default_import, rule_set_kind_get

# The largest version number a column holds (a PostgreSQL integer).
VERSION_MAX = 2**31 - 1


@dataclass(frozen=True, kw_only=True)
class Activation:
    """One entry of the change log: who made the version active, when, and what changed."""

    activated_by: str
    activated_at: datetime
    replaced: int | None
    diff: str


@dataclass(frozen=True, kw_only=True)
class VersionHistory:
    """A version and each time it was activated."""

    version: RuleSetVersion
    activations: list[Activation]


def rule_set_version_get(*, kind: str, version: int) -> RuleSetVersion:
    """Return version `version` of `kind`; raise RuleSetVersionNotFound."""
    rule_set_kind_get(kind)
    found = None
    if 1 <= version <= VERSION_MAX:
        found = RuleSetVersion.objects.filter(kind=kind, version=version).first()
    if found is None:
        raise RuleSetVersionNotFound(
            f"The {kind} rules have no version {version}.",
            details={"kind": kind, "version": version},
        )
    return found


@dataclass(frozen=True, kw_only=True)
class VersionDetail:
    """A version and the unified diff from the active version to it (empty for that one)."""

    version: RuleSetVersion
    diff: str


def rule_set_version_detail(*, kind: str, version: int | None) -> VersionDetail:
    """Return version `version` of `kind` (None: the active one) with its diff from the active
    version."""
    active = rule_set_active_get(kind)
    found = active if version is None else rule_set_version_get(kind=kind, version=version)
    return VersionDetail(
        version=found, diff="" if found.pk == active.pk else rule_set_diff(active, found)
    )


def rule_set_active_get(kind: str) -> RuleSetVersion:
    """Return the active version of `kind` (the default file is imported if none is)."""
    rule_set_kind_get(kind)
    return rule_set_default_import(kind)


def rule_set_history(kind: str) -> list[VersionHistory]:
    """Return the change log of `kind`: every version, newest first, with its activations.

    Each activation carries the unified diff from the version it replaced (from nothing for
    the first one).
    """
    rule_set_kind_get(kind)
    versions = list(RuleSetVersion.objects.filter(kind=kind).order_by("-version"))
    by_id = {version.pk: version for version in versions}
    activations: dict[int, list[Activation]] = {version.pk: [] for version in versions}
    for logged in RuleSetActivation.objects.filter(kind=kind).order_by("-activated_at", "-id"):
        version, replaced = by_id[logged.version_id], by_id.get(logged.replaced_id)
        activations[version.pk].append(
            Activation(
                activated_by=logged.activated_by,
                activated_at=logged.activated_at,
                replaced=replaced.version if replaced else None,
                diff=rule_set_diff(replaced, version),
            )
        )
    return [VersionHistory(version=v, activations=activations[v.pk]) for v in versions]


def rule_set_diff(old: RuleSetVersion | None, new: RuleSetVersion) -> str:
    """Return the unified diff of `new`'s source from `old`'s (from nothing when None)."""
    lines = difflib.unified_diff(
        old.source.splitlines() if old else [],
        new.source.splitlines(),
        fromfile=f"{old.kind} v{old.version}" if old else "(none)",
        tofile=f"{new.kind} v{new.version}",
        lineterm="",
    )
    return "".join(f"{line}\n" for line in lines)


def rule_set_backtest_get(backtest_id: str) -> RuleSetBacktest:
    """Return the backtest `backtest_id` with its versions; raise RuleSetBacktestNotFound."""
    try:
        pk = uuid.UUID(backtest_id)
    except ValueError:
        pk = None
    found = (
        RuleSetBacktest.objects.select_related("candidate", "baseline").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if found is None:
        raise RuleSetBacktestNotFound(
            f"No backtest has the id {backtest_id}.", details={"id": str(backtest_id)}
        )
    return found
