"""The browser pages: language, logging in and out, the home page, error pages."""

import pytest
from testsupport import PASSWORD, csrf_token, log_in

from app.auth.models import HOUSEHOLD, INSPECTOR
from app.db import db

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_login_page_is_chinese_by_default(client):
    response = client.get("/login")

    assert response.status_code == 200
    assert "登录" in response.text
    assert "绿色积分" in response.text
    assert "Log in" not in response.text


def test_lang_query_shows_the_login_page_in_english(client):
    response = client.get("/login?lang=en")

    assert "Log in" in response.text
    assert "Green Points" in response.text


def test_language_switch_is_remembered(client):
    assert "登录" in client.get("/login").text

    response = client.get("/lang/en")

    assert response.status_code == 302
    assert "Log in" in client.get("/login").text
    client.get("/lang/zh_CN")
    assert "登录" in client.get("/login").text


def test_language_switch_goes_back_to_the_local_page(client):
    response = client.get("/lang/en?next=/login")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example"])
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_admin_logs_in_through_the_form_and_sees_village_administration(client, admin):
    response = log_in(client, "admin")

    assert response.status_code == 302
    assert response.headers["Location"] == "/home"
    home = client.get("/home")
    assert home.status_code == 200
    assert "村务管理" in home.text


def test_household_user_sees_its_balance_at_home(client, make_household, make_user):
    household = make_household(points=37)
    make_user(HOUSEHOLD, household=household, username="mxy")

    log_in(client, "mxy")
    home = client.get("/home", follow_redirects=True)

    assert "积分余额" in home.text
    assert ">37<" in home.text


def test_inspector_home_is_the_inspection_page(client, make_user):
    make_user(INSPECTOR, username="wgy")

    log_in(client, "wgy")

    assert "入户检查" in client.get("/home").text


def test_wrong_password_shows_the_error_with_401(client, admin):
    response = log_in(client, "admin", "not-the-password", expect=None)

    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert client.get("/home").status_code == 302


def test_form_login_is_rate_limited_after_five_failures(client, admin):
    for _ in range(5):
        log_in(client, "admin", "not-the-password", expect=None)

    response = log_in(client, "admin", expect=None)

    assert response.status_code == 429
    assert "登录失败次数过多" in response.text
    assert client.get("/home").status_code == 302


def test_disabled_user_cannot_log_in_through_the_form(client, admin):
    admin.active = False
    db.session.commit()

    # Told that it is disabled (tests/test_auth.py), and still not logged in.
    assert log_in(client, "admin", expect=None).status_code == 403
    assert client.get("/home").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example", "/\\evil.example"])
def test_login_never_redirects_off_site(client, admin, target):
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "admin", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/home"


def test_login_goes_on_to_a_local_next_page(client, admin):
    response = log_in(client, "admin", next_="/home")

    assert response.headers["Location"] == "/home"


def test_logout_ends_the_session(client, admin):
    log_in(client, "admin")

    response = client.post("/logout", data={"csrf_token": csrf_token(client)})

    assert response.status_code == 302
    home = client.get("/home")
    assert home.status_code == 302
    assert home.headers["Location"].startswith("/login")


def test_logout_keeps_the_chosen_language(client, admin):
    client.get("/lang/en")
    log_in(client, "admin")
    client.post("/logout", data={"csrf_token": csrf_token(client)})

    assert "Log in" in client.get("/login").text


def test_anonymous_home_redirects_to_login(client):
    response = client.get("/home", headers=HTML)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_unknown_page_gives_a_friendly_html_404(client):
    response = client.get("/no/such/page", headers=HTML)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "页面不存在" in response.text
    assert "Traceback" not in response.text
    assert "application/problem+json" not in response.content_type


def test_wrong_method_for_a_browser_gives_a_friendly_html_405(client):
    response = client.get("/logout", headers=HTML)

    assert response.status_code == 405
    assert response.mimetype == "text/html"
    assert "此页面不支持该操作" in response.text
    assert "POST" in response.headers["Allow"]


def test_start_page_sends_anonymous_visitors_to_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize("path", ["/admin/households/99999999999999999999999", "/admin/goods/0"])
def test_an_id_out_of_range_in_a_page_path_is_not_found(client, admin, path):
    log_in(client, admin.username)

    response = client.get(path)

    assert response.status_code == 404
