"""The village office (issue 16): inspectors' grids, password help, the audit log, admin pages."""

import re
import uuid

from sqlalchemy import func, select
from testsupport import PASSWORD, api_log_in, balance_of, log_in, page_post

from app.audit.models import AuditEvent
from app.auth.models import INSPECTOR, User
from app.db import db
from app.inspections.models import Inspection


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def lock_out(client, username: str) -> None:
    """Fail logins until the API refuses the next one with 429."""
    for _ in range(10):
        if api_log_in(client, username, "wrong-password").status_code == 429:
            return
    raise AssertionError("the login never locked")


# Inspectors assigned to grids.


def test_the_admin_assigns_an_inspector_to_grids(
    client, admin_headers, inspector, grids, other_village, make_grid
):
    east, west = grids
    path = f"/api/v1/users/{inspector.id}"
    assert client.get(path, headers=admin_headers).json["grid_ids"] == []
    response = client.patch(path, json={"grid_ids": [west.id, east.id]}, headers=admin_headers)
    assert response.status_code == 200, response.json
    assert response.json["grid_ids"] == sorted([east.id, west.id])
    assert client.get(path, headers=admin_headers).json["grid_ids"] == sorted([east.id, west.id])
    [event] = events("user_grids_set")
    assert event.details["new_grid_ids"] == sorted([east.id, west.id])
    # Another village's grid, or none at all, is refused and changes nothing.
    foreign = make_grid("外村网格", of=other_village)
    for wrong in ([foreign.id], [999999]):
        refused = client.patch(path, json={"grid_ids": wrong}, headers=admin_headers)
        assert refused.status_code == 422
        assert refused.json["code"] == "validation_error"
    assert client.get(path, headers=admin_headers).json["grid_ids"] == sorted([east.id, west.id])
    # [] puts the inspector back on the whole village.
    assert client.patch(path, json={"grid_ids": []}, headers=admin_headers).json["grid_ids"] == []


def test_the_inspectors_list_to_visit_follows_their_grids(
    client, inspector, grids, make_household, admin_headers
):
    east, west = grids
    make_household(name="东户甲", in_grid=east)
    make_household(name="西户乙", in_grid=west)
    client.patch(
        f"/api/v1/users/{inspector.id}", json={"grid_ids": [west.id]}, headers=admin_headers
    )
    log_in(client, "inspector", english=True)
    page = client.get("/inspect").text
    assert "西户乙" in page and "东户甲" not in page
    # Asking for the other grid still shows only the assigned one's households.
    page = client.get(f"/inspect?grid_id={east.id}").text
    assert "西户乙" in page and "东户甲" not in page


def test_the_admin_sets_grids_on_the_users_page(client, admin, inspector, grids):
    east, west = grids
    log_in(client, "admin", english=True)
    page = client.get("/admin/users").text
    assert "Assign grids" in page and "The whole village" in page
    response = page_post(client, f"/admin/users/{inspector.id}/grids", {"grid_id": [str(east.id)]})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    assert "The grids are saved." in page
    row = page.split('data-user="inspector"')[1].split("</tr>")[0]
    assert "东一网格" in row and "西一网格" not in row.split("<details")[0]
    refused = page_post(client, f"/admin/users/{inspector.id}/grids", {"grid_id": ["999999"]})
    assert refused.status_code == 422
    assert "Choose grids of this village." in refused.text


# Password help.


def test_the_admin_resets_a_password_on_the_users_page(client, admin, inspector):
    log_in(client, "admin", english=True)
    response = page_post(
        client, f"/admin/users/{inspector.id}/password", {"password": "a-brand-new-one"}
    )
    assert response.status_code == 302
    assert "The new password is set" in client.get(response.headers["Location"]).text
    assert api_log_in(client, "inspector", "a-brand-new-one").status_code == 201
    assert api_log_in(client, "inspector", PASSWORD).status_code == 401
    assert len(events("password_reset")) == 1
    short = page_post(client, f"/admin/users/{inspector.id}/password", {"password": "short"})
    assert short.status_code == 422
    assert "8 to 256 characters" in short.text


def test_the_admin_unlocks_a_locked_login(client, admin, inspector):
    lock_out(client, "inspector")
    assert api_log_in(client, "inspector").status_code == 429
    log_in(client, "admin", english=True)
    page = client.get("/admin/users").text
    assert "Unlock the login" in page and "failed logins" in page
    response = page_post(client, f"/admin/users/{inspector.id}/unlock")
    assert response.status_code == 302
    assert "The login is unlocked" in client.get(response.headers["Location"]).text
    assert api_log_in(client, "inspector").status_code == 201
    [event] = events("login_unlocked")
    assert event.details["username"] == "inspector" and event.details["failed_logins_cleared"] > 0


