"""The console's pages: server-rendered shells that their own JSON endpoints keep live."""

from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET

from console.access import console_staff_required


class ConsoleLoginView(auth_views.LoginView):
    template_name = "console/login.html"
    # Without a `next` (after logging out, say), to the console, not Django's /accounts/profile/.
    next_page = reverse_lazy("console:home")
    # Not redirected when logged in: a user who is not staff would be sent back here for ever.
    redirect_authenticated_user = False


@require_GET
@console_staff_required
def console_home(request):
    return redirect("console:overview")


@require_GET
@console_staff_required
def console_overview(request):
    return render(request, "console/overview.html")
