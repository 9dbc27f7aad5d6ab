"""The service's 404 answer: a console page under /console/, the API's JSON elsewhere.

A person who mistypes a console address, or follows a stale link (a rule kind that is gone),
gets a page with the console's header and a way back, not `{"error": "not_found"}`; the
console's own JSON endpoints under /console/api/ keep the API's shape.
"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from midnite_test import http_errors


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: the console's "Not found" page for its pages' addresses, else the JSON."""
    console = reverse("console:home")
    if request.path.startswith(console) and not request.path.startswith(f"{console}api/"):
        return render(request, "console/not_found.html", status=404)
    return http_errors.not_found(request, exception)
