"""POST /users registers a user once per email, whatever its letter case, in the one error shape.

A registration stores the user and publishes one `user_created` outbox message in the same
transaction; a rejected one stores and publishes nothing.
"""

from datetime import datetime

import pytest

from midnite_test.tests.concurrently import post_all_at_once
from outbox.models import OutboxMessage
from users.analytics import TOPIC_USER_CREATED
from users.models import User

VALID = {"email": "Ada.Lovelace@Example.com", "first_name": "Ada", "last_name": "Lovelace"}
THREADS = 8


def _published() -> int:
    return OutboxMessage.objects.filter(topic=TOPIC_USER_CREATED).count()


def _with(**changes) -> dict:
    return {**VALID, **changes}


def _without(field: str) -> dict:
    return {name: value for name, value in VALID.items() if name != field}


def test_a_registration_is_201_with_the_stored_user(api_client, db):
    response = api_client.post("/users", VALID, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "first_name", "last_name", "created_at"}
    user = User.objects.get()
    assert body["id"] == user.pk
    assert (body["email"], body["first_name"], body["last_name"]) == (
        "Ada.Lovelace@Example.com",
        "Ada",
        "Lovelace",
    )
    assert datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")) == user.created_at


def test_a_registration_publishes_one_user_created_message(api_client, db):
    response = api_client.post("/users", VALID, format="json")

    [message] = OutboxMessage.objects.filter(topic=TOPIC_USER_CREATED)
    assert message.payload["user_id"] == response.json()["id"]
    assert message.payload["context"]["email"] == VALID["email"]


def test_the_url_with_a_trailing_slash_registers_too(api_client, db):
    response = api_client.post("/users/", VALID, format="json")

    assert response.status_code == 201
    assert User.objects.filter(pk=response.json()["id"]).exists()


def test_an_email_taken_in_another_letter_case_is_409(api_client, db):
    api_client.post("/users", VALID, format="json")

    response = api_client.post(
        "/users", _with(email="ada.LOVELACE@example.COM", first_name="Other"), format="json"
    )

    assert response.status_code == 409
    assert response.json() == {
        "error": "email_taken",
        "message": "A user with this email already exists.",
        "details": {"email": "ada.LOVELACE@example.COM"},
    }


def test_an_email_taken_stores_and_publishes_nothing_more(api_client, db):
    api_client.post("/users", VALID, format="json")

    api_client.post("/users", VALID, format="json")
    api_client.post("/users", _with(email=VALID["email"].upper()), format="json")

    assert User.objects.count() == 1
    assert _published() == 1


@pytest.mark.parametrize(
    "email", ["not-an-email", "ada@", "@example.com", "ada@@example.com", "", None, 42]
)
def test_an_invalid_email_is_400_naming_email(api_client, db, email):
    response = api_client.post("/users", _with(email=email), format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert set(response.json()["details"]) == {"email"}
    assert User.objects.count() == 0
    assert _published() == 0


@pytest.mark.parametrize("field", ["first_name", "last_name"])
@pytest.mark.parametrize("name", ["A\u0007B", "Ada\r\nBcc: eve@example.com", "Ada\u009b"])
def test_a_name_with_a_control_character_is_400_naming_it(api_client, db, field, name):
    """Before: 201, and the name reached the notifications' emails with its control character,
    as event ids and tenants never do."""
    response = api_client.post("/users", _with(**{field: name}), format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert set(response.json()["details"]) == {field}
    assert "Control characters" in response.json()["details"][field][0]
    assert User.objects.count() == 0
    assert _published() == 0


@pytest.mark.parametrize("field", ["email", "first_name", "last_name"])
def test_a_missing_field_is_400_naming_it(api_client, db, field):
    response = api_client.post("/users", _without(field), format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert set(response.json()["details"]) == {field}
    assert User.objects.count() == 0


def test_every_missing_field_is_named_at_once(api_client, db):
    response = api_client.post("/users", {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["details"]) == {"email", "first_name", "last_name"}


def test_unknown_fields_are_400_naming_each(api_client, db):
    response = api_client.post("/users", _with(password="x", is_admin=True), format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert set(response.json()["details"]) == {"password", "is_admin"}
    assert User.objects.count() == 0
    assert _published() == 0


def test_unknown_and_missing_fields_are_named_together(api_client, db):
    response = api_client.post("/users", {**_without("last_name"), "age": 36}, format="json")

    assert response.status_code == 400
    assert set(response.json()["details"]) == {"last_name", "age"}


def test_a_non_json_body_is_415(api_client, db):
    response = api_client.post("/users", VALID)  # multipart form data

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    "send",
    [
        lambda client: client.post("/users", {"email": "x"}, format="json"),
        lambda client: client.generic("POST", "/users", "{not json", "application/json"),
        lambda client: client.generic("POST", "/users", "email=a", "text/plain"),
        lambda client: client.get("/users"),
        lambda client: [client.post("/users", VALID, format="json") for _ in range(2)][-1],
    ],
    ids=["invalid_payload", "malformed_json", "unsupported_media_type", "get", "email_taken"],
)
def test_every_error_has_the_one_error_shape(api_client, db, send):
    response = send(api_client)

    assert 400 <= response.status_code < 500
    body = response.json()
    assert set(body) == {"error", "message", "details"}
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    assert isinstance(body["details"], dict)


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_email_in_different_cases_admit_exactly_one(api_key):
    emails = [
        "".join(c.upper() if (i >> n) & 1 else c for n, c in enumerate("race@example.com"))
        for i in range(THREADS)
    ]
    assert len(set(emails)) == THREADS

    responses = post_all_at_once("/users", [_with(email=e) for e in emails], api_key=api_key)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (THREADS - 1), statuses
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"email_taken"}
    [winner] = [r.json() for r in responses if r.status_code == 201]
    assert list(User.objects.values_list("pk", "email")) == [(winner["id"], winner["email"])]
    assert _published() == 1
