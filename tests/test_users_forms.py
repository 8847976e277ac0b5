"""The users page's forms are the API's actions: one key each, once per key, refusals in Chinese."""

import re

from sqlalchemy import func, select
from testsupport import PASSWORD, api_log_in, events, log_in, page_post

from app.auth.models import INSPECTOR, User
from app.db import db


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


def test_the_users_page_says_enabled_and_disabled_in_chinese(client, admin, make_user):
    gone = make_user(INSPECTOR, username="gone")
    log_in(client, "admin")
    assert page_post(client, f"/admin/users/{gone.id}/active", {"active": "0"}).status_code == 302
    page = client.get("/admin/users").text
    assert "已启用" in page and "已停用" in page and "在住" not in page
