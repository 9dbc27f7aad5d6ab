"""batches_work: a run ships what is due and claims until it has caught up."""

import itertools

from outbox.batches import RelayReport, batches_work


def run(claims: list[bool | None]) -> tuple[RelayReport, list[bool | None]]:
    """Run batches_work over `claims` (each claim's answer, a batch of 10 each); return its
    report and the claims left unasked."""
    left = iter(claims)
    due: list[int] = []

    def claim_next() -> bool | None:
        full = next(left, None)
        if full is not None:
            due.append(10)
        return full

    report = batches_work(
        ship_next=lambda: due.pop() if due else None,
        claim_next=claim_next,
        deadline=None,
        clock=itertools.count().__next__,
    )
    return report, list(left)


def test_a_run_ships_full_claims_then_the_claim_that_was_not_and_stops():
    report, unasked = run([True, True, False, True, False])

    assert report == RelayReport(batches=3, messages=30)
    # What committed after the claim that caught up is the next run's.
    assert unasked == [True, False]


def test_a_run_stops_when_there_is_nothing_to_claim():
    report, unasked = run([True, None, True])

    assert report == RelayReport(batches=1, messages=10)
    assert unasked == [True]


def test_a_run_that_caught_up_stops_once_that_batch_is_shipped_without_looking_again():
    """On a tick, a look for another due batch would find none: what fails is due later."""
    looks = []
    due = [10]

    def ship_next() -> int | None:
        looks.append(bool(due))
        return due.pop() if due else None

    report = batches_work(
        ship_next=ship_next,
        claim_next=lambda: due.append(10) or False,
        deadline=None,
        clock=itertools.count().__next__,
    )

    assert report == RelayReport(batches=2, messages=20)
    assert looks == [True, False, True], "a due batch, none, the claimed one: then no look"
