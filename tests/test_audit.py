"""The audit log: every admin action leaves one event in its own transaction, and
the admin (only the admin, only of the village) reads the log."""

import io
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from testsupport import PASSWORD, csrf_token, log_in, page_post

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db, run_write, utcnow
from app.inspections.services import record_inspection
from app.redemptions.services import LineRequest, redeem_goods


def events(action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    db.session.expire_all()
    return list(db.session.scalars(query))


def done_by(user) -> list[AuditEvent]:
    """The events of one actor (the fixtures' own users and households are logged too)."""
    return [e for e in events() if e.actor_id == user.id]


def only(action: str) -> AuditEvent:
    found = events(action)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def cheap_soap(make_good):
    """Soap at 2 points: an A inspection (3 points) buys one and leaves too little to void."""
    return make_good("肥皂", price=2, stock=10, unit="块")


# Each admin action through the API: one event, the right actor, target and reason.


def test_changing_the_rules_records_them_before_and_after(client, admin, admin_headers, village):
    response = client.put(
        "/api/v1/rules",
        json={"grades": {"A": 5, "B": 2, "C": 1, "D": 0}, "daily_limit": 2},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.json

    event = only(audit.RULES_CHANGED)
    assert (event.village_id, event.actor_id, event.target_type) == (village.id, admin.id, "rules")
    assert event.details["version"] == 2
    assert event.details["before"]["grades"] == {"A": 3, "B": 2, "C": 1, "D": 0}
    assert event.details["before"]["daily_limit"] == 1
    assert event.details["after"]["grades"] == {"A": 5, "B": 2, "C": 1, "D": 0}
    assert event.details["after"]["daily_limit"] == 2


def test_a_new_village_logs_no_rules_change(village):
    assert events() == []


def test_reissuing_a_card_records_the_old_and_new_version(client, admin, admin_headers, household):
    response = client.post(
        f"/api/v1/households/{household.id}/qr/reissue",
        json={"reason": "卡丢了"},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.json

    event = only(audit.CARD_REISSUED)
    assert (event.actor_id, event.target_type, event.target_id) == (
        admin.id,
        "household",
        household.id,
    )
    assert event.reason == "卡丢了"
    assert event.details["old_version"] == 1 and event.details["new_version"] == 2


def test_an_adjustment_records_the_amount(client, admin, admin_headers, household):
    response = client.post(
        "/api/v1/adjustments",
        json={"household_id": household.id, "amount": 7, "reason": "纸质卡补录"},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.json

    event = only(audit.POINTS_ADJUSTED)
    assert (event.actor_id, event.target_type, event.target_id) == (
        admin.id,
        "household",
        household.id,
    )
    assert event.reason == "纸质卡补录"
    assert event.details["amount"] == 7
    assert event.details["transaction_id"] == response.json["transaction_id"]
    assert event.details["balance_after"] == 7


def test_an_adjustment_below_zero_is_refused_and_leaves_no_event(client, admin_headers, household):
    response = client.post(
        "/api/v1/adjustments",
        json={"household_id": household.id, "amount": -5, "reason": "扣分"},
        headers=admin_headers,
    )
    assert response.status_code == 409
    assert events(audit.POINTS_ADJUSTED) == []


def test_a_replayed_adjustment_leaves_one_event(client, admin_headers, household):
    headers = {**admin_headers, "Idempotency-Key": "adjust-1"}
    body = {"household_id": household.id, "amount": 3, "reason": "补录"}
    first = client.post("/api/v1/adjustments", json=body, headers=headers)
    again = client.post("/api/v1/adjustments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(events(audit.POINTS_ADJUSTED)) == 1


def test_voiding_an_inspection_is_logged_once(client, admin, admin_headers, household, inspector):
    inspection = record_inspection(household, inspector, "A")
    db.session.commit()
    path = f"/api/v1/inspections/{inspection.id}/void"

    assert client.post(path, json={"reason": "评错了"}, headers=admin_headers).status_code == 200
    again = client.post(path, json={"reason": "再来一次"}, headers=admin_headers)

    assert again.status_code == 409 and again.json["code"] == "already_reversed"
    event = only(audit.INSPECTION_VOIDED)
    assert (event.actor_id, event.target_type, event.target_id) == (
        admin.id,
        "inspection",
        inspection.id,
    )
    assert event.reason == "评错了"
    assert event.details["points"] == 3 and event.details["household_id"] == household.id


def test_a_void_refused_for_spent_points_leaves_no_event(
    client, admin_headers, household, inspector, storekeeper, cheap_soap
):
    inspection = record_inspection(household, inspector, "A")
    redeem_goods(household, storekeeper, [LineRequest(cheap_soap.id, 1)])
    db.session.commit()

    response = client.post(
        f"/api/v1/inspections/{inspection.id}/void", json={"reason": "x"}, headers=admin_headers
    )

    assert response.status_code == 409 and response.json["code"] == "insufficient_points"
    assert events(audit.INSPECTION_VOIDED) == []


def test_cancelling_a_redemption_is_logged_with_its_receipt(
    client, storekeeper, token_for, make_household, cheap_soap
):
    household = make_household(points=10)
    redemption = redeem_goods(household, storekeeper, [LineRequest(cheap_soap.id, 2)]).redemption
    db.session.commit()
    headers = token_for(storekeeper)
    path = f"/api/v1/redemptions/{redemption.id}/cancel"

    assert client.post(path, json={"reason": "退货"}, headers=headers).status_code == 200
    assert client.post(path, json={"reason": "退货"}, headers=headers).status_code == 409

    event = only(audit.REDEMPTION_CANCELLED)
    assert (event.actor_id, event.target_type, event.target_id) == (
        storekeeper.id,
        "redemption",
        redemption.id,
    )
    assert event.reason == "退货"
    assert event.details["receipt_no"] == redemption.receipt_no
    assert event.details["total_points"] == 4


def test_households_created_edited_and_moved_are_logged(
    client, admin, admin_headers, grid, make_grid
):
    created = client.post(
        "/api/v1/households",
        json={"name": "王建国", "address": "幸福路1号", "grid_id": grid.id},
        headers=admin_headers,
    )
    assert created.status_code == 201
    household_id = created.json["id"]
    other_grid = make_grid("西二网格")
    path = f"/api/v1/households/{household_id}"
    client.patch(path, json={"name": "王建军", "grid_id": other_grid.id}, headers=admin_headers)
    client.patch(path, json={"name": "王建军"}, headers=admin_headers)  # no change: no event
    client.patch(path, json={"status": "moved"}, headers=admin_headers)

    assert [(e.action, e.target_id) for e in done_by(admin)] == [
        (audit.HOUSEHOLD_CREATED, household_id),
        (audit.HOUSEHOLD_UPDATED, household_id),
        (audit.HOUSEHOLD_MOVED, household_id),
    ]
    created_event, edited, moved = done_by(admin)
    assert created_event.details["code"] == created.json["code"]
    assert edited.details["changes"] == {
        "name": {"old": "王建国", "new": "王建军"},
        "grid_id": {"old": grid.id, "new": other_grid.id},
    }
    assert moved.details["changes"] == {"status": {"old": "active", "new": "moved"}}


def test_goods_created_edited_counted_and_written_off_are_logged(client, storekeeper, token_for):
    headers = token_for(storekeeper)
    created = client.post(
        "/api/v1/goods",
        json={"name": "食用油", "unit": "瓶", "price_points": 20, "stock": 10},
        headers=headers,
    )
    assert created.status_code == 201, created.json
    good_id = created.json["id"]
    path = f"/api/v1/goods/{good_id}"
    assert client.patch(path, json={"price_points": 25}, headers=headers).status_code == 200
    counted = client.post(
        f"{path}/stocktake", json={"counted": 8, "reason": "月底盘点"}, headers=headers
    )
    assert counted.status_code in (200, 201), counted.json
    written = client.post(
        f"{path}/writeoff", json={"quantity": 3, "reason": "过期"}, headers=headers
    )
    assert written.status_code in (200, 201), written.json

    assert [(e.action, e.target_type, e.target_id) for e in done_by(storekeeper)] == [
        (audit.GOOD_CREATED, "good", good_id),
        (audit.GOOD_UPDATED, "good", good_id),
        (audit.STOCK_COUNTED, "good", good_id),
        (audit.STOCK_WRITTEN_OFF, "good", good_id),
    ]
    _created, edited, stocktake, writeoff = done_by(storekeeper)
    assert edited.details["changes"] == {"price_points": {"old": 20, "new": 25}}
    assert stocktake.reason == "月底盘点"
    assert (stocktake.details["before"], stocktake.details["counted"]) == (10, 8)
    assert writeoff.reason == "过期"
    assert (writeoff.details["quantity"], writeoff.details["stock_after"]) == (3, 5)


def test_a_write_off_past_the_stock_is_refused_and_leaves_no_event(
    client, admin_headers, cheap_soap
):
    response = client.post(
        f"/api/v1/goods/{cheap_soap.id}/writeoff",
        json={"quantity": 11, "reason": "过期"},
        headers=admin_headers,
    )
    assert response.status_code == 409
    assert events(audit.STOCK_WRITTEN_OFF) == []


def test_a_roster_import_is_one_event_with_the_count(client, admin, admin_headers, village, grid):
    data = "户主姓名,地址,网格\r\n张三,幸福路1号,东一网格\r\n李四,幸福路2号,东一网格\r\n"
    response = client.post(
        "/api/v1/households/import",
        data={"file": (io.BytesIO(data.encode()), "roster.csv")},
        headers=admin_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json

    event = only(audit.HOUSEHOLDS_IMPORTED)
    assert (event.actor_id, event.target_type, event.target_id) == (admin.id, "village", village.id)
    assert event.details == {"count": 2}
    assert events(audit.HOUSEHOLD_CREATED) == []


def test_a_bad_roster_leaves_no_event(client, admin_headers, grid):
    data = "户主姓名,地址,网格\r\n张三,幸福路1号,没有这个网格\r\n"
    response = client.post(
        "/api/v1/households/import",
        data={"file": (io.BytesIO(data.encode()), "roster.csv")},
        headers=admin_headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert events(audit.HOUSEHOLDS_IMPORTED) == events(audit.HOUSEHOLD_CREATED) == []


def test_a_rolled_back_transaction_takes_its_event_with_it(village, admin):
    def work():
        audit.record(village.id, admin.id, audit.RULES_CHANGED, "rules", 1)
        raise RuntimeError("the change failed after its event was recorded")

    with pytest.raises(RuntimeError):
        run_write(work)
    assert events(audit.RULES_CHANGED) == []


# The same actions through the admin's pages.


def test_pages_log_the_admin_as_the_actor(admin_client, admin, village, household, grid):
    rules = {f"points-{g}": p for g, p in zip("ABCD", "4210", strict=True)}
    rules.update({f"label-{g}": g for g in "ABCD"}, daily_limit="1")
    assert page_post(admin_client, "/admin/rules", rules).status_code == 302
    reissued = page_post(
        admin_client, f"/admin/households/{household.id}/reissue", {"reason": "卡坏了"}
    )
    assert reissued.status_code == 302
    edited = page_post(
        admin_client,
        f"/admin/households/{household.id}/edit",
        {
            "name": "马秀兰",
            "address": household.address,
            "grid_id": str(grid.id),
            "phone": "",
            "members": "",
            "status": "active",
        },
    )
    assert edited.status_code == 302
    data = "户主姓名,地址,网格\r\n张三,幸福路1号,东一网格\r\n".encode()
    imported = page_post(
        admin_client,
        "/admin/households/import",
        {"file": (io.BytesIO(data), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 200
    login = page_post(
        admin_client,
        f"/admin/households/{household.id}/login",
        {"username": "maxiuying", "password": PASSWORD},
    )
    assert login.status_code == 302

    assert [e.action for e in done_by(admin)] == [
        audit.RULES_CHANGED,
        audit.CARD_REISSUED,
        audit.HOUSEHOLD_UPDATED,
        audit.HOUSEHOLDS_IMPORTED,
        audit.USER_CREATED,
    ]
    assert only(audit.CARD_REISSUED).reason == "卡坏了"
    assert done_by(admin)[-1].details["role"] == HOUSEHOLD


def test_cancelling_on_the_receipt_page_is_logged(
    admin_client, admin, make_household, storekeeper, cheap_soap
):
    household = make_household(points=10)
    redemption = redeem_goods(household, storekeeper, [LineRequest(cheap_soap.id, 1)]).redemption
    db.session.commit()
    path = f"/shop/receipts/{redemption.id}/cancel"

    assert page_post(admin_client, path, {"reason": "拿错了"}).status_code == 302
    assert page_post(admin_client, path, {"reason": "拿错了"}).status_code == 302

    event = only(audit.REDEMPTION_CANCELLED)
    assert (event.actor_id, event.target_id, event.reason) == (admin.id, redemption.id, "拿错了")


def test_stock_pages_log_stocktake_and_write_off(admin_client, admin, cheap_soap):
    base = f"/admin/goods/{cheap_soap.id}"
    page_post(admin_client, f"{base}/stocktake", {"counted": "9", "reason": "盘点"})
    page_post(admin_client, f"{base}/writeoff", {"quantity": "2", "reason": "破损"})
    page_post(admin_client, f"{base}/active")

    assert [(e.action, e.reason) for e in done_by(admin)] == [
        (audit.STOCK_COUNTED, "盘点"),
        (audit.STOCK_WRITTEN_OFF, "破损"),
        (audit.GOOD_UPDATED, None),
    ]


# The log is append-only, in the database.


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET reason = 'changed'", "DELETE FROM audit_events"],
)
def test_the_database_refuses_to_change_the_log(village, admin, statement):
    audit.record(village.id, admin.id, audit.USER_CREATED, "user", admin.id)
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
        db.session.flush()
    db.session.rollback()
    assert len(events()) == 2  # the admin's own creation, and this one
    assert all(e.reason is None for e in events())


# Reading the log: the admin of the village, and nobody else.


@pytest.fixture
def some_events(client, admin, admin_headers, household, make_user):
    other_admin = make_user(ADMIN, username="admin2")
    for amount in (1, 2, 3):
        client.post(
            "/api/v1/adjustments",
            json={"household_id": household.id, "amount": amount, "reason": f"第{amount}次"},
            headers=admin_headers,
        )
    client.post(
        f"/api/v1/households/{household.id}/qr/reissue",
        json={"reason": "丢了"},
        headers=admin_headers,
    )
    return other_admin


def test_the_admin_reads_the_log_newest_first(client, admin, admin_headers, household, some_events):
    response = client.get("/api/v1/audit", headers=admin_headers)

    assert response.status_code == 200
    body = response.json
    # Two users and a household made by the fixtures, three adjustments, one reissue.
    assert body["total"] == 7
    first = body["items"][0]
    assert first["action"] == audit.CARD_REISSUED
    assert (first["actor_id"], first["actor"]) == (admin.id, "admin")
    assert (first["target_type"], first["target_id"]) == ("household", household.id)
    assert first["reason"] == "丢了"
    assert first["details"]["new_version"] == 2
    assert first["created_at"].endswith("+00:00")
    ids = [item["id"] for item in body["items"]]
    assert ids == sorted(ids, reverse=True)
    # The users made by the test fixtures were made "from the command line".
    assert body["items"][-1]["actor"] is None


def test_the_log_filters_by_action_and_actor_and_pages(client, admin, admin_headers, some_events):
    adjustments = client.get(
        "/api/v1/audit?action=points_adjusted&limit=2", headers=admin_headers
    ).json
    assert adjustments["total"] == 3
    assert [i["reason"] for i in adjustments["items"]] == ["第3次", "第2次"]
    rest = client.get(
        "/api/v1/audit?action=points_adjusted&limit=2&offset=2", headers=admin_headers
    ).json
    assert [i["reason"] for i in rest["items"]] == ["第1次"]

    mine = client.get(f"/api/v1/audit?actor_id={admin.id}", headers=admin_headers).json
    assert mine["total"] == 4
    nobody = client.get(f"/api/v1/audit?actor_id={some_events.id}", headers=admin_headers).json
    assert nobody["total"] == 0


def test_the_log_filters_by_village_days(client, admin_headers, village, some_events):
    today = (utcnow() + timedelta(hours=8)).date()  # Asia/Shanghai
    yesterday = today - timedelta(days=1)
    now = client.get(f"/api/v1/audit?from={today}&to={today}", headers=admin_headers).json
    before = client.get(f"/api/v1/audit?to={yesterday}", headers=admin_headers).json
    assert now["total"] == 7 and before["total"] == 0
    backwards = client.get(f"/api/v1/audit?from={today}&to={yesterday}", headers=admin_headers)
    assert backwards.status_code == 422


@pytest.mark.parametrize(
    "query",
    [
        "action=nonsense",
        "limit=0",
        "limit=501",
        "offset=-1",
        "actor_id=0",
        "from=x",
        "from=0001-01-01",
        "to=9999-12-31",
    ],
)
def test_the_log_refuses_bad_queries(client, admin_headers, query):
    response = client.get(f"/api/v1/audit?{query}", headers=admin_headers)
    assert response.status_code == 422
    assert response.json["code"] == "validation_error"


def test_another_villages_admin_sees_none_of_ours(
    client, make_user, token_for, other_village, some_events
):
    stranger = make_user(ADMIN, of=other_village, username="lz-admin")
    body = client.get("/api/v1/audit", headers=token_for(stranger)).json
    # Only the stranger's own creation, in its village.
    assert [(i["action"], i["target_id"]) for i in body["items"]] == [
        (audit.USER_CREATED, stranger.id)
    ]
    assert body["total"] == 1


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER, HOUSEHOLD])
def test_only_the_admin_reads_the_log(client, make_user, token_for, household, role):
    user = make_user(role, household=household if role == HOUSEHOLD else None)
    assert client.get("/api/v1/audit", headers=token_for(user)).status_code == 403


def test_the_log_needs_a_token(client):
    assert client.get("/api/v1/audit").status_code == 401


def test_the_log_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/audit"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"action", "actor_id", "from", "to", "limit", "offset"} <= names
    assert "403" in operation["responses"]


# The audit page.


def test_the_audit_page_lists_and_filters_the_events(admin_client, some_events):
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert page.count('data-action="points_adjusted"') == 3
    assert 'data-action="card_reissued"' in page
    assert "第2次" in page and "Command line" in page

    filtered = admin_client.get("/admin/audit?action=card_reissued").get_data(as_text=True)
    assert 'data-action="card_reissued"' in filtered
    assert 'data-action="points_adjusted"' not in filtered


def test_the_audit_page_pages(admin_client, village, admin):
    for n in range(55):
        audit.record(village.id, admin.id, audit.PASSWORD_RESET, "user", admin.id, {"n": n})
    db.session.commit()
    first = admin_client.get("/admin/audit").get_data(as_text=True)
    second = admin_client.get("/admin/audit?page=2").get_data(as_text=True)
    assert first.count(" data-action=") == 50
    assert second.count(" data-action=") == 6  # 55 and the admin's creation
    assert "1 / 2" in first and "2 / 2" in second


def test_the_audit_page_is_for_the_admin_only(client, make_user):
    make_user(STOREKEEPER, username="dz")
    client.post(
        "/login", data={"username": "dz", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert client.get("/admin/audit").status_code == 403


def test_the_home_page_links_the_log_and_the_users(admin_client):
    page = admin_client.get("/home").get_data(as_text=True)
    assert 'href="/admin/audit"' in page and 'href="/admin/users"' in page


def test_the_audit_page_says_the_expiry_rule_once_in_words(client, admin_headers, village):
    rules = {"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "daily_limit": 1}
    rules["expiry"] = {"policy": "idle_months", "months": 12}
    assert client.put("/api/v1/rules", json=rules, headers=admin_headers).status_code == 200
    log_in(client, "admin")

    page = client.get("/admin/audit").text

    assert "积分过期规则 积分不过期" in page
    assert "积分过期规则 连续 12 个月无变动后过期" in page
    assert "积分过期规则 规则" not in page


def test_the_audit_log_names_households_and_labels_details_in_chinese(
    client, admin, inspector, household, admin_headers, grids
):
    from app.households.services import reissue_card

    reissue_card(household, reason="卡丢了", actor_id=admin.id)
    db.session.commit()
    client.patch(
        f"/api/v1/users/{inspector.id}", json={"grid_ids": [grids[1].id]}, headers=admin_headers
    )
    log_in(client, "admin")
    page = client.get("/admin/audit").text
    assert f'为 <a href="/admin/households/{household.id}">马秀英（{household.code}）</a>' in page
    assert "补发了积分卡" in page and "原版本" in page and "新版本" in page
    assert f"#{household.id}" not in page and "old_version" not in page
    assert "设置了 <strong>inspector</strong> 负责的网格" in page
    assert "西一网格" in page and "new_grid_ids" not in page
    assert "卡丢了" in page
