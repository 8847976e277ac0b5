"""Inspections through the JSON API: crediting by grade, the scanned card, scanning."""

import re

import pytest
from testsupport import assert_problem, balance_of, inspection_journals, inspection_rows

from app.auth.models import HOUSEHOLD, STOREKEEPER
from app.db import db
from app.households.cards import card_payload, make_token
from app.households.services import reissue_card
from app.ledger import services as ledger

pytestmark = pytest.mark.usefixtures("photo_folder")

INSPECTION_FIELDS = {
    "id",
    "household_id",
    "grade",
    "points",
    "transaction_id",
    "balance",
    "inspected_at",
}


# Crediting by grade ------------------------------------------------------------------------


@pytest.mark.parametrize(("grade", "points"), [("A", 3), ("B", 2), ("C", 1), ("D", 0)])
def test_each_default_grade_credits_its_points(inspect, make_household, grade, points):
    household = make_household(points=4)

    response = inspect(household, grade)

    assert response.status_code == 201, response.json
    body = response.json
    assert INSPECTION_FIELDS <= set(body)
    assert body["household_id"] == household.id
    assert body["grade"] == grade
    assert body["points"] == points
    assert body["balance"] == 4 + points
    assert re.search(r"(Z|[+-]\d\d:\d\d)$", body["inspected_at"])
    assert response.headers["Location"].endswith(f"/api/v1/inspections/{body['id']}")
    assert balance_of(household.id) == 4 + points
    if points:
        assert isinstance(body["transaction_id"], int)
    else:
        assert body["transaction_id"] is None
    assert inspection_journals() == (1 if points else 0)


def test_a_zero_point_grade_is_recorded_and_listed(client, inspect, household, inspector_headers):
    created = inspect(household, "D").json

    listed = client.get(
        f"/api/v1/inspections?household_id={household.id}", headers=inspector_headers
    )

    assert listed.status_code == 200
    assert [item["id"] for item in listed.json["items"]] == [created["id"]]
    assert listed.json["items"][0]["transaction_id"] is None
    assert listed.json["items"][0]["points"] == 0
    assert ledger.verify().ok


def test_the_credit_shows_in_the_households_ledger(client, inspect, household, admin_headers):
    created = inspect(household, "A").json

    entries = client.get(f"/api/v1/households/{household.id}/ledger", headers=admin_headers).json[
        "items"
    ]

    assert [(e["transaction_id"], e["kind"], e["amount"], e["balance_after"]) for e in entries] == [
        (created["transaction_id"], "inspection", 3, 3)
    ]


def test_one_inspection_is_read_back(client, inspect, household, inspector_headers):
    created = inspect(household, "B", note="分类较好").json

    shown = client.get(f"/api/v1/inspections/{created['id']}", headers=inspector_headers)

    assert shown.status_code == 200
    assert shown.json["note"] == "分类较好"
    assert {k: shown.json[k] for k in INSPECTION_FIELDS} == {
        k: created[k] for k in INSPECTION_FIELDS
    }


def test_admin_may_inspect_too(inspect, household, admin_headers):
    response = inspect(household, "A", headers=admin_headers)

    assert response.status_code == 201
    assert response.json["balance"] == 3


@pytest.mark.parametrize("role", [STOREKEEPER, HOUSEHOLD])
def test_other_roles_may_not_inspect(inspect, make_user, token_for, household, role):
    user = make_user(role, household=household if role == HOUSEHOLD else None)

    assert_problem(inspect(household, headers=token_for(user)), 403)
    assert balance_of(household.id) == 0


def test_inspection_without_a_token_is_401(client, household):
    response = client.post("/api/v1/inspections", json={"household_id": household.id, "grade": "A"})

    assert_problem(response, 401, "unauthorized")


# The scanned card ----------------------------------------------------------------------


def test_inspection_by_the_full_card_url(inspect, household):
    payload = card_payload(household)
    assert payload.startswith("http://greenpoints.test/q/")

    response = inspect(grade="A", payload=payload)

    assert response.status_code == 201
    assert response.json["household_id"] == household.id
    assert balance_of(household.id) == 3


def test_inspection_by_the_bare_card_token(inspect, household):
    response = inspect(grade="B", payload=make_token(household))

    assert response.status_code == 201
    assert response.json["household_id"] == household.id


