"""Refused inspections (conflict of interest, moved away, the daily limit) and replays."""

import pytest
from sqlalchemy import select
from testsupport import (
    assert_problem,
    balance_of,
    inspection_journals,
    inspection_rows,
    run_at_once,
)

from app.auth.models import INSPECTOR
from app.db import db
from app.households.cards import card_payload
from app.households.services import update_household
from app.inspections import services
from app.inspections.models import Inspection
from app.ledger import services as ledger

pytestmark = pytest.mark.usefixtures("photo_folder")

# Refusals: conflict of interest, moved away, the daily limit ---------------------------------


def test_an_inspector_may_not_inspect_their_own_household(inspect, make_user, token_for, household):
    neighbour = make_user(INSPECTOR, household=household)

    response = inspect(household, "A", headers=token_for(neighbour))

    assert_problem(response, 403, "conflict_of_interest")
    assert balance_of(household.id) == 0
    assert inspection_rows(household.id) == 0
    # Another inspector may.
    assert inspect(household, "A").status_code == 201


def test_conflict_of_interest_also_holds_for_the_card_payload(
    inspect, make_user, token_for, household
):
    neighbour = make_user(INSPECTOR, household=household)

    response = inspect(grade="A", payload=card_payload(household), headers=token_for(neighbour))

    assert_problem(response, 403, "conflict_of_interest")


def test_a_household_that_moved_away_is_409_household_inactive(inspect, household):
    update_household(household, {"status": "moved"})
    db.session.commit()

    assert_problem(inspect(household, "A"), 409, "household_inactive")
    assert_problem(inspect(grade="A", payload=card_payload(household)), 409, "household_inactive")
    assert balance_of(household.id) == 0
    assert inspection_rows(household.id) == 0


def test_a_second_inspection_the_same_day_is_409(inspect, make_user, token_for, household):
    assert inspect(household, "A").status_code == 201
    other = token_for(make_user(INSPECTOR))

    for headers in (None, other):
        assert_problem(inspect(household, "B", headers=headers), 409, "already_inspected_today")
    assert_problem(inspect(household, "D"), 409, "already_inspected_today")
    assert balance_of(household.id) == 3
    assert inspection_rows(household.id) == 1
    assert inspection_journals() == 1


def test_the_limit_is_per_household(inspect, make_household):
    first = make_household()
    second = make_household(name="王建国")

    assert inspect(first, "A").status_code == 201
    assert inspect(second, "A").status_code == 201


def test_daily_limit_two_allows_exactly_two(inspect, put_rules, household):
    assert (
        put_rules({"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "daily_limit": 2}).status_code == 200
    )

    assert inspect(household, "A").status_code == 201
    assert inspect(household, "B").status_code == 201
    assert_problem(inspect(household, "C"), 409, "already_inspected_today")
    assert balance_of(household.id) == 5
    assert inspection_rows(household.id) == 2


def test_a_zero_point_grade_still_counts_against_the_limit(inspect, household):
    assert inspect(household, "D").status_code == 201

    assert_problem(inspect(household, "A"), 409, "already_inspected_today")
    assert balance_of(household.id) == 0


def test_the_limit_holds_in_the_database(household, inspector):
    """A second row for the same household, day and slot is refused by the schema itself."""
    services.record_inspection(household, inspector, "A")
    db.session.commit()
    first = db.session.scalars(select(Inspection)).one()
    duplicate = Inspection(
        village_id=first.village_id,
        household_id=first.household_id,
        grid_id=first.grid_id,
        inspector_id=first.inspector_id,
        grade="A",
        points=3,
        local_date=first.local_date,
        slot=first.slot,
        rules_id=first.rules_id,
    )
    db.session.add(duplicate)
    with pytest.raises(Exception, match="(?i)unique"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("daily_limit", [1, 2])
def test_inspectors_racing_at_one_door_credit_at_most_the_limit(
    app, client, make_user, token_for, make_household, put_rules, daily_limit
):
    if daily_limit != 1:
        assert (
            put_rules(
                {"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "daily_limit": daily_limit}
            ).status_code
            == 200
        )
    household = make_household(points=1)
    household_id = household.id
    workers = 8
    grades = ["A", "B", "C", "A", "B", "C", "A", "B"]
    value = {"A": 3, "B": 2, "C": 1}
    headers = [token_for(make_user(INSPECTOR)) for _ in range(workers)]

    def send(index):
        response = app.test_client().post(
            "/api/v1/inspections",
            headers=headers[index],
            json={"household_id": household_id, "grade": grades[index]},
        )
        body = response.json
        return response.status_code, body.get("code"), body.get("points")

    results = run_at_once(app, workers, send)

    assert all(status < 500 for status, *_ in results), results
    succeeded = [r for r in results if r[0] == 201]
    refused = [r for r in results if r[0] != 201]
    assert len(succeeded) == daily_limit, results
    assert set(refused) <= {(409, "already_inspected_today", None)}, results
    assert [value[grades[i]] for i, r in enumerate(results) if r[0] == 201] == [
        points for *_, points in succeeded
    ]
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 1 + sum(points for *_, points in succeeded)
    assert inspection_rows(household_id) == daily_limit
    assert inspection_journals() == daily_limit
    assert ledger.verify().ok


# Idempotency ---------------------------------------------------------------------------


def test_a_replay_returns_the_first_answer_and_credits_once(inspect, household):
    first = inspect(household, "A", key="door-1", note="好")
    again = inspect(household, "A", key="door-1", note="好")

    assert first.status_code == again.status_code == 201
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Location"] == first.headers["Location"]
    assert balance_of(household.id) == 3
    assert inspection_journals() == 1
    assert inspection_rows(household.id) == 1


def test_the_same_key_with_another_grade_is_422_idempotency_conflict(inspect, household):
    assert inspect(household, "A", key="door-2").status_code == 201

    assert_problem(inspect(household, "B", key="door-2"), 422, "idempotency_conflict")
    assert balance_of(household.id) == 3


def test_a_refusal_is_replayed_under_its_key(inspect, household):
    assert inspect(household, "A").status_code == 201
    first = inspect(household, "B", key="door-3")

    again = inspect(household, "B", key="door-3")

    assert_problem(first, 409, "already_inspected_today")
    assert again.status_code == 409
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_validation_failure_is_not_stored_under_its_key(inspect, household):
    assert_problem(inspect(household, "Z", key="door-4"), 422, "validation_error")
    # Nothing was stored, so the corrected request is no idempotency_conflict.
    response = inspect(household, "A", key="door-4")

    assert response.status_code == 201


def test_the_same_key_from_many_connections_inspects_once(
    app, make_household, inspector, token_for
):
    household = make_household()
    household_id = household.id
    headers = {**token_for(inspector), "Idempotency-Key": "same-door-same-moment"}
    workers = 8

    def send(_index):
        response = app.test_client().post(
            "/api/v1/inspections",
            headers=headers,
            json={"household_id": household_id, "grade": "A"},
        )
        return (
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("Idempotent-Replayed"),
        )

    results = run_at_once(app, workers, send)

    assert {(status, text) for status, text, _ in results} == {(201, results[0][1])}, results
    assert sum(1 for *_, replayed in results if replayed is None) == 1
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 3
    assert inspection_rows(household_id) == 1
    assert inspection_journals() == 1
    assert ledger.verify().ok
