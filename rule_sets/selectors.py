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


@dataclass(frozen=True, kw_only=True)
class HistoryPage:
    """A page of the change log: versions newest first, and the cursor of the next page."""

    versions: list[VersionHistory]
    next_cursor: int | None


def rule_set_history(kind: str, *, before: int | None, page_size: int) -> HistoryPage:
    """Return a page of the change log of `kind`: up to `page_size` versions, newest first,
    those numbered below `before` when given, each with its activations.

    Each activation carries the unified diff from the version it replaced (from nothing for
    the first one), which may be on another page. A keyset page: as cheap wherever it is.
    """
    rule_set_kind_get(kind)
    versions = RuleSetVersion.objects.filter(kind=kind).order_by("-version")
    if before is not None:
        versions = versions.filter(version__lt=before)
    rows = list(versions[: page_size + 1])
    more, rows = len(rows) > page_size, rows[:page_size]
    activations: dict[int, list[Activation]] = {version.pk: [] for version in rows}
    logged_activations = (
        RuleSetActivation.objects.filter(version__in=rows)
        .select_related("version", "replaced")
        .order_by("-activated_at", "-id")
    )
    for logged in logged_activations:
        activations[logged.version_id].append(
            Activation(
                activated_by=logged.activated_by,
                activated_at=logged.activated_at,
                replaced=logged.replaced.version if logged.replaced else None,
                diff=rule_set_diff(logged.replaced, logged.version),
            )
        )
    return HistoryPage(
        versions=[VersionHistory(version=v, activations=activations[v.pk]) for v in rows],
        next_cursor=rows[-1].version if more else None,
    )


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
