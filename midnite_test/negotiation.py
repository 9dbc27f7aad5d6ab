"""Content negotiation that answers a `?format=` as a query parameter: accepted where the
endpoint offers a choice of format, else 400 `invalid_query` naming `format`."""

from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation

from midnite_test.errors import InvalidQuery


class FormatQueryNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, but a `?format=` the endpoint does not offer is 400 `invalid_query`.

    On an endpoint that answers in JSON only, `?format=json` is refused as `?format=xml` is, with
    one message saying so: it is not a parameter of such an endpoint (its query serializer would
    say "Unknown field."), and accepting it there alone would make it one of every endpoint.
    Where there is a choice (the audit page: json, html), one it lacks names the choices; DRF
    raised Http404 there (its format override comes from URL suffixes too, where a 404 fits),
    which read as if the thing asked for did not exist.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        if getattr(request, "format_refused", False):
            # DRF asks again for the refusal's renderer, and would take the endpoint's first (the
            # schema's YAML, the docs page's HTML): the refusal is an error like any other.
            renderer = self.settings.DEFAULT_RENDERER_CLASSES[0]()
            return renderer, renderer.media_type
        name = self.settings.URL_FORMAT_OVERRIDE
        try:
            if format_suffix is None and name in request.query_params and len(renderers) == 1:
                raise _invalid_format(
                    f"This endpoint answers in {renderers[0].format.upper()} only; "
                    "it takes no `format`."
                )
            return super().select_renderer(request, renderers, format_suffix)
        except InvalidQuery:
            request.format_refused = True
            raise

    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            choices = ", ".join(dict.fromkeys(renderer.format for renderer in renderers))
            raise _invalid_format(f'"{format}" is not a valid choice; the choices are: {choices}.')
        return matching


class ProbeNegotiation(BaseContentNegotiation):
    """A health probe's: its one renderer, whatever the Accept header or `?format=` ask.

    A probe answers its status whatever it is sent; refusing a request would fail the probe
    and take a healthy process out of rotation.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _invalid_format(problem: str) -> InvalidQuery:
    return InvalidQuery(
        "The query parameters are invalid; see details.", details={"format": [problem]}
    )
