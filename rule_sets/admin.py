"""The rule sets in the admin: versions with their source, the change log with its diffs,
backtests; all read-only, but for activating a version (staff with the change permission)."""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from midnite_test.admin import ReadOnlyModelAdmin
from midnite_test.errors import DomainError
from rule_sets.models import RuleSetActivation, RuleSetBacktest, RuleSetVersion
from rule_sets.selectors import rule_set_diff
from rule_sets.services import rule_set_version_activate


def _flat(fields: tuple) -> tuple[str, ...]:
    """The names in an admin `fields` layout, whose rows may be tuples of names."""
    return tuple(name for row in fields for name in (row if isinstance(row, tuple) else (row,)))


def _preformatted(text: str):
    return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)


class ActivationInline(admin.TabularInline):
    model = RuleSetActivation
    fk_name = "version"
    fields = ("activated_by", "activated_at", "replaced")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RuleSetVersion)
class RuleSetVersionAdmin(ReadOnlyModelAdmin):
    """Each kind's versions; "Activate" makes the one selected active (a retired one: the
    rollback). Versions are created by the API or `manage.py rules import`."""

    list_display = ("kind", "version", "status", "note", "created_by", "created_at", "activated_at")
    list_filter = ("kind", "status")
    search_fields = ("note", "created_by")
    fields = (
        ("kind", "version", "status"),
        "note",
        ("created_by", "created_at", "activated_at"),
        "sha256",
        "source_text",
    )
    readonly_fields = _flat(fields)
    inlines = [ActivationInline]
    actions = ["activate"]

    @admin.display(description="source")
    def source_text(self, version: RuleSetVersion):
        return _preformatted(version.source)

    def has_activate_permission(self, request) -> bool:
        """Activating changes which rules every process evaluates: the change permission."""
        return request.user.has_perm("rule_sets.change_rulesetversion")

    @admin.action(description="Activate the selected version", permissions=["activate"])
    def activate(self, request, queryset) -> None:
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = chosen[0]
        try:
            rule_set_version_activate(
                kind=version.kind, version=version.version, activated_by=request.user.get_username()
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(
            request,
            f"{version.kind} version {version.version} is active; every process evaluates new "
            "events under it within 2 s.",
            messages.SUCCESS,
        )


@admin.register(RuleSetActivation)
class RuleSetActivationAdmin(ReadOnlyModelAdmin):
    """The change log: who made which version active, when, and the diff from the one it
    replaced."""

    list_display = ("kind", "version_number", "replaced_number", "activated_by", "activated_at")
    list_filter = ("kind",)
    list_select_related = ("version", "replaced")
    fields = ("kind", "version", "replaced", "activated_by", "activated_at", "diff")
    readonly_fields = fields

    @admin.display(description="version", ordering="version__version")
    def version_number(self, activation: RuleSetActivation) -> int:
        return activation.version.version

    @admin.display(description="replaced")
    def replaced_number(self, activation: RuleSetActivation) -> int | None:
        return activation.replaced.version if activation.replaced else None

    @admin.display(description="diff from the version it replaced")
    def diff(self, activation: RuleSetActivation):
        return _preformatted(rule_set_diff(activation.replaced, activation.version))


@admin.register(RuleSetBacktest)
class RuleSetBacktestAdmin(ReadOnlyModelAdmin):
    """Backtests and their results; created by the API or `manage.py rules backtest`."""

    list_display = (
        "id",
        "candidate",
        "baseline",
        "status",
        "progress",
        "events",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    list_select_related = ("candidate", "baseline")
    fields = (
        "id",
        ("candidate", "baseline"),
        ("window_start", "window_end"),
        ("status", "progress", "events", "attempts"),
        "error",
        ("created_by", "created_at", "finished_at"),
        "result_text",
    )
    readonly_fields = _flat(fields)

    @admin.display(description="result")
    def result_text(self, backtest: RuleSetBacktest):
        return _preformatted(json.dumps(backtest.result, indent=2) if backtest.result else "")
