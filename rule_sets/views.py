"""HTTP API of the rule sets: versions, the change log, activation and backtests."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from midnite_test.pagination import next_page_url
from midnite_test.serializers import ErrorSerializer, NoQuerySerializer, query_parse
from rule_sets.backtests import rule_set_backtest_create
from rule_sets.permissions import RulesAccess, actor_name
from rule_sets.selectors import (
    rule_set_backtest_get,
    rule_set_history,
    rule_set_version_detail,
)
from rule_sets.serializers import (
    BacktestCreateSerializer,
    BacktestSerializer,
    RuleSetActivateSerializer,
    RuleSetHistoryQuerySerializer,
    RuleSetHistorySerializer,
    RuleSetVersionCreateSerializer,
    RuleSetVersionDetailSerializer,
    RuleSetVersionSerializer,
)
from rule_sets.services import rule_set_version_activate, rule_set_version_get_or_create

KIND = OpenApiParameter(
    "kind", str, OpenApiParameter.PATH, enum=["alerts", "notifications"], description="The kind."
)
VERSION = OpenApiParameter("n", int, OpenApiParameter.PATH, description="The version number.")
ACCESS = (
    "Needs an API key with the `rules` scope (`create_api_key --scope rules`) or a staff "
    "session of /admin/ (a change needs the permission `rule_sets.change_rulesetversion` "
    "too); a key without the scope is 403 `scope_forbidden`. "
)
UNKNOWN_KIND = OpenApiExample(
    "unknown kind",
    value={
        "error": "unknown_rule_set_kind",
        "message": "There are no 'fraud' rules; the kinds are: alerts, notifications.",
        "details": {"kind": "fraud", "kinds": ["alerts", "notifications"]},
    },
    response_only=True,
    status_codes=["404"],
)
VERSION_EXAMPLE = {
    "kind": "alerts",
    "version": 2,
    "status": "draft",
    "note": "withdrawals over 50",
    "sha256": "9f2c…",
    "created_by": "risk-team",
    "created_at": "2026-12-05T10:00:00Z",
    "activated_at": None,
}
DIFF = (
    "--- alerts v1\n+++ alerts v2\n@@ -5,7 +5,7 @@\n"
    "     condition:\n       type: property_match\n       path: amount\n"
    "       op: gt\n-      value: 100\n+      value: 50\n"
)
BACKTEST_EXAMPLE = {
    "id": "0b6f7a4e-3d1c-4b1e-9a55-1c2d3e4f5a6b",
    "kind": "alerts",
    "candidate": 2,
    "baseline": 1,
    "from": "2026-11-28T10:00:00Z",
    "to": "2026-12-05T10:00:00Z",
    "status": "done",
    "progress": 1.0,
    "events": 1200,
    "result": {
        "events": 1200,
        "rules": [
            {
                "rule": "1100",
                "active": 3,
                "candidate": 5,
                "added": 2,
                "removed": 0,
                "users": 2,
            }
        ],
        "samples": [
            {
                "event_id": "txn:1:1733392800",
                "user_id": 1,
                "rule": "1100",
                "change": "added",
                "why": "amount 75.00 is greater than 50",
            }
        ],
    },
    "error": "",
    "created_by": "risk-team",
    "created_at": "2026-12-05T10:00:00Z",
    "finished_at": "2026-12-05T10:00:02Z",
}


class RuleSetVersionsView(RulesAccess, APIView):
    """GET /api/v1/rules/{kind}/versions: the change log; POST: a new version, a draft."""

    # A version's YAML text (SOURCE_MAX_CHARS) as a JSON string.
    max_body_bytes = 1024 * 1024

    @extend_schema(
        operation_id="rule_set_versions_list",
        summary="The change log of a kind's rules",
        description=(
            "The versions, newest first: who created each and when, its status, and each time "
            "it was made active (by whom, when, which version it replaced, and the unified "
            "diff from that one). `page_size` versions a page (100 by default, at most 1,000); "
            "`next` is the URL of the next page (a keyset cursor), null on the last. "
            + ACCESS
            + "Errors: 400 `invalid_query`, 404 `unknown_rule_set_kind`."
        ),
        parameters=[KIND, RuleSetHistoryQuerySerializer],
        responses={
            200: RuleSetHistorySerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "a candidate activated",
                value={
                    "kind": "alerts",
                    "versions": [
                        {
                            **VERSION_EXAMPLE,
                            "status": "active",
                            "activated_at": "2026-12-05T10:05:00Z",
                            "activations": [
                                {
                                    "activated_by": "risk-lead",
                                    "activated_at": "2026-12-05T10:05:00Z",
                                    "replaced": 1,
                                    "diff": DIFF,
                                }
                            ],
                        }
                    ],
                    "next": "http://localhost:8000/api/v1/rules/alerts/versions?cursor=2",
                },
                response_only=True,
                status_codes=["200"],
            ),
            UNKNOWN_KIND,
        ],
    )
    def get(self, request: Request, kind: str) -> Response:
        query = query_parse(RuleSetHistoryQuerySerializer, request)
        page = rule_set_history(kind, before=query.get("cursor"), page_size=query["page_size"])
        cursor = None if page.next_cursor is None else str(page.next_cursor)
        body = {"kind": kind, "versions": page.versions, "next": next_page_url(request, cursor)}
        return Response(RuleSetHistorySerializer(body).data)

    @extend_schema(
        operation_id="rule_set_version_create",
        summary="Store a candidate version of a kind's rules",
        description=(
            "The YAML text in the kind's file format, stored as the next version, a `draft`: "
            "nothing evaluates it until it is activated. A source some version already has, "
            "byte for byte, stores nothing: 200 with that version (the active one if it is "
            "among them, else the newest). " + ACCESS + "Errors: 400 "
            "`invalid_payload`, 400 `invalid_rules` (details: `rule`, `field`, the `line` "
            "of the mistake in the source, and the `path`), 404 `unknown_rule_set_kind`."
        ),
        parameters=[KIND],
        request=RuleSetVersionCreateSerializer,
        responses={
            201: RuleSetVersionSerializer,
            200: RuleSetVersionSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "lower the withdrawal threshold",
                value={"source": "rules:\n  - code: 1100\n    ...", "note": "withdrawals over 50"},
                request_only=True,
            ),
            OpenApiExample(
                "created", value=VERSION_EXAMPLE, response_only=True, status_codes=["201"]
            ),
            OpenApiExample(
                "invalid rules",
                value={
                    "error": "invalid_rules",
                    "message": "The alerts rules are invalid: rules[1] (code 30).condition.count:"
                    " must be an integer",
                    "details": {
                        "path": "rules[1] (code 30).condition.count",
                        "rule": "rules[1] (code 30)",
                        "field": "condition.count",
                        "line": 22,
                    },
                },
                response_only=True,
                status_codes=["400"],
            ),
            UNKNOWN_KIND,
        ],
    )
    def post(self, request: Request, kind: str) -> Response:
        query_parse(NoQuerySerializer, request)
        serializer = RuleSetVersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version, created = rule_set_version_get_or_create(
            kind=kind, created_by=actor_name(request), **serializer.validated_data
        )
        return Response(RuleSetVersionSerializer(version).data, status=201 if created else 200)


class RuleSetVersionView(RulesAccess, APIView):
    """GET /api/v1/rules/{kind}/versions/{n}: one version with its source."""

    @extend_schema(
        operation_id="rule_set_version_get",
        summary="One version of a kind's rules, with its source",
        description=(
            "With `source` and `diff`, the unified diff from the active version to this one. "
            + ACCESS
            + "Errors: 400 `invalid_query` (it takes no query parameter), 404 "
            "`unknown_rule_set_kind`, 404 `rule_set_version_not_found`."
        ),
        parameters=[KIND, VERSION],
        responses={
            200: RuleSetVersionDetailSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "a draft",
                value={
                    **VERSION_EXAMPLE,
                    "source": "rules:\n  - code: 1100\n    ...",
                    "diff": DIFF,
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request, kind: str, n: int) -> Response:
        query_parse(NoQuerySerializer, request)
        detail = rule_set_version_detail(kind=kind, version=n)
        return Response(RuleSetVersionDetailSerializer(detail).data)


class RuleSetActiveView(RulesAccess, APIView):
    """GET /api/v1/rules/{kind}/active: the version every process evaluates."""

    @extend_schema(
        operation_id="rule_set_active_get",
        summary="The active version of a kind's rules",
        description=ACCESS
        + "Errors: 400 `invalid_query` (it takes no query parameter), 404 `unknown_rule_set_kind`.",
        parameters=[KIND],
        responses={
            200: RuleSetVersionDetailSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, kind: str) -> Response:
        query_parse(NoQuerySerializer, request)
        detail = rule_set_version_detail(kind=kind, version=None)
        return Response(RuleSetVersionDetailSerializer(detail).data)


class RuleSetActivateView(RulesAccess, APIView):
    """POST /api/v1/rules/{kind}/versions/{n}/activate: make it the one evaluated."""

    @extend_schema(
        operation_id="rule_set_version_activate",
        summary="Make a version the active one (a retired one: the rollback)",
        description=(
            "The previous active version becomes `retired`, and the change log records who "
            "activated which version, when. Every web and worker process evaluates new "
            "events under it within 2 s, without a restart. Activating the active version "
            "changes nothing. No body, or `{}`. " + ACCESS + "Errors: 400 `invalid_payload`, "
            "400 `invalid_rules` (the kind no longer compiles the version, e.g. a notification "
            "template it sends is gone from the templates file; details as when stored), "
            "404 `unknown_rule_set_kind`, 404 `rule_set_version_not_found`."
        ),
        parameters=[KIND, VERSION],
        request=None,
        responses={
            200: RuleSetVersionSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "activated",
                value={**VERSION_EXAMPLE, "status": "active", "activated_at": "2026-12-05T10:05Z"},
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def post(self, request: Request, kind: str, n: int) -> Response:
        query_parse(NoQuerySerializer, request)
        RuleSetActivateSerializer(data=request.data).is_valid(raise_exception=True)
        version = rule_set_version_activate(kind=kind, version=n, activated_by=actor_name(request))
        return Response(RuleSetVersionSerializer(version).data)


class RuleSetBacktestCreateView(RulesAccess, APIView):
    """POST /api/v1/rules/{kind}/versions/{n}/backtests: replay history under it."""

    @extend_schema(
        operation_id="rule_set_backtest_create",
        summary="Backtest a version against the active one on stored history",
        description=(
            "Answers 202 at once; a worker replays the window's stored events under both "
            'versions (docs/rules.md, "Backtests"). Poll `GET /api/v1/rules/backtests/{id}` '
            "(the `Location` header) until `status` is `done` or `failed`. `from` and `to`: "
            "by default the 7 days before now; at most 31 days. " + ACCESS + "Errors: 400 "
            "`invalid_payload`, 400 `invalid_backtest_window`, 404 `unknown_rule_set_kind`, "
            "404 `rule_set_version_not_found`."
        ),
        parameters=[KIND, VERSION],
        request=BacktestCreateSerializer,
        responses={
            202: BacktestSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        examples=[
            OpenApiExample(
                "a week",
                value={"from": "2026-11-28T10:00:00Z", "to": "2026-12-05T10:00:00Z"},
                request_only=True,
            ),
            OpenApiExample(
                "running",
                value={
                    **BACKTEST_EXAMPLE,
                    "status": "running",
                    "progress": 0.0,
                    "events": 0,
                    "result": None,
                    "finished_at": None,
                },
                response_only=True,
                status_codes=["202"],
            ),
        ],
    )
    def post(self, request: Request, kind: str, n: int) -> Response:
        query_parse(NoQuerySerializer, request)
        serializer = BacktestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        window = serializer.validated_data
        backtest = rule_set_backtest_create(
            kind=kind,
            version=n,
            start=window.get("from"),
            end=window.get("to"),
            created_by=actor_name(request),
        )
        location = f"/api/v1/rules/backtests/{backtest.pk}"
        return Response(
            BacktestSerializer(backtest).data, status=202, headers={"Location": location}
        )


class RuleSetBacktestView(RulesAccess, APIView):
    """GET /api/v1/rules/backtests/{id}: a backtest's progress, then its result."""

    @extend_schema(
        operation_id="rule_set_backtest_get",
        summary="A backtest: its progress while running, its result when done",
        description=(
            "`result` once `done`: `events` replayed and, per rule, how many events each "
            "version matches, `added`, `removed`, `users` whose outcome changes (and for "
            "notifications the outcomes after limits), plus up to 50 `samples`. `error` says "
            "why when `failed`. " + ACCESS + "Errors: 400 `invalid_query` (it takes no query "
            "parameter), 404 `backtest_not_found`."
        ),
        responses={
            200: BacktestSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
        },
        examples=[
            OpenApiExample("done", value=BACKTEST_EXAMPLE, response_only=True, status_codes=["200"])
        ],
    )
    def get(self, request: Request, backtest_id: str) -> Response:
        query_parse(NoQuerySerializer, request)
        return Response(BacktestSerializer(rule_set_backtest_get(backtest_id)).data)
