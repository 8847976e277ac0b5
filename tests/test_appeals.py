"""Appeals (申诉): a household appeals its own grade; another admin upholds or overturns it."""

import io
from datetime import timedelta

import pytest
from testsupport import assert_problem, balance_of, png_bytes, run_at_once

from app.audit.models import AuditEvent
from app.auth.models import ADMIN, HOUSEHOLD
from app.db import db, utcnow
from app.inspections.models import Inspection
from app.inspections.services import record_inspection
from app.ledger import services as ledger

pytestmark = pytest.mark.usefixtures("photo_folder")


def appeal(client, inspection_id, headers, reason="我家分类是对的"):
    return client.post(
        f"/api/v1/inspections/{inspection_id}/appeal", json={"reason": reason}, headers=headers
    )


def decide(client, appeal_id, headers, decision="overturned", note="复核后改判", **extra):
    return client.post(
        f"/api/v1/appeals/{appeal_id}/decide",
        json={"decision": decision, "note": note, **extra},
        headers=headers,
    )


@pytest.fixture
def graded(app, household, inspector):
    """The household's grade C (1 point), given by the inspector."""
    inspection = record_inspection(household, inspector, "C", note="有混投")
    db.session.commit()
    return inspection.id


def test_a_household_appeals_its_grade_and_sees_it_open(
    client, graded, resident_headers, admin_headers
):
    response = appeal(client, graded, resident_headers)

    assert response.status_code == 201, response.json
    assert response.json["inspection_id"] == graded
    assert response.json["state"] == "open"
    listed = client.get("/api/v1/appeals?state=open", headers=admin_headers).json["items"]
    assert [a["id"] for a in listed] == [response.json["id"]]
    own = client.get("/api/v1/appeals", headers=resident_headers).json["items"]
    assert [a["reason"] for a in own] == ["我家分类是对的"]


def test_a_second_appeal_of_the_same_grade_is_refused(client, graded, resident_headers):
    assert appeal(client, graded, resident_headers).status_code == 201

    assert_problem(appeal(client, graded, resident_headers), 409, "already_appealed")


