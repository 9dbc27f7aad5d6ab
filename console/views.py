"""The console's pages: server-rendered shells that their own JSON endpoints keep live."""

from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET

from console.access import LOGIN_URL, console_staff_required
from console.exceptions import UnknownTenant
from console.overview import (
    RANGES,
    overview_json,
    overview_params,
    overview_report,
    overview_tenants,
)
from midnite_test.errors import InvalidQuery


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/login.html"
    # The admin's form: it refuses an account that is not active staff, as a wrong password,
    # so no session is opened that the console's pages would then turn away.
    authentication_form = AdminAuthenticationForm
    # Without a `next` (after logging out, say), to the console, not Django's /accounts/profile/.
    next_page = reverse_lazy("console:home")
    # Not redirected when logged in: a user who is not staff would be sent back here for ever.
    redirect_authenticated_user = False


class ConsoleLogoutView(auth_views.LogoutView):
    """POST logs out, then the login page. GET, the URL typed, asks first: logging out is a
    change, so it takes a POST with the CSRF token, and a link cannot log anyone out."""

    template_name = "console/logout.html"
    next_page = LOGIN_URL
    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect(LOGIN_URL)
        return render(request, self.template_name)

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        # Added after the session is flushed: the message travels in its own cookie to the
        # login page, which shows it once.
        messages.success(request, "You have logged out.")
        return response


@require_GET
@console_staff_required
def console_home(request):
    return redirect("console:overview")


def _overview_refused(request, exc: InvalidQuery):
    """400: the console's page saying which parameter is wrong and what it may be."""
    refused = [
        {"name": name, "value": request.GET.get(name, ""), "problems": problems}
        for name, problems in exc.details.items()
    ]
    context = {"message": exc.message, "refused": refused}
    return render(request, "console/overview_refused.html", context, status=400)


def _overview_unknown_tenant(request):
    """404: the console's page saying the tenant has no counted events, offering those that
    have, in the range asked for (a valid one: the parameters were checked first)."""
    context = {
        "tenant": request.GET["tenant"],
        "tenants": overview_tenants(),
        "range": request.GET.get("range") or "hour",
    }
    return render(request, "console/overview_unknown_tenant.html", context, status=404)


@require_GET
@console_staff_required
def console_overview(request):
    """The overview, drawn from the same JSON its script then polls every 5 s."""
    try:
        tenant, chosen = overview_params(
            tenant=request.GET.get("tenant"), range_name=request.GET.get("range")
        )
    except InvalidQuery as exc:
        return _overview_refused(request, exc)
    except UnknownTenant:
        return _overview_unknown_tenant(request)
    overview = overview_json(overview_report(tenant=tenant, chosen=chosen))
    return render(
        request, "console/overview.html", {"overview": overview, "ranges": RANGES.values()}
    )
