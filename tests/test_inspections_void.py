"""Voiding an inspection through the API and the household page: the points go back, once."""

import re

import pytest
from testsupport import (
    admin_client_in_chinese,  # noqa: F401 (the office fixture)
    assert_problem,
    balance_of,
    csrf_token,
    run_at_once,
)

from app.auth.models import ADMIN, INSPECTOR
from app.db import db
from app.households.cards import card_payload
from app.ledger import services as ledger

pytestmark = pytest.mark.usefixtures("photo_folder")

# The API ------------------------------------------------------------------------------


def void(client, inspection_id, headers, reason="误判", key=None):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/inspections/{inspection_id}/void",
        json={"reason": reason},
        headers={**headers, **extra},
    )


def test_admin_voids_an_inspection_and_the_points_go_back(
    client, inspect, household, admin_headers
):
    created = inspect(household, "A").json

    response = void(client, created["id"], admin_headers)

    assert response.status_code == 200, response.json
    assert response.json["voided"] is True
    assert response.json["void_reason"] == "误判"
    assert response.json["balance"] == 0
    assert balance_of(household.id) == 0
    entries = client.get(f"/api/v1/households/{household.id}/ledger", headers=admin_headers).json[
        "items"
    ]
    assert [e["amount"] for e in entries] == [-3, 3]
    assert ledger.verify().ok


def test_after_a_void_the_household_can_be_graded_again_the_same_day(
    client, inspect, household, admin_headers
):
    wrong = inspect(household, "A").json
    assert inspect(household, "B").status_code == 409  # the daily limit holds
    void(client, wrong["id"], admin_headers)
    scanned = client.post(
        "/api/v1/scan", json={"payload": card_payload(household)}, headers=admin_headers
    )
    assert scanned.json["inspected_today"] is False

    regraded = inspect(household, "B")

    assert regraded.status_code == 201, regraded.json
    assert regraded.json["balance"] == 2
    assert inspect(household, "C").status_code == 409  # and it holds again
    assert ledger.verify().ok


def test_voiding_twice_is_409_already_reversed(client, inspect, household, admin_headers):
    created = inspect(household, "A").json
    assert void(client, created["id"], admin_headers).status_code == 200

    assert_problem(void(client, created["id"], admin_headers), 409, "already_reversed")
    assert balance_of(household.id) == 0


def test_voiding_a_zero_point_inspection_works_once(client, inspect, household, admin_headers):
    created = inspect(household, "D").json

    assert void(client, created["id"], admin_headers).status_code == 200
    assert_problem(void(client, created["id"], admin_headers), 409, "already_reversed")
    assert balance_of(household.id) == 0
    assert ledger.verify().ok


def test_voiding_spent_points_is_409_insufficient_points(client, inspect, household, admin_headers):
    created = inspect(household, "A").json
    spent = client.post(
        "/api/v1/adjustments",
        headers=admin_headers,
        json={"household_id": household.id, "amount": -2, "reason": "兑换"},
    )
    assert spent.status_code == 201

    assert_problem(void(client, created["id"], admin_headers), 409, "insufficient_points")

    assert balance_of(household.id) == 1
    shown = client.get(f"/api/v1/inspections/{created['id']}", headers=admin_headers).json
    assert shown["voided"] is False
    assert ledger.verify().ok


@pytest.mark.parametrize("grade", ["A", "D"])
def test_admins_voiding_at_once_void_it_once(
    app, client, inspect, household, make_user, token_for, grade
):
    created = inspect(household, grade).json
    inspection_id, household_id = created["id"], household.id
    headers = [token_for(make_user(ADMIN)) for _ in range(4)]

    def send(index):
        response = app.test_client().post(
            f"/api/v1/inspections/{inspection_id}/void",
            json={"reason": "race"},
            headers=headers[index],
        )
        return response.status_code, response.json.get("code")

    results = run_at_once(app, len(headers), send)

    assert sorted(results, key=str) == sorted(
        [(200, None)] + [(409, "already_reversed")] * 3, key=str
    ), results
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 0
    assert ledger.verify().ok


