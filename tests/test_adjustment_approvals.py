"""Maker-checker: an adjustment over the rules' adjustment_approval_over waits for another admin."""

import re
import uuid

import pytest
from testsupport import assert_problem, balance_of, csrf_token, run_at_once

from app.audit.models import AuditEvent
from app.auth.models import ADMIN
from app.db import db
from app.ledger import services as ledger

GRADES = {"A": 3, "B": 2, "C": 1, "D": 0}
PENDING = re.compile(r'data-pending="(\d+)"')


@pytest.fixture
def threshold(put_rules):
    """The village's rules: adjustments of more than 100 points wait for approval."""
    assert put_rules({"grades": GRADES, "adjustment_approval_over": 100}).status_code == 200


@pytest.fixture
def second_admin(make_user, token_for):
    return token_for(make_user(ADMIN, username="admin-two"))


def adjust(client, household, amount, headers, reason="补录纸质记录"):
    return client.post(
        "/api/v1/adjustments",
        json={"household_id": household.id, "amount": amount, "reason": reason},
        headers=headers,
    )


def test_without_the_setting_a_large_adjustment_posts_at_once(client, household, admin_headers):
    response = adjust(client, household, 500, admin_headers)

    assert response.status_code == 201, response.json
    assert balance_of(household.id) == 500


@pytest.mark.usefixtures("threshold")
def test_a_small_adjustment_still_posts_at_once(client, household, admin_headers):
    assert adjust(client, household, 100, admin_headers).status_code == 201
    assert balance_of(household.id) == 100


@pytest.mark.usefixtures("threshold")
def test_a_large_adjustment_waits_and_moves_nothing(client, household, admin_headers):
    response = adjust(client, household, 101, admin_headers)

    assert response.status_code == 202, response.json
    assert response.json["state"] == "pending"
    assert balance_of(household.id) == 0
    listed = client.get("/api/v1/adjustments?state=pending", headers=admin_headers).json["items"]
    assert [(a["id"], a["amount"]) for a in listed] == [(response.json["id"], 101)]


@pytest.mark.usefixtures("threshold")
def test_another_admin_approves_and_it_posts(client, household, admin_headers, second_admin):
    pending = adjust(client, household, 300, admin_headers).json

    response = client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=second_admin)

    assert response.status_code == 201, response.json
    assert response.json["balance"] == 300
    assert response.json["transaction_id"] > 0
    assert balance_of(household.id) == 300
    assert (
        client.get("/api/v1/adjustments?state=pending", headers=admin_headers).json["items"] == []
    )
    actions = [e.action for e in db.session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions[-3:] == ["adjustment_requested", "points_adjusted", "adjustment_approved"]
    assert ledger.verify().ok


@pytest.mark.usefixtures("threshold")
def test_the_same_admin_may_not_approve_or_reject(client, household, admin_headers):
    pending = adjust(client, household, 300, admin_headers).json

    approved = client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=admin_headers)
    rejected = client.post(
        f"/api/v1/adjustments/{pending['id']}/reject", json={"reason": "x"}, headers=admin_headers
    )

    assert_problem(approved, 403, "same_person")
    assert_problem(rejected, 403, "same_person")
    assert balance_of(household.id) == 0


@pytest.mark.usefixtures("threshold")
def test_a_rejected_adjustment_moves_nothing_and_cannot_be_approved(
    client, household, admin_headers, second_admin
):
    pending = adjust(client, household, -300, admin_headers).json

    rejected = client.post(
        f"/api/v1/adjustments/{pending['id']}/reject",
        json={"reason": "没有依据"},
        headers=second_admin,
    )

    assert rejected.status_code == 200, rejected.json
    assert (rejected.json["state"], rejected.json["reject_reason"]) == ("rejected", "没有依据")
    assert_problem(
        client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=second_admin), 409
    )
    assert balance_of(household.id) == 0
    listed = client.get("/api/v1/adjustments?state=rejected", headers=admin_headers).json
    assert [a["id"] for a in listed["items"]] == [pending["id"]]


