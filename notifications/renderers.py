"""The audit trail's HTML page: what a browser (`Accept: text/html`) gets instead of JSON."""

from rest_framework.renderers import TemplateHTMLRenderer

# The page asks for the JSON again this often; new events show within two polls.
AUDIT_POLL_INTERVAL_MS = 1000


class AuditPageRenderer(TemplateHTMLRenderer):
    """Render the audit JSON into a page whose script draws it and keeps polling it.

    The data goes into the page only through `json_script`, and the script writes it with
    `textContent`, so nothing a client sent can become markup. Errors get a page of their own
    that says what went wrong and, for 401 and 403, where to log in.
    """

    template_name = "notifications/audit.html"
    exception_template_names = ["notifications/audit_error.html"]

    def get_template_context(self, data, renderer_context) -> dict:
        response = renderer_context["response"]
        if response.exception:
            details = _details_listed(data.get("details"))
            return {"error": data, "details": details, "status_code": response.status_code}
        return {"audit": data, "poll_interval_ms": AUDIT_POLL_INTERVAL_MS}


def _details_listed(details) -> list[tuple[str, list[str]]]:
    """An error's `details`, each field with its problems: what the page lists under the message."""
    if not isinstance(details, dict):
        return []
    return [
        (
            field,
            (
                [str(problem) for problem in problems]
                if isinstance(problems, list)
                else [str(problems)]
            ),
        )
        for field, problems in details.items()
    ]