def test_an_inspector_may_not_void_another_inspectors_grade(
    client, inspect, household, make_user, token_for
):
    created = inspect(household, "A").json
    other = token_for(make_user(INSPECTOR))

    assert_problem(void(client, created["id"], other), 403, "not_own_inspection")
    assert balance_of(household.id) == 3


def test_voiding_an_unknown_inspection_is_404(client, admin_headers):
    assert_problem(void(client, 999_999, admin_headers), 404, "not_found")


def test_voiding_needs_a_reason(client, inspect, household, admin_headers):
    created = inspect(household, "A").json

    response = client.post(
        f"/api/v1/inspections/{created['id']}/void", json={}, headers=admin_headers
    )

    assert "reason" in assert_problem(response, 422, "validation_error")["errors"]
    assert balance_of(household.id) == 3


def test_a_void_replay_answers_the_same(client, inspect, household, admin_headers):
    created = inspect(household, "A").json

    first = void(client, created["id"], admin_headers, key="void-1")
    again = void(client, created["id"], admin_headers, key="void-1")

    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert balance_of(household.id) == 0


def test_another_villages_admin_may_not_void(
    client, inspect, household, make_village, make_user, token_for
):
    created = inspect(household, "A").json
    stranger = make_user(ADMIN, of=make_village("李家村", "LJ"))

    assert_problem(void(client, created["id"], token_for(stranger)), 404)
    assert balance_of(household.id) == 3


# The household page's void form ------------------------------------------------------


@pytest.fixture
def graded(household, make_user):
    """The household graded A (3 points) by an inspector."""
    from app.db import db
    from app.inspections.services import record_inspection

    inspection = record_inspection(household, make_user("inspector", username="li"), "A")
    db.session.commit()
    return inspection


def _void(client, household_id: int, inspection_id: int, reason: str, key: str | None = None):
    page = client.get(f"/admin/households/{household_id}")
    key = (
        key
        or re.search(
            rf'inspections/{inspection_id}/void".*?name="key" value="([0-9a-f]+)"', page.text, re.S
        )[1]
    )
    return client.post(
        f"/admin/households/{household_id}/inspections/{inspection_id}/void",
        data={"reason": reason, "key": key, "csrf_token": csrf_token(client)},
        follow_redirects=True,
    )


def test_the_admin_voids_a_wrong_grade_from_the_household_page(office, household, graded):
    from sqlalchemy import select

    from app.audit.models import AuditEvent
    from app.db import db
    from app.ledger.services import household_account

    page = office.get(f"/admin/households/{household.id}")
    assert "作废这次评分" in page.text

    response = _void(office, household.id, graded.id, "评错了等级")

    assert response.status_code == 200
    assert "这次检查已作废，积分已收回" in response.text
    assert "已作废：评错了等级" in response.text
    assert household_account(household.id).balance == 0
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.target_type == "inspection")
    ).one()
    assert (event.target_id, event.actor_id) == (graded.id, 1)


def test_a_void_is_refused_readably_when_already_voided_or_without_a_reason(
    office, household, graded
):
    from app.ledger.services import household_account

    empty = _void(office, household.id, graded.id, "   ")
    assert empty.status_code == 422
    assert household_account(household.id).balance == 3

    _void(office, household.id, graded.id, "评错了")
    key = "a" * 32
    again = office.post(
        f"/admin/households/{household.id}/inspections/{graded.id}/void",
        data={"reason": "再来一次", "key": key, "csrf_token": csrf_token(office)},
        follow_redirects=True,
    )
    assert again.status_code == 200
    [said] = re.findall(r"data-void-error>([^<]*)</p>", again.text)
    assert said and not re.search("[A-Za-z]", said), said
    assert household_account(household.id).balance == 0


def test_an_inspection_of_another_household_is_not_voided_through_this_one(
    office, make_household, graded
):
    other = make_household(name="王建国", address="和平路12号")

    response = office.post(
        f"/admin/households/{other.id}/inspections/{graded.id}/void",
        data={"reason": "错", "key": "b" * 32, "csrf_token": csrf_token(office)},
    )

    assert response.status_code == 404
