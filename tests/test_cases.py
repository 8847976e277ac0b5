"""Resident reports (随手拍): report, dispatch, fix, confirm, pay once, and the figures."""

import io
import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from testsupport import assert_problem, balance_of, png_bytes, run_at_once

from app.auth.models import HOUSEHOLD, INSPECTOR
from app.cases.models import Case
from app.db import db, utcnow
from app.ledger.models import Journal
from app.rules.models import RuleSet

pytestmark = pytest.mark.usefixtures("photo_folder")
CASES = "/api/v1/cases"


def pay_for_reports(village, points=5, daily_cap=2, confirm_days=3):
    """Switch on points for reports in the rules in force."""
    newest = db.session.scalar(
        select(RuleSet.id).where(RuleSet.village_id == village.id).order_by(RuleSet.version.desc())
    )
    rules = {"points": points, "daily_cap": daily_cap, "confirm_days": confirm_days}
    db.session.execute(update(RuleSet).where(RuleSet.id == newest).values(cases=json.dumps(rules)))
    db.session.commit()


def report(client, headers, category="overflow", key=None, **body):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(CASES, json={"category": category, **body}, headers={**headers, **extra})


def event(client, headers, case_id, action, key=None, **body):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(
        f"{CASES}/{case_id}/events", json={"action": action, **body}, headers={**headers, **extra}
    )


def after_photo(client, headers, case_id):
    return client.post(
        f"{CASES}/{case_id}/photos",
        data={"file": (io.BytesIO(png_bytes()), "after.png"), "stage": "after"},
        headers=headers,
        content_type="multipart/form-data",
    )


def fixed(client, worker_headers, case_id):
    """The worker accepts the case, photographs the fix and resolves it."""
    assert event(client, worker_headers, case_id, "accept").status_code == 201
    assert after_photo(client, worker_headers, case_id).status_code == 201
    response = event(client, worker_headers, case_id, "resolve", note="已清理")
    assert response.status_code == 201, response.json
    return response.json


def report_journals() -> int:
    return db.session.scalar(select(func.count(Journal.id)).where(Journal.kind == "report"))


def test_a_report_is_dispatched_to_the_grid_worker_with_a_server_due_time(
    client, resident_headers, worker, household
):
    before = utcnow()
    response = report(client, resident_headers, description="东头垃圾桶满了")
    assert response.status_code == 201, response.json
    case = response.json
    assert response.headers["Location"].endswith(f"/api/v1/cases/{case['id']}")
    assert case["state"] == "dispatched"
    assert case["grid_id"] == household.grid_id
    assert case["assignee_id"] == worker.id
    assert case["code"].startswith("MZ-R")
    assert case["reporter"]["household_id"] == household.id
    due = datetime.fromisoformat(case["due_at"])
    assert before + timedelta(hours=24) <= due <= utcnow() + timedelta(hours=24)
    assert [e["action"] for e in case["events"]] == ["report"]


def test_bad_reports_are_refused_and_nothing_is_kept(
    client, resident_headers, admin_headers, other_village, make_grid
):
    foreign_grid = make_grid("外村网格", of=other_village)
    assert_problem(report(client, resident_headers, category="fire"), 422, "validation_error")
    assert_problem(report(client, resident_headers, lat=91, lng=0), 422, "validation_error")
    assert_problem(
        report(client, resident_headers, grid_id=foreign_grid.id), 422, "validation_error"
    )
    station = client.post(
        "/api/v1/stations",
        json={"name": "外村收集点", "grid_id": foreign_grid.id},
        headers=admin_headers,
    )
    assert_problem(station, 422, "validation_error")
    assert db.session.scalar(select(func.count(Case.id))) == 0


