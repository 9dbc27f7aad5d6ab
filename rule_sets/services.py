"""Writes of the rule sets: versions created, activated, and the default files imported."""

import hashlib

from django.db import IntegrityError, transaction
from django.utils import timezone

from rule_sets.error_lines import rule_error_line
from rule_sets.exceptions import InvalidRules, RuleSetKindNotFound, RuleSetVersionNotFound
from rule_sets.kinds import RuleSetKind, rule_set_kind, rule_set_kinds
from rule_sets.models import RuleSetActivation, RuleSetVersion
from rules.exceptions import RuleParseError
from rules.parser import repeated_keys_check

# Who made what the default files became.
IMPORTED_BY = "the default rules file"


def rule_set_version_get_or_create(
    *, kind: str, source: str, note: str = "", created_by: str
) -> tuple[RuleSetVersion, bool]:
    """Store `source` as the next version of `kind`, a draft; return it and True.

    A source some version already has (byte for byte) stores nothing: that version is
    returned, and False (the active one if it is among them, else the newest), so importing
    the same file again is harmless. Raises InvalidRules, its details naming the rule and the
    field and its line, when the kind cannot compile `source` or it writes a key twice;
    RuleSetKindNotFound.
    """
    rule_set_source_check(kind=kind, source=source, new=True)
    sha256 = hashlib.sha256(source.encode()).hexdigest()
    with transaction.atomic():
        # The kind's versions are numbered one after another: serialise their creation.
        latest = (
            RuleSetVersion.objects.select_for_update()
            .filter(kind=kind)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        same = RuleSetVersion.objects.filter(kind=kind, sha256=sha256).order_by("-version")
        existing = same.filter(status=RuleSetVersion.Status.ACTIVE).first() or same.first()
        if existing is not None:
            return existing, False
        created = RuleSetVersion.objects.create(
            kind=kind,
            version=(latest or 0) + 1,
            source=source,
            sha256=sha256,
            note=note,
            created_by=created_by,
        )
        return created, True


def rule_set_kind_get(kind: str) -> RuleSetKind:
    """Return the registered kind `kind`; raise RuleSetKindNotFound naming the known ones."""
    try:
        return rule_set_kind(kind)
    except KeyError:
        known = [registered.name for registered in rule_set_kinds()]
        raise RuleSetKindNotFound(
            f"There are no {kind!r} rules; the kinds are: {', '.join(known)}.",
            details={"kind": kind, "kinds": known},
        ) from None


def rule_set_source_check(*, kind: str, source: str, new: bool = False) -> None:
    """Raise InvalidRules unless `source` compiles as a rule set of `kind`; when it is `new` (to
    be stored), also for a key written twice in one mapping (rules.parser.repeated_keys_check).
    """
    compile_rules = rule_set_kind_get(kind).compile
    try:
        compile_rules(source)
        if new:
            repeated_keys_check(source)
    except RuleParseError as exc:
        raise InvalidRules(
            f"The {kind} rules are invalid: {exc}",
            details=rule_parse_error_details(exc, source=source),
        ) from exc


def rule_parse_error_details(error: RuleParseError, *, source: str) -> dict:
    """Return where `error` is in `source`: `rule` (e.g. "rules[1] (code 30)"), `field`, `line`.

    A YAML syntax error names a line and no rule; a rule error names the rule and the field,
    and its line is that field's in `source` (or its deepest part there).
    """
    rule, _, field = error.path.partition(".")
    if not rule.startswith("rules["):
        rule, field = "", error.path if error.path != "<document>" else ""
    line = error.line
    if line is None and rule:
        line = rule_error_line(source, rule=rule, field=field)
    return {"path": error.path, "rule": rule or None, "field": field or None, "line": line}


def rule_set_version_activate(*, kind: str, version: int, activated_by: str) -> RuleSetVersion:
    """Make `version` of `kind` the active one and retire the one it replaces.

    Activating the active version changes nothing; activating a retired one is the rollback.
    Every process evaluates new events under it from its next event on (rule_sets.active).
    Raises RuleSetKindNotFound, RuleSetVersionNotFound, and InvalidRules when the kind no
    longer compiles the version (a notification template it sends is gone, say).
    """
    rule_set_kind_get(kind)
    with transaction.atomic():
        versions = {
            row.version: row for row in RuleSetVersion.objects.select_for_update().filter(kind=kind)
        }
        chosen = versions.get(version)
        if chosen is None:
            raise RuleSetVersionNotFound(
                f"The {kind} rules have no version {version}.",
                details={"kind": kind, "version": version},
            )
        if chosen.status == RuleSetVersion.Status.ACTIVE:
            return chosen
        # Compiled again: what it depends on may have changed since it was stored (the
        # notification templates file, say).
        rule_set_source_check(kind=kind, source=chosen.source)
        replaced = next(
            (row for row in versions.values() if row.status == RuleSetVersion.Status.ACTIVE),
            None,
        )
        now = timezone.now()
        if replaced is not None:
            replaced.status = RuleSetVersion.Status.RETIRED
            replaced.save(update_fields=["status"])
        chosen.status = RuleSetVersion.Status.ACTIVE
        chosen.activated_at = now
        chosen.save(update_fields=["status", "activated_at"])
        RuleSetActivation.objects.create(
            kind=kind,
            version=chosen,
            replaced=replaced,
            activated_by=activated_by,
            activated_at=now,
        )
        return chosen


def rule_set_default_import(kind: str) -> RuleSetVersion:
    """Return the active version of `kind`, importing its default file as version 1 if it has none.

    Safe to run in several processes at once: one imports, the others find its version.
    """
    active = RuleSetVersion.objects.filter(kind=kind, status=RuleSetVersion.Status.ACTIVE).first()
    if active is not None:
        return active
    source = rule_set_kind(kind).default_path().read_text()
    try:
        with transaction.atomic():
            stored, _ = rule_set_version_get_or_create(
                kind=kind,
                source=source,
                note="imported from the default file",
                created_by=IMPORTED_BY,
            )
            return rule_set_version_activate(
                kind=kind, version=stored.version, activated_by=IMPORTED_BY
            )
    except IntegrityError:
        # Another process imported it first: theirs is version 1.
        return RuleSetVersion.objects.get(kind=kind, status=RuleSetVersion.Status.ACTIVE)


def rule_sets_import_defaults_on_migrate(**kwargs) -> None:
    """post_migrate: give every kind with no active version its default file as version 1."""
    using = kwargs.get("using")
    if using not in (None, "default"):
        return
    for kind in rule_set_kinds():
        rule_set_default_import(kind.name)