def test_the_users_page_says_how_long_a_login_stays_locked(client, admin, inspector):
    lock_out(client, "inspector")
    log_in(client, "admin")

    page = client.get("/admin/users").text

    row = re.search(r'<tr data-user="inspector".*?</tr>', page, re.S).group(0)
    assert re.search(r"已锁定，[1-9]\d* 分钟后解锁", row)
    assert "已锁定" not in re.search(r'<tr data-user="admin".*?</tr>', page, re.S).group(0)
    page_post(client, f"/admin/users/{inspector.id}/unlock")
    assert "已锁定" not in client.get("/admin/users").text


def test_unlocking_through_the_api_is_for_the_admin(
    client, admin_headers, inspector, inspector_headers
):
    lock_out(client, "inspector")
    path = f"/api/v1/users/{inspector.id}/unlock"
    assert client.post(path, json={}, headers=inspector_headers).status_code == 403
    assert api_log_in(client, "inspector").status_code == 429
    response = client.post(
        path, json={}, headers={**admin_headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 200, response.json
    assert api_log_in(client, "inspector").status_code == 201


def test_the_users_page_says_enabled_and_disabled_in_chinese(client, admin, make_user):
    gone = make_user(INSPECTOR, username="gone")
    log_in(client, "admin")
    assert page_post(client, f"/admin/users/{gone.id}/active", {"active": "0"}).status_code == 302
    page = client.get("/admin/users").text
    assert "已启用" in page and "已停用" in page and "在住" not in page


def test_the_dashboard_shows_each_inspectors_figures(
    client, admin, admin_headers, inspector, make_user, grids, make_household
):
    from app.inspections.services import record_inspection

    east, west = grids
    first = make_household(name="东户甲", in_grid=east)
    make_household(name="东户丙", in_grid=east)
    make_household(name="西户乙", in_grid=west)
    other = make_user(INSPECTOR, username="lisi")
    client.patch(
        f"/api/v1/users/{inspector.id}", json={"grid_ids": [east.id]}, headers=admin_headers
    )
    record_inspection(first, inspector, "A")
    db.session.commit()
    log_in(client, "admin", english=True)
    page = client.get("/admin/dashboard").text
    assert "Inspectors this month" in page and "Inspections per day" in page
    mine = page.split('data-inspector="inspector"')[1].split("</tr>")[0]
    assert "东一网格" in mine and 'data-figure="inspections">1<' in mine
    assert "1 / 2" in mine  # one of the two households of 东一网格 visited
    theirs = page.split(f'data-inspector="{other.username}"')[1].split("</tr>")[0]
    assert "The whole village" in theirs and 'data-figure="inspections">0<' in theirs
    assert "1 / 3" in theirs


# The audit log reads as sentences.


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


# Admin pages.


def test_every_admin_page_has_the_menu_and_home_keeps_the_api_for_developers(client, admin):
    log_in(client, "admin", english=True)
    for path in ("/admin/users", "/admin/audit", "/admin/households", "/admin/dashboard"):
        page = client.get(path).text
        assert "data-admin-menu" in page, path
        assert 'aria-current="page"' in page, path
        for link in ('href="/admin/users"', 'href="/admin/audit"', 'href="/admin/households"'):
            assert link in page, (path, link)
    home = client.get("/home").text
    tiles = home.split('class="tiles"')[1].split("</ul>")[0]
    assert "/api/v1/docs" not in tiles
    assert "For developers" in home and 'href="/api/v1/docs"' in home


def test_the_households_list_shows_grid_masked_phone_balance_and_last_inspection(
    client, admin, inspector, make_household, grids
):
    from app.inspections.services import record_inspection

    east, west = grids
    seen = make_household(name="东户甲", in_grid=east, phone="13812345678", points=7)
    unseen = make_household(name="西户乙", in_grid=west)
    record_inspection(seen, inspector, "A")
    db.session.commit()
    log_in(client, "admin", english=True)
    page = client.get("/admin/households").text
    row = page.split(f'data-household="{seen.code}"')[1].split("</tr>")[0]
    assert "东一网格" in row and "138****5678" in row and "13812345678" not in page
    assert f'class="num">{balance_of(seen)}<' in row and balance_of(seen) > 7
    day = db.session.scalar(select(Inspection.local_date))
    assert day.isoformat() in row
    other = page.split(f'data-household="{unseen.code}"')[1].split("</tr>")[0]
    assert "西一网格" in other and "Never" in other


def test_editing_a_household_says_it_was_saved(client, admin, household, grid):
    log_in(client, "admin", english=True)
    response = page_post(
        client,
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
    assert response.status_code == 302
    assert "Saved." in client.get(response.headers["Location"]).text


def test_the_board_shows_no_door_card_codes_and_skips_households_too_new(
    client, admin, inspector, make_household, grids
):
    from app.inspections.services import record_inspection

    east, _west = grids
    seen = make_household(name="张伟明", in_grid=east)
    missed = make_household(name="李小红", in_grid=east)
    record_inspection(seen, inspector, "A")
    db.session.commit()
    too_new = make_household(name="王大山", in_grid=east)  # registered after the round
    log_in(client, "admin", english=True)
    page = client.get("/admin/board").text
    never = page.split('data-section="never-inspected"')[1].split("</section>")[0]
    assert f'data-household="{missed.code}"' in never
    assert f'data-household="{too_new.code}"' not in never
    visible = never.replace(f'data-household="{missed.code}"', "")
    assert missed.code not in visible and "李*红" in visible
    top = page.split('data-section="top"')[1].split("</section>")[0]
    assert seen.code not in top.replace(f'data-household="{seen.code}"', "")


def test_a_long_board_list_leaves_no_lonely_row_on_its_last_page(app):
    from app.reports.pdf import LongList

    rows = LongList("title", ["name"], [("x",)] * 10, [100], ())
    room = rows.TITLE_H + rows.HEAD_H + rows.ROW_H * 9 + 1  # nine rows fit, one is over
    first, rest = rows.split(100, room)
    assert rest.stop - rest.start >= 2
    assert first.stop - first.start + rest.stop - rest.start == 10


# The users page's forms go through the API's actions, each with its own key.


def test_each_form_on_the_users_page_carries_its_own_key(client, admin, inspector):
    log_in(client, "admin")
    page = client.get("/admin/users").text
    keys = re.findall(r'name="key" value="([0-9a-f]{32})"', page)
    forms = page.count('method="post"')
    assert len(keys) == forms and len(set(keys)) == forms


def test_a_resent_add_user_form_adds_the_user_once(client, admin):
    log_in(client, "admin")
    form = {"username": "xiaoli", "password": PASSWORD, "role": INSPECTOR, "key": "k-add"}
    first = page_post(client, "/admin/users", form)
    again = page_post(client, "/admin/users", form)
    assert first.status_code == again.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    assert "done=created" in first.headers["Location"]
    assert db.session.scalar(select(func.count()).where(User.username == "xiaoli")) == 1
    assert [e.details["username"] for e in events("user_created")].count("xiaoli") == 1


def test_a_taken_username_is_named_in_chinese(client, admin, inspector):
    log_in(client, "admin")
    form = {"username": "inspector", "password": PASSWORD, "role": INSPECTOR}
    response = page_post(client, "/admin/users", form)
    assert response.status_code == 422
    assert "这个用户名已被占用" in response.text
    assert "taken" not in response.text
    assert 'value="inspector"' in response.text  # what was typed stays


def test_a_household_login_needs_a_household_of_the_village(client, admin, other_village):
    log_in(client, "admin")
    form = {"username": "hu", "password": PASSWORD, "role": "household", "household": "NOPE-1"}
    response = page_post(client, "/admin/users", form)
    assert response.status_code == 422
    assert "本村没有这个户编号" in response.text
    assert db.session.scalar(select(func.count()).where(User.username == "hu")) == 0


def test_disabling_a_user_from_the_page_is_one_audited_change(client, admin, inspector):
    log_in(client, "admin")
    form = {"active": "0", "key": "k-off"}
    first = page_post(client, f"/admin/users/{inspector.id}/active", form)
    again = page_post(client, f"/admin/users/{inspector.id}/active", form)
    assert first.status_code == again.status_code == 302
    assert "done=disabled" in first.headers["Location"]
    assert api_log_in(client, "inspector").status_code == 401
    assert [e.target_id for e in events("user_disabled")] == [inspector.id]
    myself = page_post(client, f"/admin/users/{admin.id}/active", {"active": "0"})
    assert myself.status_code == 422
    assert "不能停用自己的账号" in myself.text
