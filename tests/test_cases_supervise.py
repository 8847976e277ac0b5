"""The township's 督办: it supervises an open case of its own villages, and does nothing else.

Through the API (POST /api/v1/cases/{id}/events, action supervise) and its page
(/township/cases), the same act() path; audited; the grid worker's 待办 shows the
case flagged with the note; the reporter is never shown to the township.
"""

import json
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from test_cases import event, fixed, report
from testsupport import PASSWORD, assert_problem, bearer, csrf_token, log_in

from app.audit.models import AuditEvent
from app.auth.services import issue_token
from app.cases.models import Case, CaseEvent
from app.db import db, utcnow
from app.townships.services import create_township, create_township_user, move_village

pytestmark = pytest.mark.usefixtures("photo_folder")


@pytest.fixture
def town(village):
    """A user of 东湖街道, the township 马庄村 belongs to."""
    township = create_township("东湖街道", "DH")
    move_village(village, township)
    user = create_township_user(township, "dh-staff", PASSWORD)
    db.session.commit()
    return user


@pytest.fixture
def town_headers(town):
    headers = bearer(issue_token(town).token)
    db.session.commit()
    return headers


@pytest.fixture
def stranger_headers(other_village):
    """A user of another township, which has 李庄村 and not 马庄村."""
    township = create_township("西山镇", "XS")
    move_village(other_village, township)
    user = create_township_user(township, "xs-staff", PASSWORD)
    db.session.commit()
    headers = bearer(issue_token(user).token)
    db.session.commit()
    return headers


def events_of(case_id: int, action: str) -> int:
    return (
        db.session.scalar(
            select(func.count(CaseEvent.id)).where(
                CaseEvent.case_id == case_id, CaseEvent.action == action
            )
        )
        or 0
    )


def words(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_township_supervises_a_case_of_its_village_and_it_is_audited(
    client, resident_headers, town, town_headers, household, resident
):
    case = report(client, resident_headers, description="东头垃圾桶满了三天").json

    response = event(client, town_headers, case["id"], "supervise", note="请今天处理", key="dh-1")
    again = event(client, town_headers, case["id"], "supervise", note="请今天处理", key="dh-1")

    assert response.status_code == 201, response.json
    assert response.json["supervised"] is True and response.json["state"] == "dispatched"
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert response.json["reporter"] is None
    shown = json.dumps(response.json, ensure_ascii=False)
    assert household.name not in shown and resident.username not in shown
    db.session.expire_all()
    assert events_of(case["id"], "supervise") == 1
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case_supervised"))
    assert audit is not None and audit.actor_id == town.id and audit.target_id == case["id"]
    assert audit.reason == "请今天处理"


def test_a_township_takes_no_other_action_and_not_on_a_closed_case(
    client, resident_headers, worker_headers, town_headers
):
    case = report(client, resident_headers).json
    for action, body in (
        ("comment", {"note": "看看"}),
        ("accept", {}),
        ("extend", {"hours": 24}),
        ("mark_invalid", {}),
    ):
        assert_problem(event(client, town_headers, case["id"], action, **body), 403, "read_only")
    fixed(client, worker_headers, case["id"])
    assert_problem(
        event(client, town_headers, case["id"], "supervise", note="催办"), 409, "invalid_transition"
    )
    db.session.expire_all()
    stored = db.session.get(Case, case["id"])
    assert stored.state == "resolved" and not stored.supervised
    assert events_of(case["id"], "supervise") == events_of(case["id"], "comment") == 0


def test_another_township_never_reaches_the_case(
    client, resident_headers, town_headers, stranger_headers
):
    case = report(client, resident_headers).json
    assert_problem(
        event(client, stranger_headers, case["id"], "supervise", note="越权"), 404, "not_found"
    )
    assert_problem(event(client, town_headers, 999_999, "supervise", note="无此件"), 404)
    db.session.expire_all()
    assert not db.session.get(Case, case["id"]).supervised


def test_the_township_page_lists_overdue_first_and_supervises_with_a_note(
    app, client, village, resident_headers, town, household, resident
):
    late = report(client, resident_headers, description="满了好几天").json
    fresh = report(client, resident_headers, category="dumping").json
    db.session.execute(
        update(Case).where(Case.id == late["id"]).values(due_at=utcnow() - timedelta(hours=3))
    )
    db.session.commit()
    log_in(client, "dh-staff")

    page = client.get("/township/cases").text
    overdue = client.get("/township/cases?overdue=1").text

    assert "督办" in page and "data-supervise-form" in page
    assert page.index(f'data-case="{late["id"]}"') < page.index(f'data-case="{fresh["id"]}"')
    assert f'data-case="{fresh["id"]}"' not in overdue
    assert "超期" in words(page) and village.name in page
    assert household.name not in page and resident.username not in page
    assert "满了好几天" not in page  # the words of the report stay in the village

    sent = client.post(
        f"/township/cases/{late['id']}",
        data={"key": uuid.uuid4().hex, "note": "请今天清运", "csrf_token": csrf_token(client)},
    )
    assert sent.status_code == 302
    assert "已督办" in client.get(sent.headers["Location"]).text
    db.session.expire_all()
    assert db.session.get(Case, late["id"]).supervised
    assert events_of(late["id"], "supervise") == 1


def test_the_township_page_refuses_another_townships_case(
    client, make_household, other_village, make_user, token_for, town
):
    from app.cases import services

    outsider = make_household(of=other_village, name="外村户")
    case = services.report_case(
        None, other_village.id, category="overflow", grid_id=outsider.grid_id
    )
    db.session.commit()
    log_in(client, "dh-staff")
    page = client.get("/township/cases").text
    sent = client.post(
        f"/township/cases/{case.id}",
        data={"key": uuid.uuid4().hex, "note": "越权", "csrf_token": csrf_token(client)},
    )
    assert f'data-case="{case.id}"' not in page
    assert sent.status_code == 404
    db.session.expire_all()
    assert not db.session.get(Case, case.id).supervised


def test_the_worker_sees_the_case_flagged_with_the_townships_note(
    client, resident_headers, worker, town_headers
):
    case = report(client, resident_headers).json
    other = report(client, resident_headers).json
    assert event(client, town_headers, case["id"], "supervise", note="镇里催办").status_code == 201
    log_in(client, "worker")

    page = client.get("/inspect/cases").text

    card = page[page.index(f'data-case="{case["id"]}"') :]
    card = card[: card.index("</li>")]
    assert "data-supervised" in card and "data-supervise-note" in card and "镇里催办" in card
    assert "督办" in card
    plain = page[page.index(f'data-case="{other["id"]}"') :]
    assert "data-supervised" not in plain[: plain.index("</li>")]


def test_the_reporter_never_reads_the_supervision_note(
    client, resident, resident_headers, town_headers
):
    case = report(client, resident_headers).json
    assert event(client, town_headers, case["id"], "supervise", note="镇里催办").status_code == 201
    log_in(client, "resident")
    assert "镇里催办" not in client.get("/my/reports").text


def test_the_township_dashboard_links_its_open_reports(client, town):
    log_in(client, "dh-staff")
    page = client.get("/township").text
    assert 'href="/township/cases"' in page
