"""Households over time: split (分户), merge (合户), move out (迁出) and move back."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from testsupport import assert_problem, balance_of, page_post

from app.audit.models import AuditEvent
from app.checks import verify_all
from app.db import db
from app.households import changes
from app.households.models import Household
from app.ledger.models import Journal
from app.scope import village_today

pytestmark = pytest.mark.usefixtures("photo_folder")


def today(village) -> date:
    return village_today(village.id)


def split(client, headers, household, grid, points, **extra):
    body = {"name": "马小军", "address": "马庄村1组 幸福路10号", "grid_id": grid.id}
    return client.post(
        f"/api/v1/households/{household.id}/split",
        json={**body, "points": points, **extra},
        headers=headers,
    )


def post(client, headers, household, what, body=None):
    return client.post(
        f"/api/v1/households/{household.id}/{what}", json=body or {}, headers=headers
    )


def statement(client, headers, household_id) -> list[dict]:
    response = client.get(f"/api/v1/households/{household_id}/ledger", headers=headers)
    assert response.status_code == 200, response.text
    return response.json["items"]


def journals(kind: str) -> list[Journal]:
    db.session.rollback()
    return list(db.session.scalars(select(Journal).where(Journal.kind == kind)))


def audited(action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# Split --------------------------------------------------------------------------------------


def test_split_makes_a_household_with_its_card_and_moves_points_in_one_journal(
    client, admin_headers, make_household, grid
):
    old = make_household(points=30)

    response = split(client, admin_headers, old, grid, 12, reason="儿子结婚分户")

    assert response.status_code == 201, response.text
    new = response.json
    assert new["balance"] == 12 and new["name"] == "马小军" and new["status"] == "active"
    assert new["qr_payload"] and new["code"] != old.code
    assert response.headers["Location"].endswith(f"/api/v1/households/{new['id']}")
    assert balance_of(old, fresh=True) == 18
    assert [len(j.memo) > 0 for j in journals("transfer")] == [True]
    assert statement(client, admin_headers, old.id)[0]["memo"].startswith("分户转出")
    assert statement(client, admin_headers, old.id)[0]["amount"] == -12
    assert statement(client, admin_headers, new["id"])[0]["memo"].startswith("分户转入")
    assert statement(client, admin_headers, new["id"])[0]["kind"] == "transfer"
    card = client.get(f"/api/v1/households/{new['id']}/qr.png", headers=admin_headers)
    assert card.status_code == 200 and card.mimetype == "image/png"
    [event] = audited("household_split")
    assert event.reason == "儿子结婚分户" and event.details["points"] == 12
    assert verify_all().ok


def test_split_never_moves_more_than_the_balance(client, admin_headers, make_household, grid):
    old = make_household(points=5)
    before = client.get("/api/v1/households", headers=admin_headers).json["total"]

    assert_problem(split(client, admin_headers, old, grid, 6), 409, "insufficient_points")

    assert balance_of(old, fresh=True) == 5
    assert client.get("/api/v1/households", headers=admin_headers).json["total"] == before
    assert journals("transfer") == []


def test_split_with_no_points_moves_none(client, admin_headers, make_household, grid):
    old = make_household(points=5)
    response = split(client, admin_headers, old, grid, 0)
    assert response.status_code == 201 and response.json["balance"] == 0
    assert balance_of(old, fresh=True) == 5 and journals("transfer") == []


@pytest.mark.parametrize("points", [-1, "3", None, 1.5])
def test_split_refuses_bad_points(client, admin_headers, make_household, grid, points):
    old = make_household(points=5)
    assert_problem(split(client, admin_headers, old, grid, points), 422, "validation_error")
    assert balance_of(old, fresh=True) == 5


def test_split_into_another_villages_grid_is_refused(
    client, admin_headers, make_household, make_grid, other_village
):
    old = make_household(points=5)
    theirs = make_grid("外村网格", of=other_village)
    assert_problem(split(client, admin_headers, old, theirs, 1), 422, "validation_error")
    assert balance_of(old, fresh=True) == 5 and journals("transfer") == []


def test_split_is_idempotent_with_a_key(client, admin_headers, make_household, grid):
    old = make_household(points=10)
    headers = {**admin_headers, "Idempotency-Key": "split-1"}
    first = split(client, headers, old, grid, 4)
    again = split(client, headers, old, grid, 4)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    assert balance_of(old, fresh=True) == 6


# Merge --------------------------------------------------------------------------------------


def test_merge_moves_the_whole_balance_revokes_the_card_and_closes_it(
    client, admin_headers, make_household, inspector_headers
):
    parents = make_household(points=40, name="马老汉")
    children = make_household(points=7, name="马建设")
    old_card = client.get(f"/api/v1/households/{parents.id}", headers=admin_headers).json[
        "qr_payload"
    ]

    response = post(
        client, admin_headers, parents, "merge", {"into": children.id, "reason": "老人随子女"}
    )

    assert response.status_code == 200, response.text
    assert response.json["status"] == "merged" and response.json["balance"] == 0
    assert response.json["merged_into_id"] == children.id
    assert balance_of(children, fresh=True) == 47
    [journal] = journals("transfer")
    assert journal.reason == "老人随子女"
    scan = client.post("/api/v1/scan", json={"payload": old_card}, headers=inspector_headers)
    assert_problem(scan, 410, "revoked_qr")
    # Its history stays readable, from its own id (the survivor's page links it).
    history = statement(client, admin_headers, parents.id)
    assert history[0]["memo"].startswith("合户转出") and history[0]["balance_after"] == 0
    assert history[-1]["kind"] == "adjustment"
    assert statement(client, admin_headers, children.id)[0]["memo"].startswith("合户转入")
    # It has left the lists, and takes no grade.
    listed = client.get("/api/v1/households", headers=admin_headers).json
    assert [h["id"] for h in listed["items"]] == [children.id]
    merged = client.get(
        "/api/v1/households", query_string={"status": "merged"}, headers=admin_headers
    ).json
    assert [h["id"] for h in merged["items"]] == [parents.id]
    grade = client.post(
        "/api/v1/inspections",
        json={"household_id": parents.id, "grade": "A"},
        headers=inspector_headers,
    )
    assert_problem(grade, 409, "household_inactive")
    assert {e.details["into_code"] for e in audited("household_merged")} == {children.code}
    assert verify_all().ok


def test_merge_refusals_change_nothing(client, admin_headers, make_household, other_village):
    one = make_household(points=3)
    two = make_household(points=4)
    stranger = make_household(of=other_village, points=9, name="李四")

    assert_problem(post(client, admin_headers, one, "merge", {"into": one.id}), 422)
    assert_problem(post(client, admin_headers, one, "merge", {"into": stranger.id}), 422)
    assert_problem(post(client, admin_headers, stranger, "merge", {"into": one.id}), 404)
    assert_problem(post(client, admin_headers, one, "merge", {}), 422, "validation_error")
    assert post(client, admin_headers, one, "merge", {"into": two.id}).status_code == 200
    again = post(client, admin_headers, one, "merge", {"into": two.id})
    assert_problem(again, 409, "household_inactive")
    into_merged = post(client, admin_headers, two, "merge", {"into": one.id})
    assert_problem(into_merged, 409, "household_inactive")
    assert balance_of(two, fresh=True) == 7 and balance_of(stranger) == 9


def test_merge_of_an_empty_household_posts_nothing(client, admin_headers, make_household):
    empty = make_household()
    other = make_household(points=2)
    assert post(client, admin_headers, empty, "merge", {"into": other.id}).status_code == 200
    assert journals("transfer") == [] and balance_of(other, fresh=True) == 2


# Move out, forfeit, move back -------------------------------------------------------------


def test_move_out_stops_grades_keeps_redeeming_and_the_nightly_run_forfeits_once(
    client,
    runner,
    village,
    admin_headers,
    inspector_headers,
    storekeeper_headers,
    make_household,
    soap,
):
    family = make_household(points=30)
    day = today(village)

    moved = post(client, admin_headers, family, "move-out", {"on": day.isoformat()})

    assert moved.status_code == 200, moved.text
    assert moved.json["status"] == "moved_out"
    assert moved.json["forfeit_on"] == (day + timedelta(days=28)).isoformat()
    grade = client.post(
        "/api/v1/inspections",
        json={"household_id": family.id, "grade": "A"},
        headers=inspector_headers,
    )
    assert_problem(grade, 409, "moved_out")
    redeemed = client.post(
        "/api/v1/redemptions",
        json={"household_id": family.id, "lines": [{"good_id": soap.id, "quantity": 2}]},
        headers=storekeeper_headers,
    )
    assert redeemed.status_code == 201, redeemed.text
    assert balance_of(family, fresh=True) == 20

    too_early = (day + timedelta(days=27)).isoformat()
    runner.invoke(args=["ledger", "expire", "--village", village.code, "--at", too_early])
    assert balance_of(family, fresh=True) == 20 and journals("forfeit") == []

    on_the_day = (day + timedelta(days=28)).isoformat()
    result = runner.invoke(args=["ledger", "expire", "--village", village.code, "--at", on_the_day])
    assert result.exit_code == 0, result.output
    assert "forfeited 20 points" in result.output
    assert balance_of(family, fresh=True) == 0
    [journal] = journals("forfeit")
    assert journal.business_key == changes.forfeit_key(family.id, day + timedelta(days=28))
    again = runner.invoke(args=["ledger", "expire", "--village", village.code, "--at", on_the_day])
    assert again.exit_code == 0 and "forfeited" not in again.output
    assert len(journals("forfeit")) == 1
    assert_problem(post(client, admin_headers, family, "move-back"), 409, "forfeit_passed")
    assert verify_all().ok
    verify = runner.invoke(args=["ledger", "verify"])
    assert verify.exit_code == 0, verify.output


def test_move_out_default_and_own_forfeit_period(client, village, admin_headers, make_household):
    family = make_household(points=1)
    day = today(village) - timedelta(days=3)
    body = {"on": day.isoformat(), "forfeit_after_days": 7}
    moved = post(client, admin_headers, family, "move-out", body)
    assert moved.json["moved_out_on"] == day.isoformat()
    assert moved.json["forfeit_on"] == (day + timedelta(days=7)).isoformat()
    [event] = audited("household_moved_out")
    assert event.reason == "迁出"


def test_move_out_refusals(client, village, admin_headers, make_household, other_village):
    family = make_household(points=1)
    stranger = make_household(of=other_village, name="李四")
    tomorrow = (today(village) + timedelta(days=1)).isoformat()
    assert_problem(post(client, admin_headers, family, "move-out", {"on": tomorrow}), 422)
    assert_problem(post(client, admin_headers, family, "move-out", {}), 422)
    bad_days = {"on": today(village).isoformat(), "forfeit_after_days": -1}
    assert_problem(post(client, admin_headers, family, "move-out", bad_days), 422)
    on = {"on": today(village).isoformat()}
    assert_problem(post(client, admin_headers, stranger, "move-out", on), 404)
    assert_problem(post(client, admin_headers, family, "move-back"), 409, "household_inactive")
    assert post(client, admin_headers, family, "move-out", on).status_code == 200
    assert_problem(post(client, admin_headers, family, "move-out", on), 409, "household_inactive")


def test_move_back_before_the_date_undoes_it(
    client, runner, village, admin_headers, inspector_headers, make_household
):
    family = make_household(points=9)
    day = today(village)
    post(client, admin_headers, family, "move-out", {"on": day.isoformat()})

    back = post(client, admin_headers, family, "move-back", {"reason": "回村了"})

    assert back.status_code == 200, back.text
    assert back.json["status"] == "active" and back.json["forfeit_on"] is None
    grade = client.post(
        "/api/v1/inspections",
        json={"household_id": family.id, "grade": "A"},
        headers=inspector_headers,
    )
    assert grade.status_code == 201, grade.text
    later = (day + timedelta(days=60)).isoformat()
    runner.invoke(args=["ledger", "expire", "--village", village.code, "--at", later])
    assert journals("forfeit") == [] and balance_of(family, fresh=True) == 12
    [event] = audited("household_moved_back")
    assert event.reason == "回村了"


def test_a_grade_given_offline_before_the_move_still_counts(
    client, village, admin_headers, inspector_headers, make_household
):
    from datetime import UTC, datetime

    family = make_household()
    day = today(village)
    post(client, admin_headers, family, "move-out", {"on": day.isoformat()})
    yesterday_noon = datetime.now(UTC) - timedelta(days=1)
    before = client.post(
        "/api/v1/inspections",
        json={"household_id": family.id, "grade": "A", "inspected_at": yesterday_noon.isoformat()},
        headers=inspector_headers,
    )
    assert before.status_code == 201, before.text
    assert balance_of(family, fresh=True) == 3


def test_moved_out_households_leave_the_roster_and_the_counts(
    client, village, admin_headers, worker_headers, make_household
):
    stays = make_household(name="留守户")
    leaves = make_household(name="迁出户")
    post(client, admin_headers, leaves, "move-out", {"on": today(village).isoformat()})
    roster = client.get("/api/v1/roster", headers=worker_headers)
    assert roster.status_code == 200, roster.text
    names = [h["name"] for h in roster.json["items"]]
    assert "留守户" in names and "迁出户" not in names
    # Participation counts it until the day it left, not from that day.
    summary = client.get(
        "/api/v1/reports/summary",
        query_string={"from": today(village).isoformat(), "to": today(village).isoformat()},
        headers=admin_headers,
    )
    assert summary.status_code == 200, summary.text
    assert summary.json["households"] == 1 and summary.json["households_active"] == 1
    week = (today(village) - timedelta(days=7)).isoformat()
    earlier = client.get(
        "/api/v1/reports/summary",
        query_string={"from": week, "to": today(village).isoformat()},
        headers=admin_headers,
    )
    assert earlier.json["households"] == 2
    assert stays.id != leaves.id


def test_the_resident_sees_how_long_is_left(
    client, village, admin_headers, household, resident_headers
):
    post(client, admin_headers, household, "move-out", {"on": today(village).isoformat()})
    me = client.get("/api/v1/me", headers=resident_headers).json
    assert me["status"] == "moved_out"
    assert me["forfeit_on"] == (today(village) + timedelta(days=28)).isoformat()


def test_days_left(make_household, village):
    family = make_household()
    assert changes.days_left(family, today(village)) is None


# Pages --------------------------------------------------------------------------------------


def detail(client, household_id):
    page = client.get(f"/admin/households/{household_id}")
    assert page.status_code == 200, page.text
    return page.text


def test_the_split_form_creates_the_household_and_offers_its_card(
    admin_client, make_household, grid
):
    old = make_household(points=15)
    assert "data-split-form" in detail(admin_client, old.id)
    assert 'max="15"' in detail(admin_client, old.id)

    response = page_post(
        admin_client,
        f"/admin/households/{old.id}/split",
        {"name": "马小军", "address": "幸福路10号", "grid_id": str(grid.id), "points": "6"},
    )

    assert response.status_code == 302, response.text
    page = admin_client.get(response.headers["Location"]).text
    db.session.rollback()
    new = db.session.scalar(select(Household).where(Household.name == "马小军"))
    assert f"/admin/cards.pdf?id={new.id}" in page and "Print its card" in page
    assert balance_of(old) == 9 and balance_of(new) == 6
    card = admin_client.get(f"/admin/cards.pdf?id={new.id}")
    assert card.status_code == 200 and card.mimetype == "application/pdf"


def test_the_split_form_refuses_more_than_the_balance_and_bad_numbers(
    admin_client, make_household, grid
):
    old = make_household(points=3)
    fields = {"name": "马小军", "address": "幸福路10号", "grid_id": str(grid.id)}
    path = f"/admin/households/{old.id}/split"
    too_many = page_post(admin_client, path, {**fields, "points": "4"})
    assert too_many.status_code == 302
    assert "Not enough points." in admin_client.get(too_many.headers["Location"]).text
    typed = page_post(admin_client, path, {**fields, "points": "x"})
    assert typed.status_code == 422 and "Points that go with the new household" in typed.text
    assert balance_of(old, fresh=True) == 3


def test_the_merge_form_by_code_and_the_history_from_the_survivor(admin_client, make_household):
    parents = make_household(points=8, name="马老汉")
    children = make_household(points=1, name="马建设")

    unknown = page_post(
        admin_client, f"/admin/households/{parents.id}/merge", {"into_code": "XX-9"}
    )
    assert unknown.status_code == 422 and "XX-9" in unknown.text
    response = page_post(
        admin_client, f"/admin/households/{parents.id}/merge", {"into_code": children.code.lower()}
    )

    assert response.status_code == 302, response.text
    assert "its card no longer works" in admin_client.get(response.headers["Location"]).text
    survivor = detail(admin_client, children.id)
    assert "data-merged-here" in survivor and f"/admin/households/{parents.id}" in survivor
    merged = detail(admin_client, parents.id)
    assert "data-merged-into" in merged and "data-split-form" not in merged
    assert "合户转出" in merged  # its history stays readable
    assert balance_of(children, fresh=True) == 9


def test_move_out_and_back_from_the_page_and_what_the_resident_sees(
    admin_client, client, app, village, household, resident
):
    from testsupport import log_in

    household_id = household.id
    day = today(village)
    response = page_post(
        admin_client,
        f"/admin/households/{household_id}/move-out",
        {"on": day.isoformat(), "forfeit_after_days": "10"},
    )
    assert response.status_code == 302, response.text
    page = admin_client.get(response.headers["Location"]).text
    assert "10 days left" in page and "data-move-back" in page

    resident_client = app.test_client()
    log_in(resident_client, "resident", english=True)
    assert "10 days left" in resident_client.get("/my").text
    door = app.test_client()
    door.get("/lang/en")
    from app.households.cards import card_payload

    db.session.rollback()
    payload = card_payload(db.session.get_one(Household, household_id))
    assert "10 days left" in door.get(payload.replace("http://greenpoints.test", "")).text

    back = page_post(admin_client, f"/admin/households/{household_id}/move-back")
    assert back.status_code == 302
    assert "days left" not in resident_client.get("/my").text


def test_the_chinese_page_says_it_in_chinese(client, admin, make_household, village):
    from testsupport import log_in

    family = make_household(points=2)
    log_in(client, "admin")
    page = client.get(f"/admin/households/{family.id}").text
    assert "分户、合户、迁出" in page and "并入另一户（合户）" in page
    page_post(client, f"/admin/households/{family.id}/move-out", {"on": today(village).isoformat()})
    assert "还剩 28 天" in client.get(f"/admin/households/{family.id}").text


# ledger verify knows transfer and forfeit ---------------------------------------------------


def test_verify_names_a_transfer_or_forfeit_that_goes_astray(village, make_household):
    from app.db import run_write
    from app.ledger import services as ledger
    from app.ledger.models import EXPIRY, ISSUANCE

    family = make_household(points=10)
    account = ledger.household_account(family.id).id
    issuance = ledger.system_account_id(village.id, ISSUANCE)
    expiry = ledger.system_account_id(village.id, EXPIRY)
    assert verify_all().ok

    run_write(
        lambda: ledger.post(village.id, "transfer", [ledger.Leg(issuance, account, 3)], memo="x")
    )
    run_write(
        lambda: ledger.post(village.id, "forfeit", [ledger.Leg(account, expiry, 4)], memo="y")
    )

    problems = [p for p in verify_all().problems if p.check == "household_move"]
    assert len(problems) == 2
    assert "not between two households" in problems[0].detail
    assert problems[1].actual == 9  # a forfeit that left 9 points behind


def test_the_audit_log_tells_each_change_in_chinese(
    client, admin, admin_headers, make_household, grid, village
):
    from testsupport import log_in

    family = make_household(points=5)
    other = make_household(points=1)
    split(client, admin_headers, family, grid, 2, reason="分家")
    post(client, admin_headers, family, "move-out", {"on": today(village).isoformat()})
    post(client, admin_headers, family, "move-back")
    post(client, admin_headers, family, "merge", {"into": other.id})
    log_in(client, "admin")
    page = client.get("/admin/audit").text
    for words in (
        "（MZ-01-0001）</a> 分出新户",
        "</a> 迁出。",
        "</a> 迁回。",
        "</a> 并入另一户",
    ):
        assert words in page, words
    assert "分家" in page
