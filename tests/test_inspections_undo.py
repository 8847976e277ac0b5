"""The inspector's undo of a mis-tapped grade, a note after the grade, and his day (issue 33/9).

The undo is the admin's void (same action, same ledger reversal), open to the
inspector who gave the grade for UNDO_MINUTES after its inspected_at.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from testsupport import assert_problem, balance_of, csrf_token, key_of, log_in

from app.audit.models import AuditEvent
from app.auth.models import INSPECTOR
from app.db import db
from app.households.cards import make_token
from app.inspections import services
from app.inspections.models import Inspection
from app.ledger import services as ledger

pytestmark = pytest.mark.usefixtures("photo_folder")

WINDOW = timedelta(minutes=services.UNDO_MINUTES)


def void(client, inspection_id, headers, reason="误点", key=None):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/inspections/{inspection_id}/void",
        json={"reason": reason},
        headers={**headers, **extra},
    )


def note(client, inspection_id, headers, text="桶边有塑料袋", key=None):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/inspections/{inspection_id}/note",
        json={"note": text},
        headers={**headers, **extra},
    )


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def later(monkeypatch):
    """Move the server's clock on by a timedelta (the undo window is read off it)."""

    def move(delta: timedelta) -> None:
        moved = datetime.now(UTC) + delta
        monkeypatch.setattr(services, "utcnow", lambda: moved)

    return move


@pytest.fixture
def other_inspector_headers(make_user, token_for):
    return token_for(make_user(INSPECTOR, username="inspector-two"))


# Undo through the void action -----------------------------------------------------------


def test_the_inspector_undoes_his_own_grade_and_the_points_go_back(
    client, inspect, household, inspector, inspector_headers, admin_headers
):
    created = inspect(household, "A").json
    assert balance_of(household.id) == 3

    response = void(client, created["id"], inspector_headers, reason="误点")

    assert response.status_code == 200, response.json
    assert response.json["voided"] is True
    assert response.json["void_reason"] == "误点"
    assert response.json["balance"] == 0
    assert balance_of(household.id) == 0
    entries = client.get(f"/api/v1/households/{household.id}/ledger", headers=admin_headers).json
    assert [e["amount"] for e in entries["items"]] == [-3, 3]
    (event,) = events("inspection_voided")
    assert (event.actor_id, event.reason, event.target_id) == (inspector.id, "误点", created["id"])
    assert ledger.verify().ok
    # The day's slot is free again: the right grade can be given.
    assert inspect(household, "B").status_code == 201
    assert balance_of(household.id) == 2


