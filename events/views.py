"""HTTP API of the events app. Views validate, call one service or selector, and serialize."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api_keys.selectors import tenants_allowed
from api_keys.services import tenant_access_check
from events.bulk_body import BulkBodyParser, DecodedBulkBody
from events.ingestion import BulkOutcome, event_ingest, events_bulk_ingest, events_bulk_store
from events.selectors import EventFilters, EventPage, events_page
from events.serializers import (
    EventBulkInputSerializer,
    EventBulkOutputSerializer,
    EventIngestedSerializer,
    EventInputSerializer,
    EventOutputSerializer,
    EventPageSerializer,
    EventQuerySerializer,
)
from events.validation import InvalidEvent, event_input_parse
from midnite_test.memory import collector_paused
from midnite_test.serializers import ErrorSerializer, NoQuerySerializer, query_parse

EVENT_EXAMPLE = {
    "event_id": "evt_001",
    "tenant_id": "tenant_1",
    "source": "web",
    "event_type": "click",
    "timestamp": "2024-01-15T10:30:00Z",
    "payload": {"page": "/pricing"},
    "user_id": 1,
    "amount": "12.50",
}


class EventsView(APIView):
    """POST /events stores one event; GET /events lists events (one path, two operations)."""

    # A 64 KiB payload, escaped, and the other fields.
    max_body_bytes = 256 * 1024

    @extend_schema(
        operation_id="events_ingest",
        summary="Store one event, idempotently",
        description=(
            "201 with the stored event when new; 200 with `duplicate: true` when the tenant "
            "has this `event_id` with the same content. Errors: 400 `invalid_payload` "
            "(details name each bad field), 400 `invalid_query` (a query parameter: none is "
            "taken), 400 `unknown_user`, 403 `tenant_forbidden`, "
            "409 `event_conflict` (same id, other content)."
        ),
        request=EventInputSerializer,
        responses={
            200: EventIngestedSerializer,
            201: EventIngestedSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            409: ErrorSerializer,
        },
        examples=[
            OpenApiExample("click", value=EVENT_EXAMPLE, request_only=True),
            OpenApiExample(
                "stored",
                value={**EVENT_EXAMPLE, "received_at": "2024-01-15T10:30:01Z", "duplicate": False},
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "conflict",
                value={
                    "error": "event_conflict",
                    "message": "Tenant tenant_1 already has event evt_001 with other content.",
                    "details": {"tenant_id": "tenant_1", "event_id": "evt_001"},
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        query_parse(NoQuerySerializer, request)
        try:
            event = event_input_parse(request.data)
        except InvalidEvent as exc:
            raise ValidationError(exc.errors) from None
        tenant_access_check(key=request.auth, tenant_id=event.tenant_id)
        ingested = event_ingest(event=event)
        body = {**EventOutputSerializer(ingested.stored).data, "duplicate": ingested.duplicate}
        return Response(body, status=200 if ingested.duplicate else 201)

    @extend_schema(
        operation_id="events_list",
        summary="List events, newest first",
        description=(
            "Filters combine. Without `page`, `next` is a keyset cursor URL that, followed to "
            "the end, visits every event once even while new ones arrive; with `page`, "
            "numbered pages and a `count` (not both: `page` with `cursor`, or any parameter "
            "sent twice, is 400). Errors: 400 `invalid_query`, 403 `tenant_forbidden`."
        ),
        parameters=[EventQuerySerializer],
        responses={200: EventPageSerializer, 400: ErrorSerializer, 403: ErrorSerializer},
        examples=[
            OpenApiExample(
                "a page",
                value={
                    "results": [{**EVENT_EXAMPLE, "received_at": "2024-01-15T10:30:01Z"}],
                    "next": "http://localhost:8000/events?tenant_id=tenant_1&cursor=MjAy...",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = query_parse(EventQuerySerializer, request)
        tenants = _tenants_readable(request, query.get("tenant_id"))
        filters = EventFilters(
            tenant_ids=tenants,
            source=query.get("source"),
            event_type=query.get("event_type"),
            user_id=query.get("user_id"),
            occurred_from=query.get("from"),
            occurred_to=query.get("to"),
        )
        page = events_page(
            filters=filters,
            page=query.get("page"),
            page_size=query["page_size"],
            cursor=query.get("cursor"),
        )
        return Response(_page_body(request, page))


class EventBulkIngestView(APIView):
    """POST /events/bulk: store up to 5,000 events, each judged on its own."""

    max_body_bytes = 32 * 1024 * 1024
    # A body of valid events comes decoded and checked (events.bulk_body), any other as JSON.
    parser_classes = [BulkBodyParser]

    @extend_schema(
        operation_id="events_bulk_ingest",
        summary="Store up to 5,000 events, idempotently",
        description=(
            "Valid events are stored even when others are rejected; sending the same request "
            "again stores nothing new. Two items with the same `tenant_id` and `event_id`: "
            "the first decides, a later one counts as its duplicate (same content) or conflict. "
            'Errors: 400 `invalid_payload` (not `{"events": [...]}` or empty), 400 '
            "`invalid_query` (a query parameter: none is taken), 403 "
            "`tenant_forbidden` (nothing stored), 413 `too_many_events` (nothing stored)."
        ),
        request=EventBulkInputSerializer,
        responses={
            200: EventBulkOutputSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            413: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        query_parse(NoQuerySerializer, request)
        # One pause of the collector from the body's parsing until its events are freed, so
        # that no collection walks them (the parser and the store each pause it too).
        with collector_paused():
            outcome = _bulk_outcome(request)
        return Response(EventBulkOutputSerializer(outcome).data)


def _bulk_outcome(request: Request) -> BulkOutcome:
    """Parse and store a bulk body; its events are freed as this returns.

    The events are taken out of request.data: DRF's request, the view and the response refer
    to one another and are freed by the cyclic collector, whose collections would walk the
    5,000 events they held, again and again until then.
    """

    def tenant_check(tenant_id: str) -> None:
        tenant_access_check(key=request.auth, tenant_id=tenant_id)

    if isinstance(request.data, DecodedBulkBody):
        events, properties_json = request.data.take()
        return events_bulk_store(
            events=events, properties_json=properties_json, tenant_check=tenant_check
        )
    items = _bulk_items_taken(request.data)
    return events_bulk_ingest(items=items, tenant_check=tenant_check)


def _bulk_items_taken(data) -> list:
    """Return the items of a bulk body, `{"events": [...]}`, taken out of `data`.

    Raises ValidationError naming each field that is wrong, a key other than `events` included.
    """
    errors = {}
    items = data.get("events") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        errors["events"] = ['Send {"events": [...]} with 1 to 5,000 events.']
    if isinstance(data, dict):
        errors |= {name: ["Unknown field."] for name in data if name != "events"}
    if errors:
        raise ValidationError(errors)
    return data.pop("events")


def _tenants_readable(request: Request, tenant_id: str | None) -> frozenset[str] | None:
    """Return the tenants a listing may show: the one asked for, or all the key may read."""
    if tenant_id is not None:
        tenant_access_check(key=request.auth, tenant_id=tenant_id)
        return frozenset({tenant_id})
    return tenants_allowed(key=request.auth)


def _page_body(request: Request, page: EventPage) -> dict:
    def url(**changes) -> str:
        params = request.query_params.copy()
        for name, value in changes.items():
            params[name] = value
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    body = {"results": EventOutputSerializer(page.events, many=True).data}
    if page.count is None:
        body["next"] = url(cursor=page.next_cursor) if page.next_cursor else None
        return body
    body["count"] = page.count
    body["next"] = url(page=page.number + 1) if page.has_next else None
    body["previous"] = url(page=page.number - 1) if page.has_previous else None
    return body
