"""The Rules page: a shell whose script drives the rule-lifecycle API (/api/v1/rules/...).

The page reads and writes the rule versions only through that API, with the staff session and
its CSRF token; this view renders the shell with the kinds and whether the user may change them
(the API refuses a change without the permission anyway).
"""

from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from console.access import console_staff_required
from rule_sets.kinds import rule_set_kinds
from rule_sets.permissions import RulesAccess


@require_GET
@console_staff_required
def console_rules(request, kind: str | None = None):
    kinds = [registered.name for registered in rule_set_kinds()]
    if kind is None:
        return redirect("console:rules-kind", kind=kinds[0])
    if kind not in kinds:
        raise Http404(f"There are no {kind!r} rules.")
    context = {
        "kind": kind,
        "kinds": kinds,
        "can_change": request.user.has_perm(RulesAccess.staff_write_permission),
        "change_permission": RulesAccess.staff_write_permission,
    }
    return render(request, "console/rules.html", context)