def test_a_double_tap_under_one_key_voids_once(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json

    first = void(client, created["id"], inspector_headers, key="undo-tap-1")
    second = void(client, created["id"], inspector_headers, key="undo-tap-1")

    assert first.status_code == second.status_code == 200
    assert first.json == second.json
    assert balance_of(household.id) == 0
    assert len(events("inspection_voided")) == 1
    # A second undo with another key is told it was already undone.
    assert_problem(void(client, created["id"], inspector_headers), 409, "already_reversed")
    assert ledger.verify().ok


def test_another_inspectors_grade_is_403_not_own_inspection(
    client, inspect, household, other_inspector_headers
):
    created = inspect(household, "A").json

    assert_problem(void(client, created["id"], other_inspector_headers), 403, "not_own_inspection")
    assert balance_of(household.id) == 3
    assert events("inspection_voided") == []


def test_after_the_window_the_inspector_is_refused_and_the_admin_still_voids(
    client, inspect, household, inspector_headers, admin_headers, later
):
    created = inspect(household, "A").json
    later(WINDOW + timedelta(minutes=1))

    assert_problem(void(client, created["id"], inspector_headers), 403, "undo_window_closed")
    assert balance_of(household.id) == 3

    assert void(client, created["id"], admin_headers).status_code == 200
    assert balance_of(household.id) == 0


def test_just_inside_the_window_the_undo_is_taken(
    client, inspect, household, inspector_headers, later
):
    created = inspect(household, "A").json
    later(WINDOW - timedelta(minutes=1))

    assert void(client, created["id"], inspector_headers).status_code == 200
    assert balance_of(household.id) == 0


def test_the_window_counts_from_when_an_offline_grade_was_given(
    client, inspect, household, inspector_headers
):
    given = datetime.now(UTC) - WINDOW - timedelta(minutes=2)
    created = inspect(household, "A", inspected_at=given.isoformat()).json

    assert_problem(void(client, created["id"], inspector_headers), 403, "undo_window_closed")
    assert balance_of(household.id) == 3


def test_spent_points_are_409_insufficient_points(
    client, inspect, household, inspector_headers, admin_headers
):
    created = inspect(household, "A").json
    spent = client.post(
        "/api/v1/adjustments",
        headers=admin_headers,
        json={"household_id": household.id, "amount": -2, "reason": "兑换"},
    )
    assert spent.status_code == 201

    assert_problem(void(client, created["id"], inspector_headers), 409, "insufficient_points")
    assert balance_of(household.id) == 1
    assert (
        client.get(f"/api/v1/inspections/{created['id']}", headers=admin_headers).json["voided"]
        is False
    )
    assert ledger.verify().ok


def test_the_undo_needs_a_reason(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json

    for body in ({}, {"reason": "   "}):
        response = client.post(
            f"/api/v1/inspections/{created['id']}/void", json=body, headers=inspector_headers
        )
        assert_problem(response, 422, "validation_error")
    assert balance_of(household.id) == 3


def test_the_openapi_document_states_the_window(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for what in ("void", "note"):
        described = paths[f"/api/v1/inspections/{{inspection_id}}/{what}"]["post"]["description"]
        assert f"within {services.UNDO_MINUTES} minutes" in described
        assert "undo_window_closed" in described


# A note after the grade ------------------------------------------------------------------


def test_the_inspector_adds_a_note_after_the_grade_and_the_household_reads_it_on_my(
    client, inspect, household, inspector, inspector_headers, resident
):
    created = inspect(household, "A").json

    response = note(client, created["id"], inspector_headers, "桶边有塑料袋")

    assert response.status_code == 200, response.json
    assert response.json["note"] == "桶边有塑料袋"
    assert response.json["balance"] == 3
    (event,) = events("inspection_noted")
    assert event.actor_id == inspector.id
    assert event.details["note"] == {"old": None, "new": "桶边有塑料袋"}

    log_in(client, "resident")
    my_page = client.get("/my").text
    assert "桶边有塑料袋" in my_page
    door = client.get(f"/q/{make_token(household)}")
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert "桶边有塑料袋" not in client.get(f"/q/{make_token(household)}").text
    assert door.status_code == 200


def test_a_note_is_changed_and_emptied_within_the_window(
    client, inspect, household, inspector_headers
):
    created = inspect(household, "B", note="第一次").json

    assert note(client, created["id"], inspector_headers, "改过的").json["note"] == "改过的"
    assert note(client, created["id"], inspector_headers, "  ").json["note"] is None
    assert db.session.get_one(Inspection, created["id"]).note is None
    assert len(events("inspection_noted")) == 2


def test_a_note_is_refused_to_another_inspector_late_after_a_void_and_when_long(
    client, inspect, household, make_household, inspector_headers, other_inspector_headers, later
):
    created = inspect(household, "A").json
    assert_problem(note(client, created["id"], other_inspector_headers), 403, "not_own_inspection")
    assert_problem(note(client, created["id"], inspector_headers, "长" * 501), 422)

    undone = inspect(make_household(), "A").json
    void(client, undone["id"], inspector_headers)
    assert_problem(note(client, undone["id"], inspector_headers), 409, "already_reversed")

    later(WINDOW + timedelta(seconds=1))
    assert_problem(note(client, created["id"], inspector_headers), 403, "undo_window_closed")
    assert db.session.get_one(Inspection, created["id"]).note is None
    assert events("inspection_noted") == []


# The pages: undo and note on the phone, the day summed up ----------------------------------


@pytest.fixture
def phone(client, inspector):
    """The inspector's phone, logged in, pages in Chinese (what he reads)."""
    log_in(client, "inspector")
    return client


def grade_on_page(phone, household, grade="A"):
    key = key_of(phone.get(f"/inspect/household/{household.id}"))
    response = phone.post(
        f"/inspect/household/{household.id}",
        data={"key": key, "grade": grade, "note": "", "csrf_token": csrf_token(phone)},
    )
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def form_of(page: str, action: str) -> str:
    match = re.search(rf'<form[^>]*action="{re.escape(action)}".*?</form>', page, re.S)
    assert match, f"no form posting to {action}"
    return match.group(0)


def key_of_form(phone, inspection_id: int, what: str) -> str:
    """The key of the grade page's undo or note form, made when the page was shown."""
    page = phone.get(f"/inspect/done/{inspection_id}").text
    form = form_of(page, f"/inspect/done/{inspection_id}/{what}")
    return re.search(r'name="key" value="([^"]+)"', form).group(1)


def test_the_phone_undoes_a_grade_once_however_often_it_is_tapped(phone, household):
    inspection_id = grade_on_page(phone, household, "A")
    done = phone.get(f"/inspect/done/{inspection_id}").text
    action = f"/inspect/done/{inspection_id}/undo"
    form = form_of(done, action)
    assert "撤销" in done and 'value="误点"' in form
    key = re.search(r'name="key" value="([^"]+)"', form).group(1)

    for _tap in range(2):
        response = phone.post(
            action, data={"key": key, "reason": "误点", "csrf_token": csrf_token(phone)}
        )
        assert response.status_code == 302
    after = phone.get(f"/inspect/done/{inspection_id}").text

    assert "已撤销" in after
    assert f'action="{action}"' not in after  # no second undo offered
    assert balance_of(household.id) == 0
    assert len(events("inspection_voided")) == 1
    assert ledger.verify().ok


def test_the_undo_from_todays_list_goes_back_to_it(phone, household):
    inspection_id = grade_on_page(phone, household, "B")
    listing = phone.get("/inspect").text
    form = form_of(listing, f"/inspect/done/{inspection_id}/undo")
    key = re.search(r'name="key" value="([^"]+)"', form).group(1)

    response = phone.post(
        f"/inspect/done/{inspection_id}/undo",
        data={"key": key, "reason": "误点", "back": "list", "csrf_token": csrf_token(phone)},
    )

    assert response.status_code == 302 and response.headers["Location"].endswith("/inspect")
    assert "已撤销" in phone.get("/inspect").text
    assert balance_of(household.id) == 0


def test_an_empty_reason_is_told_on_the_page_and_changes_nothing(phone, household):
    inspection_id = grade_on_page(phone, household, "A")

    response = phone.post(
        f"/inspect/done/{inspection_id}/undo",
        data={"key": "k-empty-reason", "reason": "", "csrf_token": csrf_token(phone)},
    )

    assert response.status_code == 422
    assert "原因" in response.text
    assert balance_of(household.id) == 3


def test_the_phone_is_told_when_the_window_has_passed(phone, household, later):
    inspection_id = grade_on_page(phone, household, "A")
    key = key_of_form(phone, inspection_id, "undo")
    later(WINDOW + timedelta(minutes=1))

    response = phone.post(
        f"/inspect/done/{inspection_id}/undo",
        data={"key": key, "reason": "误点", "csrf_token": csrf_token(phone)},
    )

    assert response.status_code == 403  # the grade's page again, saying why
    assert "已超过可修改的时间" in response.text
    assert f'action="/inspect/done/{inspection_id}/undo"' not in response.text
    assert balance_of(household.id) == 3


def test_the_phone_adds_a_note_after_the_grade(phone, household):
    inspection_id = grade_on_page(phone, household, "C")
    key = key_of_form(phone, inspection_id, "note")

    response = phone.post(
        f"/inspect/done/{inspection_id}/note",
        data={"key": key, "note": "厨余里有电池", "csrf_token": csrf_token(phone)},
        follow_redirects=True,
    )

    assert "备注已保存" in response.text and "厨余里有电池" in response.text
    assert db.session.get_one(Inspection, inspection_id).note == "厨余里有电池"


def test_no_undo_is_offered_on_another_inspectors_grade(
    client, inspect, household, make_user, other_inspector_headers
):
    created = inspect(household, "A", headers=other_inspector_headers).json
    make_user(INSPECTOR, username="third")
    log_in(client, "third")

    page = client.get(f"/inspect/done/{created['id']}").text

    assert 'undo"' not in page and 'note"' not in page


def test_the_scanner_sums_up_the_inspectors_day(
    phone, inspect, make_household, household, other_inspector_headers
):
    grades = ["A", "A", "B", "D"]
    ids = [grade_on_page(phone, make_household(), grade) for grade in grades]
    # Another inspector's grade is not his; an undone grade no longer counts.
    inspect(household, "C", headers=other_inspector_headers)
    phone.post(
        f"/inspect/done/{ids[-1]}/undo",
        data={"key": "k-undo-d", "reason": "误点", "csrf_token": csrf_token(phone)},
    )

    page = phone.get("/inspect").text
    summary = re.search(r'<p class="day-summary"[^>]*>(.*?)</p>', page, re.S).group(1)
    text = re.sub(r"<[^>]+>", "", summary)

    assert text == "今日 3 户，A 2 · B 1 · C 0 · D 0"
