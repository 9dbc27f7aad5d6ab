"""HTTP API of the users app: POST /users."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from midnite_test.serializers import ErrorSerializer, NoQuerySerializer, query_parse
from users.serializers import UserOutputSerializer, UserRegisterInputSerializer
from users.services import user_register


class UserRegisterView(APIView):
    """POST /users: register a user and announce it to analytics."""

    @extend_schema(
        operation_id="user_register",
        summary="Register a user",
        description=(
            "Errors: 400 `invalid_payload` (details name each bad field), 400 `invalid_query` "
            "(a query parameter: none is taken), 409 `email_taken` "
            "(another user has this email in any letter case)."
        ),
        request=UserRegisterInputSerializer,
        responses={201: UserOutputSerializer, 400: ErrorSerializer, 409: ErrorSerializer},
        examples=[
            OpenApiExample(
                "ada",
                value={"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
                request_only=True,
            ),
            OpenApiExample(
                "email taken",
                value={
                    "error": "email_taken",
                    "message": "A user with this email already exists.",
                    "details": {"email": "ADA@example.com"},
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        query_parse(NoQuerySerializer, request)
        serializer = UserRegisterInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_register(**serializer.validated_data)
        return Response(UserOutputSerializer(user).data, status=201)
