"""POST /event: answers, alert codes and idempotency through the HTTP API."""

from alerts.models import Alert
from events.models import Event


def test_deposit_without_alert_answers_no_codes(post_event):
    response = post_event("deposit", "42.00", 10)

    assert response.status_code == 200
    assert response.json() == {"alert": False, "alert_codes": [], "user_id": 1}


def test_trailing_slash_is_the_same_endpoint(api_client, users):
    body = {"type": "deposit", "amount": "1.00", "user_id": 1, "t": 1}

    response = api_client.post("/event/", body, format="json")

    assert response.status_code == 200
    assert Event.objects.count() == 1


def test_withdraw_over_100_raises_1100(post_event):
    assert post_event("withdraw", "100.01", 1).json()["alert_codes"] == [1100]


def test_withdraw_of_exactly_100_does_not_raise_1100(post_event):
    assert post_event("withdraw", "100.00", 1).json()["alert_codes"] == []


def test_three_withdraws_in_a_row_raise_30(codes_for):
    codes = codes_for([("withdraw", "1", 1), ("withdraw", "1", 2), ("withdraw", "1", 3)])

    assert codes == [[], [], [30]]


def test_fourth_withdraw_in_a_row_raises_30_again(codes_for):
    codes = codes_for([("withdraw", "1", t) for t in (1, 2, 3, 4)])

    assert codes[3] == [30]


def test_deposit_between_withdraws_breaks_30(codes_for):
    codes = codes_for(
        [("withdraw", "1", 1), ("withdraw", "1", 2), ("deposit", "1", 3), ("withdraw", "1", 4)]
    )

    assert codes[3] == []


def test_three_increasing_deposits_raise_300_ignoring_withdraws_between(codes_for):
    codes = codes_for(
        [
            ("deposit", "10", 1),
            ("withdraw", "500", 2),
            ("deposit", "20", 3),
            ("withdraw", "1", 4),
            ("deposit", "30", 100),
        ]
    )

    assert codes[4] == [300]


def test_equal_deposits_do_not_raise_300(codes_for):
    codes = codes_for([("deposit", "10", 1), ("deposit", "20", 100), ("deposit", "20", 200)])

    assert codes[2] == []


def test_deposits_over_200_within_30_seconds_raise_123(codes_for):
    codes = codes_for([("deposit", "150", 1), ("deposit", "50.01", 31)])

    assert codes[1] == [123]


def test_deposit_at_t_minus_31_is_outside_the_123_window(codes_for):
    codes = codes_for([("deposit", "150", 1), ("deposit", "60", 32)])

    assert codes[1] == []


def test_deposits_summing_exactly_200_do_not_raise_123(codes_for):
    codes = codes_for([("deposit", "150", 1), ("deposit", "50.00", 31)])

    assert codes[1] == []


def test_one_deposit_can_raise_several_codes_in_ascending_order(codes_for):
    codes = codes_for([("deposit", "60", 1), ("deposit", "70", 2), ("deposit", "80", 3)])

    assert codes[2] == [123, 300]


def test_withdraw_can_raise_30_and_1100_together(codes_for):
    codes = codes_for([("withdraw", "1", 1), ("withdraw", "1", 2), ("withdraw", "150", 3)])

    assert codes[2] == [30, 1100]


def test_users_do_not_affect_each_other(codes_for):
    codes_for([("withdraw", "1", 1), ("withdraw", "1", 2)], user_id=1)

    other = codes_for([("withdraw", "1", 3)], user_id=2)
    own = codes_for([("withdraw", "1", 3)], user_id=1)

    assert other == [[]]
    assert own == [[30]]


def test_other_user_may_send_an_earlier_t(codes_for):
    codes_for([("deposit", "1", 1000)], user_id=1)

    assert codes_for([("deposit", "1", 1)], user_id=2) == [[]]


def test_json_number_amount_is_accepted(post_event):
    response = post_event("withdraw", 150.5, 1)

    assert response.status_code == 200
    assert str(Event.objects.get().amount) == "150.50"


def test_same_request_again_returns_the_stored_answer_and_stores_nothing(post_event):
    first = post_event("withdraw", "150.00", 1)

    again = post_event("withdraw", "150", 1)

    assert again.status_code == 200
    assert again.json() == first.json() == {"alert": True, "alert_codes": [1100], "user_id": 1}
    assert Event.objects.count() == 1
    assert Alert.objects.count() == 1


def test_an_older_t_is_400_even_when_the_same_request_used_it_before(post_event):
    post_event("deposit", "10", 0)
    post_event("withdraw", "10", 1)

    again = post_event("deposit", "10", 0)

    assert again.status_code == 400
    assert again.json()["error"] == "timestamp_out_of_order"
    assert Event.objects.count() == 2


def test_a_used_older_t_with_another_body_is_400_not_409(post_event):
    post_event("deposit", "10", 0)
    post_event("withdraw", "10", 1)

    assert post_event("deposit", "99", 0).json()["error"] == "timestamp_out_of_order"


def test_different_request_with_a_used_t_is_409(post_event):
    post_event("deposit", "10", 5)

    response = post_event("deposit", "11", 5)

    assert response.status_code == 409
    assert response.json()["error"] == "duplicate_timestamp"
    assert Event.objects.count() == 1


def test_t_below_the_users_latest_is_400(post_event):
    post_event("deposit", "10", 5)

    response = post_event("deposit", "10", 4)

    assert response.status_code == 400
    assert response.json()["error"] == "timestamp_out_of_order"
    assert Event.objects.count() == 1


def test_unknown_user_is_400(post_event):
    response = post_event("deposit", "10", 1, user_id=99)

    assert response.status_code == 400
    assert response.json() == {
        "error": "unknown_user",
        "message": "User 99 does not exist.",
        "details": {"user_id": 99},
    }
    assert Event.objects.count() == 0
