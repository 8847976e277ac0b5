"""What the phone's queue relies on for resident reports (static/js/queue.js): a token for
the resident's page, and each step of a report or a resolve replayed as a no-op under
its own key, whatever order the answers were lost in."""

import io
import uuid

import pytest
from sqlalchemy import func, select
from testsupport import PASSWORD, assert_problem, bearer, csrf_token, log_in, page_post, png_bytes

from app.auth.models import INSPECTOR, UserGrid
from app.cases.models import Case, CaseEvent, CasePhoto
from app.db import db

pytestmark = pytest.mark.usefixtures("photo_folder")
CASES = "/api/v1/cases"


@pytest.fixture
def worker(grid, make_user):
    user = make_user(INSPECTOR, username="wang-grid")
    db.session.add(UserGrid(user_id=user.id, grid_id=grid.id))
    db.session.commit()
    return user


def page_token(client, username: str):
    log_in(client, username)
    return client.post(
        "/my/token" if username == "resident" else "/inspect/token",
        headers={"X-CSRFToken": csrf_token(client), "Accept": "application/json"},
    )


def rows(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def photo(client, headers, case_id: int, stage: str, key: str):
    return client.post(
        f"{CASES}/{case_id}/photos",
        data={"file": (io.BytesIO(png_bytes((64, 48))), "photo.jpg"), "stage": stage},
        headers={**headers, "Idempotency-Key": key},
        content_type="multipart/form-data",
    )


def event(client, headers, case_id: int, action: str, key: str, **body):
    return client.post(
        f"{CASES}/{case_id}/events",
        json={"action": action, **body},
        headers={**headers, "Idempotency-Key": key},
    )


def test_a_residents_page_gets_a_token_that_reports(client, resident):
    response = page_token(client, "resident")
    assert response.status_code == 200
    assert response.json["username"] == "resident"
    headers = bearer(response.json["token"])
    made = client.post(CASES, json={"category": "overflow"}, headers=headers)
    assert made.status_code == 201
    assert rows(Case, Case.reporter_id == resident.id) == 1


def test_a_workers_page_is_not_given_a_residents_token(client, worker):
    log_in(client, "wang-grid")
    response = client.post(
        "/my/token", headers={"X-CSRFToken": csrf_token(client), "Accept": "application/json"}
    )
    assert response.status_code == 403
    assert "token" not in (response.get_json(silent=True) or {})


def test_a_report_and_its_photo_sent_twice_make_one_case_and_one_photo(client, resident):
    headers = bearer(page_token(client, "resident").json["token"])
    key = uuid.uuid4().hex
    body = {"category": "dumping", "description": "学校后面"}
    first = client.post(CASES, json=body, headers={**headers, "Idempotency-Key": key})
    again = client.post(CASES, json=body, headers={**headers, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json["id"] == again.json["id"]
    case_id = first.json["id"]
    assert photo(client, headers, case_id, "before", key + ".p").status_code == 201
    assert photo(client, headers, case_id, "before", key + ".p").status_code == 201
    assert rows(Case) == 1
    assert rows(CasePhoto, CasePhoto.case_id == case_id) == 1


def test_a_report_the_page_had_sent_is_not_made_again_under_its_page_key(client, resident):
    """The page's POST /report got through; its answer was lost; the queue sends the
    report under the form's page key: the server knows the key, and makes nothing."""
    log_in(client, "resident")
    form_key = uuid.uuid4().hex
    sent = page_post(
        client,
        "/report",
        {"key": form_key, "category": "mixed", "photo": (io.BytesIO(png_bytes()), "a.png")},
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    headers = bearer(page_token(client, "resident").json["token"])
    queued = client.post(
        CASES,
        json={"category": "mixed"},
        headers={**headers, "Idempotency-Key": f"page:{form_key}"},
    )
    assert queued.status_code in (409, 422)
    assert_problem(queued, queued.status_code, "idempotency_conflict")
    assert rows(Case) == 1
    assert rows(CasePhoto) == 1


def test_an_accept_photo_and_resolve_replayed_resolve_once_with_one_photo(
    client, resident, worker, village
):
    reporter = bearer(page_token(client, "resident").json["token"])
    case_id = client.post(CASES, json={"category": "overflow"}, headers=reporter).json["id"]
    headers = bearer(page_token(client, "wang-grid").json["token"])
    accept, resolve = uuid.uuid4().hex, uuid.uuid4().hex
    for _ in range(2):
        assert event(client, headers, case_id, "accept", accept).status_code == 201
        assert photo(client, headers, case_id, "after", resolve + ".p").status_code == 201
        answer = event(client, headers, case_id, "resolve", resolve, note="已清运")
        assert answer.status_code == 201
        assert answer.json["state"] == "resolved"
    where = (CaseEvent.case_id == case_id,)
    assert rows(CaseEvent, *where, CaseEvent.action == "accept") == 1
    assert rows(CaseEvent, *where, CaseEvent.action == "resolve") == 1
    assert rows(CasePhoto, CasePhoto.case_id == case_id, CasePhoto.stage == "after") == 1


def test_a_queued_accept_on_a_case_changed_meanwhile_is_refused_not_retried(
    client, resident, worker, admin
):
    reporter = bearer(page_token(client, "resident").json["token"])
    case_id = client.post(CASES, json={"category": "overflow"}, headers=reporter).json["id"]
    staff = bearer(
        client.post(
            "/api/v1/auth/tokens", json={"username": admin.username, "password": PASSWORD}
        ).json["token"]
    )
    assert event(client, staff, case_id, "mark_invalid", uuid.uuid4().hex).status_code == 201
    headers = bearer(page_token(client, "wang-grid").json["token"])
    key = uuid.uuid4().hex
    assert_problem(event(client, headers, case_id, "accept", key), 409, "invalid_transition")
    # Sent again, it is refused again, the same way (4xx: the queue keeps it no longer).
    assert_problem(event(client, headers, case_id, "accept", key), 409, "invalid_transition")
    assert rows(CaseEvent, CaseEvent.case_id == case_id, CaseEvent.action == "accept") == 0