def test_an_appeal_after_appeal_days_is_closed(
    client, household, inspector, resident_headers, put_rules
):
    old = record_inspection(household, inspector, "C", at=utcnow() - timedelta(days=8))
    db.session.commit()

    assert_problem(appeal(client, old.id, resident_headers), 409, "appeal_closed")
    # The rules say how long: with 10 days it may be appealed.
    assert (
        put_rules({"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "appeal_days": 10}).status_code
        == 200
    )
    assert appeal(client, old.id, resident_headers).status_code == 201


def test_another_households_grade_is_not_found(client, make_household, inspector, resident_headers):
    neighbour = make_household(name="邻居")
    theirs = record_inspection(neighbour, inspector, "D")
    db.session.commit()

    assert_problem(appeal(client, theirs.id, resident_headers), 404, "not_found")
    assert client.get("/api/v1/appeals", headers=resident_headers).json["items"] == []


def test_upheld_keeps_the_grade_and_the_household_reads_the_note(
    client, graded, household, resident_headers, admin_headers
):
    appeal_id = appeal(client, graded, resident_headers).json["id"]

    response = decide(client, appeal_id, admin_headers, decision="upheld", note="照片显示混投")

    assert response.status_code == 200, response.json
    assert response.json["state"] == "upheld"
    assert balance_of(household.id) == 1
    own = client.get("/api/v1/appeals", headers=resident_headers).json["items"][0]
    assert (own["state"], own["note"]) == ("upheld", "照片显示混投")
    assert ledger.verify().ok


def test_overturned_with_a_grade_voids_and_credits_the_corrected_grade_at_the_same_moment(
    client, graded, household, resident_headers, admin_headers
):
    appeal_id = appeal(client, graded, resident_headers).json["id"]

    response = decide(client, appeal_id, admin_headers, grade="A")

    assert response.status_code == 200, response.json
    assert response.json["state"] == "overturned"
    assert response.json["corrected_grade"] == "A"
    assert balance_of(household.id) == 3
    db.session.expire_all()
    original = db.session.get(Inspection, graded)
    corrected = db.session.get(Inspection, response.json["corrected_inspection_id"])
    assert original.voided_at is not None
    assert (corrected.grade, corrected.points) == ("A", 3)
    assert corrected.created_at == original.created_at
    assert corrected.local_date == original.local_date
    events = db.session.query(AuditEvent).filter_by(action="appeal_decided").all()
    assert [e.details["decision"] for e in events] == ["overturned"]
    assert ledger.verify().ok


def test_overturned_without_a_grade_only_voids(
    client, graded, household, resident_headers, admin_headers
):
    appeal_id = appeal(client, graded, resident_headers).json["id"]

    response = decide(client, appeal_id, admin_headers)

    assert response.status_code == 200, response.json
    assert response.json["corrected_inspection_id"] is None
    assert balance_of(household.id) == 0
    assert ledger.verify().ok


def test_an_old_grade_is_corrected_at_its_own_day_past_the_offline_limit(
    client, household, inspector, resident_headers, admin_headers, put_rules
):
    put_rules({"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "appeal_days": 14})
    given = utcnow() - timedelta(days=10)
    old = record_inspection(household, inspector, "D", at=given)
    db.session.commit()
    appeal_id = appeal(client, old.id, resident_headers).json["id"]

    response = decide(client, appeal_id, admin_headers, grade="B")

    assert response.status_code == 200, response.json
    corrected = db.session.get(Inspection, response.json["corrected_inspection_id"])
    assert corrected.created_at == given
    assert balance_of(household.id) == 2


def test_the_inspector_who_gave_the_grade_may_not_decide_it(
    client, household, make_user, token_for, resident_headers
):
    admin_inspector = make_user(ADMIN, username="admin-who-graded")
    graded_by_admin = record_inspection(household, admin_inspector, "C")
    db.session.commit()
    appeal_id = appeal(client, graded_by_admin.id, resident_headers).json["id"]

    response = decide(client, appeal_id, token_for(admin_inspector), grade="A")

    assert_problem(response, 403, "same_person")
    assert balance_of(household.id) == 1
    assert client.get("/api/v1/appeals", headers=resident_headers).json["items"][0]["state"] == (
        "open"
    )


def test_an_overturn_that_would_overdraw_changes_nothing(
    client, graded, household, resident_headers, admin_headers
):
    appeal_id = appeal(client, graded, resident_headers).json["id"]
    ledger.adjust(household.village_id, household.id, -1, reason="已兑换", actor_id=None)
    db.session.commit()  # the grade's point is gone

    response = decide(client, appeal_id, admin_headers, grade="A")

    assert_problem(response, 409, "insufficient_points")
    db.session.expire_all()
    assert db.session.get(Inspection, graded).voided_at is None
    assert balance_of(household.id) == 0
    assert client.get("/api/v1/appeals", headers=resident_headers).json["items"][0]["state"] == (
        "open"
    )
    assert db.session.query(Inspection).count() == 1
    assert ledger.verify().ok


def test_an_upheld_appeal_takes_no_grade(client, graded, resident_headers, admin_headers):
    appeal_id = appeal(client, graded, resident_headers).json["id"]

    assert_problem(decide(client, appeal_id, admin_headers, decision="upheld", grade="A"), 422)


def test_a_decided_appeal_is_not_decided_again(
    client, graded, household, resident_headers, admin_headers
):
    appeal_id = appeal(client, graded, resident_headers).json["id"]
    assert decide(client, appeal_id, admin_headers, grade="A").status_code == 200

    assert_problem(decide(client, appeal_id, admin_headers, grade="B"), 409)
    assert balance_of(household.id) == 3


def test_a_resent_decision_with_its_key_decides_once(
    client, graded, household, resident_headers, admin_headers
):
    appeal_id = appeal(client, graded, resident_headers).json["id"]
    headers = {**admin_headers, "Idempotency-Key": "decide-1"}

    first = decide(client, appeal_id, headers, grade="A")
    again = decide(client, appeal_id, headers, grade="A")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json == first.json
    assert balance_of(household.id) == 3
    assert ledger.verify().ok


def test_admins_deciding_at_once_decide_once(
    app, client, graded, household, resident_headers, make_user, token_for
):
    appeal_id = appeal(client, graded, resident_headers).json["id"]
    household_id = household.id
    headers = [token_for(make_user(ADMIN)) for _ in range(4)]

    def send(index):
        response = app.test_client().post(
            f"/api/v1/appeals/{appeal_id}/decide",
            json={"decision": "overturned", "note": "race", "grade": "A"},
            headers=headers[index],
        )
        return response.status_code

    results = run_at_once(app, len(headers), send)

    assert sorted(results) == [200, 409, 409, 409], results
    db.session.rollback()
    assert balance_of(household_id) == 3
    assert db.session.query(Inspection).count() == 2
    assert ledger.verify().ok


def test_households_appealing_at_once_appeal_once(
    app, client, graded, household, make_user, token_for
):
    logins = [token_for(make_user(HOUSEHOLD, household=household)) for _ in range(3)]

    def send(index):
        return appeal(app.test_client(), graded, logins[index]).status_code

    results = run_at_once(app, len(logins), send)

    assert sorted(results) == [201, 409, 409], results


def test_an_appeal_photo_is_kept_for_the_admins(client, graded, resident_headers, admin_headers):
    appeal_id = appeal(client, graded, resident_headers).json["id"]

    sent = client.post(
        f"/api/v1/appeals/{appeal_id}/photo",
        data={"photo": (io.BytesIO(png_bytes()), "bin.png")},
        headers=resident_headers,
        content_type="multipart/form-data",
    )

    assert sent.status_code == 200, sent.json
    assert sent.json["has_photo"] is True
    shown = client.get(f"/api/v1/appeals/{appeal_id}/photo", headers=admin_headers)
    assert (shown.status_code, shown.mimetype) == (200, "image/jpeg")


def test_appeal_counts_per_inspector(client, graded, inspector, resident_headers, admin_headers):
    from app.appeals.services import appeal_counts

    appeal_id = appeal(client, graded, resident_headers).json["id"]
    decide(client, appeal_id, admin_headers)
    inspection = db.session.get(Inspection, graded)
    day = inspection.local_date

    assert appeal_counts(inspection.village_id, day, day) == {inspector.id: (1, 1)}
    assert (
        appeal_counts(inspection.village_id, day + timedelta(days=1), day + timedelta(days=2)) == {}
    )


def test_the_rules_keep_appeal_days_when_a_version_leaves_them_out(client, put_rules):
    grades = {"A": 3, "B": 2, "C": 1, "D": 0}
    assert put_rules({"grades": grades}).json["appeal_days"] == 7  # the default
    first = put_rules({"grades": grades, "appeal_days": 3, "adjustment_approval_over": 50})
    assert (first.json["appeal_days"], first.json["adjustment_approval_over"]) == (3, 50)

    kept = put_rules({"grades": grades, "daily_limit": 2})

    assert (kept.json["appeal_days"], kept.json["adjustment_approval_over"]) == (3, 50)
    off = put_rules({"grades": grades, "adjustment_approval_over": None})
    assert (off.json["appeal_days"], off.json["adjustment_approval_over"]) == (3, None)
    assert_problem(put_rules({"grades": grades, "appeal_days": 0}), 422)


# Pages ----------------------------------------------------------------------------------


def test_the_household_appeals_from_its_page_and_reads_the_decision(
    client, graded, household, resident, admin_headers
):
    from testsupport import log_in, page_post

    log_in(client, "resident")
    page = client.get("/my").get_data(as_text=True)
    assert "我家最近的评分" in page and "提交申诉" in page

    sent = page_post(client, f"/my/appeals/{graded}", {"reason": "门口那袋不是我家的"})

    assert sent.status_code == 302
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "申诉已提交" in page and "待处理" in page and "提交申诉" not in page
    appeal_id = (
        client.application.test_client()
        .get("/api/v1/appeals", headers=admin_headers)
        .json["items"][0]["id"]
    )
    decide(client, appeal_id, admin_headers, note="照片看不清，按良计", grade="B")
    page = client.get("/my").get_data(as_text=True)
    assert "已改判" in page and "照片看不清，按良计" in page and "改判为：B" in page


def test_a_second_appeal_from_the_page_says_so(client, graded, resident):
    from testsupport import log_in, page_post

    log_in(client, "resident")
    page_post(client, f"/my/appeals/{graded}", {"reason": "不对"})

    again = page_post(client, f"/my/appeals/{graded}", {"reason": "还是不对"})

    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "这次评分已经申诉过了" in page


def test_the_door_page_shows_nothing_of_appeals(client, graded, household, resident_headers):
    from app.households.cards import make_token

    appeal_id = appeal(client, graded, resident_headers).json["id"]
    assert appeal_id

    page = client.get(f"/q/{make_token(household)}").get_data(as_text=True)

    assert "申诉" not in page and "我家分类是对的" not in page


def test_the_admin_decides_on_the_desk_beside_the_evidence(
    client, graded, household, admin, resident_headers
):
    from testsupport import log_in, page_post

    appeal_id = appeal(client, graded, resident_headers).json["id"]
    log_in(client, "admin")
    dashboard = client.get("/admin/dashboard").get_data(as_text=True)
    assert 'data-figure="open-appeals">1<' in dashboard
    desk = client.get("/admin/appeals").get_data(as_text=True)
    assert household.code in desk
    page = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert "有混投" in page and "inspector" in page and "我家分类是对的" in page

    done = page_post(
        client,
        f"/admin/appeals/{appeal_id}",
        {"decision": "overturned", "grade": "A", "note": "复核属实"},
    )

    assert done.status_code == 302
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "申诉已处理" in page and "改判为：A" in page
    assert balance_of(household.id) == 3
    assert 'data-figure="open-appeals">0<' in client.get("/admin/dashboard").get_data(as_text=True)


def test_the_desk_tells_the_inspector_admin_another_must_decide(
    client, household, make_user, resident_headers
):
    from testsupport import log_in

    grader = make_user(ADMIN, username="grader-admin")
    own = record_inspection(household, grader, "C")
    db.session.commit()
    appeal_id = appeal(client, own.id, resident_headers).json["id"]
    log_in(client, "grader-admin")

    page = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)

    assert "须由另一位管理员处理申诉" in page and "data-decide" not in page


def test_the_corrected_grade_is_not_appealed_again(client, graded, resident_headers, admin_headers):
    appeal_id = appeal(client, graded, resident_headers).json["id"]
    corrected = decide(client, appeal_id, admin_headers, grade="B").json["corrected_inspection_id"]

    assert_problem(appeal(client, corrected, resident_headers), 409, "appeal_closed")


def test_the_audit_log_tells_the_decision_in_chinese(
    client, graded, admin, resident_headers, admin_headers
):
    from testsupport import log_in

    appeal_id = appeal(client, graded, resident_headers).json["id"]
    decide(client, appeal_id, admin_headers, grade="A", note="改判为优")
    log_in(client, "admin")

    page = client.get("/admin/audit").get_data(as_text=True)

    assert "处理申诉" in page and "已改判" in page and "改判为优" in page


def test_the_household_adds_a_photo_with_its_appeal_from_its_page(
    client, graded, resident, admin_headers
):
    from testsupport import log_in, page_post

    log_in(client, "resident")

    sent = page_post(
        client,
        f"/my/appeals/{graded}",
        {"reason": "看照片", "photo": (io.BytesIO(png_bytes()), "bin.png")},
        content_type="multipart/form-data",
    )

    assert sent.status_code == 302
    listed = client.get("/api/v1/appeals", headers=admin_headers).json["items"]
    assert listed[0]["has_photo"] is True


def test_the_inspectors_report_counts_each_inspectors_appeals_and_overturns(
    client, graded, inspector, resident_headers, admin_headers, make_household, make_user, token_for
):
    other = make_household(name="王建国")
    upheld = record_inspection(other, inspector, "D")
    db.session.commit()
    neighbour_headers = token_for(make_user(HOUSEHOLD, household=other, username="wangjianguo"))

    overturned_id = appeal(client, graded, resident_headers).json["id"]
    assert decide(client, overturned_id, admin_headers, grade="A").status_code == 200
    upheld_id = appeal(client, upheld.id, neighbour_headers).json["id"]
    assert decide(client, upheld_id, admin_headers, decision="upheld").status_code == 200

    report = client.get("/api/v1/reports/inspectors", headers=admin_headers).get_json()

    row = next(r for r in report["items"] if r["inspector_id"] == inspector.id)
    assert (row["appeals"], row["overturned"]) == (2, 1)
