"""The Idempotency-Key: a replay answers the same and moves points once; a misuse is refused."""

import pytest
from testsupport import assert_problem, balance_of


def test_replay_returns_the_same_response_and_moves_points_once(adjust, household):
    first = adjust(household, 5, key="adj-1")
    again = adjust(household, 5, key="adj-1")

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert balance_of(household) == 5


def test_same_key_with_another_body_is_422_idempotency_conflict(adjust, household):
    adjust(household, 5, key="adj-1")

    assert_problem(adjust(household, 6, key="adj-1"), 422, "idempotency_conflict")
    assert balance_of(household) == 5


def test_refusal_is_replayed_even_after_the_balance_would_allow_it(adjust, make_household):
    household = make_household(points=5)
    refused = adjust(household, -8, key="take-8")
    adjust(household, 10, key="top-up")

    replayed = adjust(household, -8, key="take-8")

    assert_problem(replayed, 409, "insufficient_points")
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == refused.json
    assert balance_of(household) == 15


def test_new_key_succeeds_once_the_balance_allows_it(adjust, make_household):
    household = make_household(points=5)
    adjust(household, -8, key="take-8")
    adjust(household, 10, key="top-up")

    response = adjust(household, -8, key="take-8-again")

    assert response.status_code == 201
    assert balance_of(household) == 7


def test_validation_failure_is_not_stored_under_its_key(adjust, household):
    assert_problem(adjust(household, 0, key="adj-1"), 422, "validation_error")

    response = adjust(household, 5, key="adj-1")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert balance_of(household) == 5


@pytest.mark.parametrize("key", ["k" * 65, "two words", "", "café"])
def test_malformed_idempotency_key_is_400_and_moves_nothing(adjust, household, key):
    body = assert_problem(adjust(household, 5, key=key), 400, "validation_error")

    assert "Idempotency-Key" in body["errors"]
    assert balance_of(household) == 0


def test_idempotency_key_of_64_characters_is_accepted(adjust, household):
    assert adjust(household, 5, key="k" * 64).status_code == 201