@pytest.mark.parametrize(
    "payload",
    ["hello", "http://greenpoints.test/q/" + "A" * 27, "https://evil.example/q/not-a-token"],
)
def test_a_forged_or_garbled_card_is_422_invalid_qr(inspect, household, payload):
    assert_problem(inspect(grade="A", payload=payload), 422, "invalid_qr")
    assert inspection_rows(household.id) == 0


def test_a_card_of_another_village_is_422_invalid_qr(inspect, make_village, make_household):
    elsewhere = make_household(of=make_village("李家村", "LJ"))

    assert_problem(inspect(grade="A", payload=card_payload(elsewhere)), 422, "invalid_qr")
    assert balance_of(elsewhere.id) == 0


def test_a_card_of_another_village_answers_as_any_unreadable_card(
    inspect, household, make_village, make_household
):
    """Its answer must not confirm that the card is genuine (issue 34)."""
    elsewhere = card_payload(make_household(of=make_village("李家村", "LJ")))
    ours = card_payload(household)
    forged = ours[:-3] + ("AAA" if not ours.endswith("AAA") else "BBB")

    answers = [inspect(grade="A", payload=p) for p in (elsewhere, "hello", forged)]

    bodies = [assert_problem(answer, 422, "invalid_qr") for answer in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    assert "another village" not in bodies[0]["detail"]
    assert inspection_rows(household.id) == 0


def test_a_household_of_another_village_by_id_is_404(inspect, make_village, make_household):
    elsewhere = make_household(of=make_village("李家村", "LJ"))

    body = assert_problem(inspect(elsewhere, "A"), 404, "not_found")

    assert "李家村" not in str(body)
    assert balance_of(elsewhere.id) == 0


def test_a_reissued_card_is_410_revoked_qr(inspect, household):
    old = card_payload(household)
    reissue_card(household, actor_id=None, reason="丢失")
    db.session.commit()

    assert_problem(inspect(grade="A", payload=old), 410, "revoked_qr")
    assert inspect(grade="A", payload=card_payload(household)).status_code == 201


def test_an_unknown_household_is_404(inspect):
    response = inspect(grade="A", household_id=999_999)

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("which", ["both", "neither"])
def test_household_id_and_payload_are_one_or_the_other(inspect, household, which):
    body = (
        {"household_id": household.id, "payload": card_payload(household)}
        if which == "both"
        else {}
    )

    problem = assert_problem(inspect(grade="A", **body), 422, "validation_error")

    assert problem["errors"]
    assert balance_of(household.id) == 0


@pytest.mark.parametrize("grade", ["E", "", "a", "优", "ABCDEFGHIJ"])
def test_a_bad_grade_is_422_naming_the_grade(inspect, household, grade):
    problem = assert_problem(inspect(household, grade), 422, "validation_error")

    assert "grade" in problem["errors"]
    assert inspection_rows(household.id) == 0


def test_a_missing_grade_is_422(client, household, inspector_headers):
    response = client.post(
        "/api/v1/inspections", json={"household_id": household.id}, headers=inspector_headers
    )

    assert "grade" in assert_problem(response, 422, "validation_error")["errors"]


# Scanning -----------------------------------------------------------------------------


def test_scan_tells_whether_the_household_was_inspected_today(
    client, inspect, household, inspector_headers
):
    def scan():
        response = client.post(
            "/api/v1/scan", json={"payload": card_payload(household)}, headers=inspector_headers
        )
        assert response.status_code == 200, response.json
        return response.json

    assert scan()["inspected_today"] is False
    inspect(household, "B")

    scanned = scan()
    assert scanned["inspected_today"] is True
    assert scanned["household"]["id"] == household.id
    assert scanned["household"]["balance"] == 2


def test_every_inspection_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    assert {"post", "get"} <= set(paths["/api/v1/inspections"])
    assert "post" in paths["/api/v1/inspections/{inspection_id}/void"]
    assert {"post", "get"} <= set(paths["/api/v1/inspections/{inspection_id}/photo"])
    assert {"get", "put"} <= set(paths["/api/v1/rules"])
    assert "get" in paths["/api/v1/rules/history"]