@pytest.mark.usefixtures("threshold")
def test_a_large_deduction_that_would_overdraw_stays_pending(
    client, household, admin_headers, second_admin
):
    pending = adjust(client, household, -300, admin_headers).json

    response = client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=second_admin)

    assert_problem(response, 409, "insufficient_points")
    listed = client.get("/api/v1/adjustments?state=pending", headers=admin_headers).json["items"]
    assert [a["id"] for a in listed] == [pending["id"]]


@pytest.mark.usefixtures("threshold")
def test_a_double_tap_approves_once(client, household, admin_headers, second_admin):
    pending = adjust(client, household, 300, admin_headers).json
    headers = {**second_admin, "Idempotency-Key": "approve-1"}

    first = client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=headers)
    again = client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert balance_of(household.id) == 300


@pytest.mark.usefixtures("threshold")
def test_admins_approving_at_once_post_it_once(
    app, client, household, admin_headers, make_user, token_for
):
    pending = adjust(client, household, 300, admin_headers).json
    household_id = household.id
    headers = [token_for(make_user(ADMIN)) for _ in range(4)]

    def send(index):
        return (
            app.test_client()
            .post(f"/api/v1/adjustments/{pending['id']}/approve", headers=headers[index])
            .status_code
        )

    results = run_at_once(app, len(headers), send)

    assert sorted(results) == [201, 409, 409, 409], results
    db.session.rollback()
    assert balance_of(household_id) == 300
    assert ledger.verify().ok


@pytest.mark.usefixtures("threshold")
def test_another_villages_admin_cannot_see_or_approve(
    client, household, admin_headers, other_village, make_user, token_for
):
    pending = adjust(client, household, 300, admin_headers).json
    stranger = token_for(make_user(ADMIN, of=other_village, username="li-admin"))

    assert client.get("/api/v1/adjustments", headers=stranger).json["items"] == []
    assert_problem(
        client.post(f"/api/v1/adjustments/{pending['id']}/approve", headers=stranger), 404
    )
    assert balance_of(household.id) == 0


# Pages ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("threshold")
def test_the_household_page_form_waits_and_another_admin_approves_on_the_dashboard(
    client, household, admin, make_user
):
    from testsupport import log_in, page_post

    make_user(ADMIN, username="admin-two")
    log_in(client, "admin")
    sent = page_post(
        client, f"/admin/households/{household.id}/adjust", {"amount": "500", "reason": "补录"}
    )
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "须另一位管理员在数据看板上审批" in page
    assert balance_of(household.id) == 0
    assert "须由另一位管理员审批" in client.get("/admin/dashboard").get_data(as_text=True)

    client.post("/logout", data={"csrf_token": csrf_token(client)})
    log_in(client, "admin-two")
    dashboard = client.get("/admin/dashboard").get_data(as_text=True)
    pending_id = int(PENDING.search(dashboard).group(1))
    key = uuid.uuid4().hex
    first = page_post(client, f"/admin/adjustments/{pending_id}/approve", {"key": key})
    again = page_post(client, f"/admin/adjustments/{pending_id}/approve", {"key": key})

    assert first.status_code == again.status_code == 302
    assert balance_of(household.id) == 500
    assert "积分调整已处理" in client.get(first.headers["Location"]).get_data(as_text=True)


def test_the_rules_page_tells_a_one_admin_village_the_setting_needs_two(client, admin, make_user):
    from testsupport import RULES_FORM, log_in, page_post

    log_in(client, "admin")
    assert "本村只有一位管理员" in client.get("/admin/rules").get_data(as_text=True)
    saved = page_post(client, "/admin/rules", {**RULES_FORM, "adjustment_approval_over": "100"})
    assert saved.status_code == 302
    assert 'value="100"' in client.get("/admin/rules").get_data(as_text=True)

    make_user(ADMIN, username="admin-two")

    assert "本村只有一位管理员" not in client.get("/admin/rules").get_data(as_text=True)