def test_a_collection_point_has_its_own_card_and_its_reports_go_to_its_grid(
    client, admin_headers, grids, make_user, token_for
):
    east, west = grids
    response = client.post(
        "/api/v1/stations",
        json={"name": "西村口收集点", "grid_id": west.id, "lat": 34.1, "lng": 113.2},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.json
    station = response.json
    assert station["qr_payload"].startswith("http://greenpoints.test/s/")
    png = client.get(f"/api/v1/stations/{station['id']}/qr.png", headers=admin_headers)
    assert png.status_code == 200 and png.mimetype == "image/png"
    staff = token_for(make_user(INSPECTOR))
    case = report(client, staff, category="mixed", station_id=station["id"]).json
    assert case["grid_id"] == west.id and case["station_id"] == station["id"]
    assert case["assignee_id"] is None  # nobody works 西一网格: the admins have it


def test_an_anonymous_reporter_is_hidden_from_the_grid_worker_not_from_the_admin(
    client, resident_headers, worker_headers, admin_headers, household
):
    case = report(client, resident_headers, anonymous=True).json
    seen_by_worker = client.get(f"{CASES}/{case['id']}", headers=worker_headers).json
    assert seen_by_worker["reporter"] is None
    assert "resident" not in json.dumps(seen_by_worker, ensure_ascii=False)
    assert household.name not in json.dumps(seen_by_worker, ensure_ascii=False)
    seen_by_admin = client.get(f"{CASES}/{case['id']}", headers=admin_headers).json
    assert seen_by_admin["reporter"]["household_id"] == household.id


def test_fixed_confirmed_and_paid_once(
    client, village, resident_headers, worker_headers, household
):
    pay_for_reports(village, points=5)
    case = report(client, resident_headers).json
    assert_problem(event(client, worker_headers, case["id"], "confirm"), 403, "forbidden")
    assert_problem(
        event(client, resident_headers, case["id"], "confirm"), 409, "invalid_transition"
    )
    assert event(client, worker_headers, case["id"], "accept").status_code == 201
    assert_problem(event(client, worker_headers, case["id"], "resolve"), 422, "photo_required")
    shown = fixed_after_accept(client, worker_headers, case["id"])
    assert shown["state"] == "resolved" and [p["stage"] for p in shown["photos"]] == ["after"]
    assert balance_of(household, fresh=True) == 0  # nothing is paid until it is confirmed
    first = event(client, resident_headers, case["id"], "confirm", key="confirm-1")
    again = event(client, resident_headers, case["id"], "confirm", key="confirm-1")
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json["state"] == "closed" and first.json["points"] == 5
    assert_problem(
        event(client, resident_headers, case["id"], "confirm"), 409, "invalid_transition"
    )
    assert balance_of(household, fresh=True) == 5
    assert report_journals() == 1
    mine = client.get(CASES, headers=resident_headers).json
    assert [c["id"] for c in mine["items"]] == [case["id"]]


def fixed_after_accept(client, worker_headers, case_id):
    assert after_photo(client, worker_headers, case_id).status_code == 201
    response = event(client, worker_headers, case_id, "resolve", note="已清理")
    assert response.status_code == 201, response.json
    return response.json


def test_confirmations_racing_pay_once(
    app, client, village, resident_headers, worker_headers, household
):
    pay_for_reports(village, points=4)
    case = report(client, resident_headers).json
    fixed(client, worker_headers, case["id"])

    def confirm(index):
        return event(app.test_client(), resident_headers, case["id"], "confirm").status_code

    statuses = run_at_once(app, 4, confirm)
    assert sorted(statuses) == [201, 409, 409, 409], statuses
    assert report_journals() == 1
    assert balance_of(household, fresh=True) == 4


def test_a_household_is_paid_for_at_most_the_daily_cap(
    client, village, resident_headers, worker_headers, household
):
    pay_for_reports(village, points=3, daily_cap=2)
    for _ in range(3):
        case = report(client, resident_headers).json
        fixed(client, worker_headers, case["id"])
        assert event(client, resident_headers, case["id"], "confirm").status_code == 201
    assert balance_of(household, fresh=True) == 6
    assert report_journals() == 2


def test_the_reporter_reopens_with_a_note_and_rework_is_counted(
    client, resident_headers, worker_headers, admin_headers
):
    case = report(client, resident_headers).json
    fixed(client, worker_headers, case["id"])
    assert_problem(event(client, resident_headers, case["id"], "reopen"), 422, "validation_error")
    reopened = event(client, resident_headers, case["id"], "reopen", note="还是满的")
    assert reopened.status_code == 201
    assert reopened.json["state"] == "dispatched" and reopened.json["reopened"] == 1
    fixed(client, worker_headers, case["id"])
    assert event(client, resident_headers, case["id"], "confirm").status_code == 201
    figures = client.get("/api/v1/reports/cases", headers=admin_headers).json
    assert figures["completed"] == 1 and figures["reopened"] == 1
    assert figures["rework_rate"] == 1.0


def test_an_admin_reopens_a_closed_case_as_invalid_and_its_points_go_back(
    client, village, resident_headers, worker_headers, admin_headers, household
):
    pay_for_reports(village, points=5)
    case = report(client, resident_headers).json
    fixed(client, worker_headers, case["id"])
    event(client, resident_headers, case["id"], "confirm")
    assert balance_of(household, fresh=True) == 5
    assert_problem(event(client, resident_headers, case["id"], "mark_invalid"), 403, "forbidden")
    assert event(client, admin_headers, case["id"], "reopen", note="照片不实").status_code == 201
    invalid = event(client, admin_headers, case["id"], "mark_invalid", note="不实上报")
    assert invalid.status_code == 201 and invalid.json["state"] == "invalid"
    assert balance_of(household, fresh=True) == 0


def test_admin_actions_transfer_reassign_extend_duplicate(
    client, resident_headers, admin_headers, worker_headers, grids, worker
):
    east, west = grids
    first = report(client, resident_headers).json
    second = report(client, resident_headers).json
    moved = event(client, admin_headers, first["id"], "transfer", grid_id=west.id).json
    assert moved["grid_id"] == west.id and moved["due_at"] == first["due_at"]
    assert moved["assignee_id"] is None
    back = event(client, admin_headers, first["id"], "reassign", assignee_id=worker.id).json
    assert back["assignee_id"] == worker.id and back["state"] == "dispatched"
    longer = event(client, admin_headers, first["id"], "extend", hours=24).json
    assert longer["due_at"] > first["due_at"]
    assert_problem(
        event(client, admin_headers, first["id"], "extend", hours=15 * 24), 422, "validation_error"
    )
    assert_problem(
        event(client, worker_headers, second["id"], "mark_duplicate"), 422, "validation_error"
    )
    duplicate = event(
        client, worker_headers, second["id"], "mark_duplicate", duplicate_of=first["id"]
    )
    assert duplicate.json["state"] == "duplicate" and duplicate.json["duplicate_of"] == first["id"]
    supervised = event(client, admin_headers, first["id"], "supervise", note="请尽快处理").json
    assert supervised["supervised"] is True


def test_a_household_sees_only_its_own_cases(
    client, resident_headers, make_household, make_user, token_for
):
    case = report(client, resident_headers).json
    neighbour = token_for(make_user(HOUSEHOLD, household=make_household(name="邻居")))
    assert client.get(f"{CASES}/{case['id']}", headers=neighbour).status_code == 404
    assert client.get(CASES, headers=neighbour).json["items"] == []
    assert_problem(event(client, neighbour, case["id"], "withdraw"), 404, "not_found")
    withdrawn = event(client, resident_headers, case["id"], "withdraw").json
    assert withdrawn["state"] == "withdrawn"


def test_tick_closes_unconfirmed_cases_and_escalates_once_even_three_at_once(
    app, client, runner, village, resident_headers, worker_headers, household
):
    pay_for_reports(village, points=2, confirm_days=3)
    resolved = report(client, resident_headers).json
    fixed(client, worker_headers, resolved["id"])
    late = report(client, resident_headers, category="dumping").json  # 48 hours
    later = (utcnow() + timedelta(days=4)).isoformat()

    def tick(_index):
        return runner.invoke(args=["cases", "tick", "--at", later]).exit_code

    assert run_at_once(app, 3, tick) == [0, 0, 0]
    assert runner.invoke(args=["cases", "tick", "--at", later]).exit_code == 0
    db.session.expire_all()
    closed = db.session.get(Case, resolved["id"])
    assert closed.state == "closed" and closed.auto_confirmed
    assert report_journals() == 1 and balance_of(household, fresh=True) == 2
    overdue = db.session.get(Case, late["id"])
    assert overdue.escalated_admins_at is not None and overdue.escalated_township_at is not None
    shown = client.get(f"{CASES}/{late['id']}", headers=worker_headers).json
    assert [e["note"] for e in shown["events"] if e["action"] == "escalate"] == [
        "admins",
        "township",
    ]


def test_overdue_is_computed_on_read(client, resident_headers, worker_headers):
    case = report(client, resident_headers).json
    hours_ago = utcnow() - timedelta(hours=25)
    db.session.execute(
        update(Case)
        .where(Case.id == case["id"])
        .values(created_at=hours_ago, due_at=hours_ago + timedelta(hours=24))
    )
    db.session.commit()
    shown = client.get(f"{CASES}/{case['id']}", headers=worker_headers).json
    assert shown["overdue"] is True and shown["escalated_to"] == "admins"
    listed = client.get(f"{CASES}?overdue=true", headers=worker_headers).json
    assert [c["id"] for c in listed["items"]] == [case["id"]]


def test_figures_give_every_rate_with_its_denominator(
    client, resident_headers, worker_headers, admin_headers
):
    on_time = report(client, resident_headers).json
    fixed(client, worker_headers, on_time["id"])
    open_late = report(client, resident_headers).json
    db.session.execute(
        update(Case).where(Case.id == open_late["id"]).values(due_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    withdrawn = report(client, resident_headers).json
    event(client, resident_headers, withdrawn["id"], "withdraw")
    figures = client.get("/api/v1/reports/cases", headers=admin_headers).json
    assert (figures["due"], figures["completed"], figures["completed_on_time"]) == (2, 1, 1)
    assert figures["completion_rate"] == 0.5 and figures["on_time_rate"] == 0.5
    assert figures["excluded"] == {"invalid": 0, "duplicate": 0, "withdrawn": 1}
    assert sum(g["due"] for g in figures["per_grid"]) == 2


def test_nothing_crosses_villages(client, resident_headers, other_village, make_user, token_for):
    case = report(client, resident_headers).json
    stranger = token_for(make_user(INSPECTOR, of=other_village))
    assert client.get(f"{CASES}/{case['id']}", headers=stranger).status_code == 404
    assert_problem(event(client, stranger, case["id"], "accept"), 404, "not_found")


def test_a_township_reads_the_rates_of_its_villages_and_never_the_reporter(
    client, village, resident_headers, worker_headers, household
):
    from testsupport import PASSWORD, bearer

    from app.auth.services import issue_token
    from app.townships.services import create_township, create_township_user, move_village

    township = create_township("东湖街道", "DH")
    move_village(village, township)
    town = create_township_user(township, "dh-staff", PASSWORD)
    db.session.commit()
    headers = bearer(issue_token(town).token)
    db.session.commit()
    done = report(client, resident_headers).json
    fixed(client, worker_headers, done["id"])
    late = report(client, resident_headers).json
    db.session.execute(
        update(Case).where(Case.id == late["id"]).values(due_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    rows = client.get("/api/v1/reports/villages", headers=headers).json["items"]
    assert rows[0]["case_completion_rate"] == 0.5 and rows[0]["case_on_time_rate"] == 0.5
    figures = client.get(f"/api/v1/reports/cases?village_id={village.id}", headers=headers).json
    assert (figures["due"], figures["completed"]) == (2, 1)
    listed = client.get(f"{CASES}?village_id={village.id}", headers=headers).json
    assert {c["id"] for c in listed["items"]} == {done["id"], late["id"]}
    text = json.dumps(listed, ensure_ascii=False)
    assert all(c["reporter"] is None for c in listed["items"])
    assert household.name not in text and "resident" not in text
    assert_problem(event(client, headers, done["id"], "comment", note="看看"), 403, "read_only")


def test_the_rules_carry_the_case_rules_and_keep_them_when_left_out(
    client, admin_headers, resident_headers, admin_client
):
    rules = {
        "grades": {"A": 3, "B": 2, "C": 1, "D": 0},
        "daily_limit": 1,
        "cases": {
            "categories": [{"code": "ash", "name": "焚烧垃圾", "hours": 6}],
            "points": 4,
            "daily_cap": 1,
            "confirm_days": 2,
        },
    }
    saved = client.put("/api/v1/rules", json=rules, headers=admin_headers)
    assert saved.status_code == 200, saved.json
    assert saved.json["cases"]["points"] == 4
    assert saved.json["cases"]["categories"] == [{"code": "ash", "name": "焚烧垃圾", "hours": 6}]
    case = report(client, resident_headers, category="ash").json
    due = datetime.fromisoformat(case["due_at"]) - datetime.fromisoformat(case["created_at"])
    assert due == timedelta(hours=6)
    assert_problem(report(client, resident_headers, category="overflow"), 422, "validation_error")
    again = client.put(
        "/api/v1/rules", json={**rules, "daily_limit": 2, "cases": None}, headers=admin_headers
    )
    assert again.json["cases"]["points"] == 4  # left out: the version before keeps its rules
    bad = client.put(
        "/api/v1/rules", json={**rules, "cases": {"points": -1}}, headers=admin_headers
    )
    assert_problem(bad, 422, "validation_error")
    audit = admin_client.get("/admin/audit").text
    assert "焚烧垃圾 (6 h)" in audit  # the admin's pages are in English in these tests
