"""Content negotiation that answers a `?format=` no renderer has as a bad query parameter."""

from rest_framework.negotiation import DefaultContentNegotiation

from midnite_test.errors import InvalidQuery


class FormatQueryNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, but `?format=xml` is 400 `invalid_query` naming `format`.

    DRF raises Http404 there (its format override comes from URL suffixes too, where a 404
    fits); for a query parameter, "Not found." read as if the thing asked for did not exist.
    """

    def filter_renderers(self, renderers, format):
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            raise InvalidQuery(
                "The query parameters are invalid; see details.",
                details={"format": [f'"{format}" is not a valid choice.']},
            )
        return matching
