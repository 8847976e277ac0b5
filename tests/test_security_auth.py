"""Issue 14's probe of logins and sessions: redirects, timing, ending sessions, login
limits behind a proxy and in parallel, caching of personal pages, and control
characters in login and user forms (issue 13)."""

import socket
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from testsupport import PASSWORD, TEST_CONFIG, csrf_token, page_post, run_at_once

from app import create_app
from app.auth import services, throttle
from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER, LoginAttempt, User
from app.db import db
from app.households.cards import card_payload

TOKENS = "/api/v1/auth/tokens"
GUARDED = "/api/v1/grids"
STRANGER = {"REMOTE_ADDR": "10.0.0.66"}
COUNTER = {"REMOTE_ADDR": "10.0.0.1"}


def api_login(client, username, password=PASSWORD, environ=None):
    return client.post(
        TOKENS, json={"username": username, "password": password}, environ_base=environ or {}
    )


def page_login(client, username, password=PASSWORD, next_=None, environ=None):
    return client.post(
        "/login",
        query_string={"next": next_} if next_ is not None else None,
        data={"username": username, "password": password, "csrf_token": csrf_token(client)},
        environ_base=environ or {},
    )


def login_tries() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(LoginAttempt))


def user_named(username: str) -> User | None:
    db.session.rollback()
    return db.session.scalar(select(User).where(User.username == username))


# 1. Open redirects.

OFF_SITE = [
    "/\t/evil.example/phish",
    "/\n/evil.example/phish",
    "/\r\n/evil.example",
    "/ /evil.example",
    "/\x00/evil.example",
    "/\u3000/evil.example",
    "/\u200b/evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en", query_string={"next": target})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site_even_with_whitespace(client, admin, target):
    response = page_login(client, "admin", next_=target)

    assert response.status_code == 302
    assert response.headers["Location"] == "/home"
    # Paths on this site still work, for the login and the language switch alike.
    assert page_login(client, "admin", next_="/admin/users").headers["Location"] == ("/admin/users")
    assert client.get("/lang/en?next=/my%3Fx%3D1").headers["Location"] == "/my?x=1"


# 2. An unknown username costs the same hash as a known one.


def test_an_unknown_username_is_checked_against_a_hash_of_the_configured_method(
    app, client, make_user, monkeypatch
):
    app.config["PASSWORD_HASH_METHOD"] = "scrypt:1024:8:1"
    user = make_user(ADMIN, username="admin")
    checked: list[str] = []
    real = services.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        checked.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(services, "check_password_hash", spy)

    assert api_login(client, "nobody", "wrong-password").status_code == 401
    assert api_login(client, "admin", "wrong-password").status_code == 401

    assert len(checked) == 2
    dummy, real_hash = (pwhash.split("$")[0] for pwhash in checked)
    assert real_hash == user.password_hash.split("$")[0] == "scrypt:1024:8:1"
    assert dummy == real_hash


# 3. A new password, a logout or disabling ends sessions.


def test_a_new_password_ends_the_users_tokens_and_page_sessions(
    app, client, admin_headers, make_user, token_for
):
    make_user(INSPECTOR, username="wgy")
    inspector = user_named("wgy")
    old_token = token_for(inspector)
    browser = app.test_client()
    assert page_login(browser, "wgy").status_code == 302
    assert browser.get("/home").status_code == 200

    response = client.patch(
        f"/api/v1/users/{inspector.id}", json={"password": "a-new-password"}, headers=admin_headers
    )

    assert response.status_code == 200
    assert client.get(GUARDED, headers=old_token).status_code == 401
    home = browser.get("/home")
    assert home.status_code == 302 and home.headers["Location"].startswith("/login")
    assert api_login(client, "wgy", "a-new-password").status_code == 201
    assert client.get(GUARDED, headers=admin_headers).status_code == 200


def test_logging_out_ends_a_copied_cookie_and_the_users_other_sessions(app, client, admin):
    assert page_login(client, "admin").status_code == 302
    copied = client.get_cookie("session").value
    other_browser = app.test_client()
    assert page_login(other_browser, "admin").status_code == 302

    assert page_post(client, "/logout", {}).status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", copied)
    for each in (thief, other_browser, client):
        response = each.get("/admin/users")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert page_login(client, "admin").status_code == 302  # a new login works
    assert client.get("/admin/users").status_code == 200


def test_enabling_a_disabled_user_does_not_bring_back_its_old_session(
    app, client, admin_headers, make_user
):
    make_user(STOREKEEPER, username="dianzhang")
    user_id = user_named("dianzhang").id
    browser = app.test_client()
    assert page_login(browser, "dianzhang").status_code == 302
    path = f"/api/v1/users/{user_id}"

    for active in (False, True):
        assert client.patch(path, json={"active": active}, headers=admin_headers).status_code == 200

    assert browser.get("/home").status_code == 302


# 4. Login limits.


def test_a_stranger_cannot_lock_the_storekeeper_out_from_another_address(client, make_user):
    make_user(STOREKEEPER, username="dianzhang")
    for _ in range(10):
        assert api_login(client, "dianzhang", "guess", STRANGER).status_code in (401, 429)
    assert api_login(client, "dianzhang", environ=STRANGER).status_code == 429

    assert api_login(client, "dianzhang", environ=COUNTER).status_code == 201
    assert page_login(client, "dianzhang", environ=COUNTER).status_code == 302
    assert client.get("/home", environ_base=COUNTER).status_code == 200


def test_delays_grow_per_username_and_address(client, admin):
    for _ in range(5):
        assert api_login(client, "admin", "wrong").status_code == 401
    first = api_login(client, "admin")
    assert first.status_code == 429
    assert 0 < int(first.headers["Retry-After"]) <= 60

    shift_tries(seconds=61)  # a minute later, one more guess is checked
    assert api_login(client, "admin", "wrong").status_code == 401
    second = api_login(client, "admin")
    assert second.status_code == 429
    assert 60 < int(second.headers["Retry-After"]) <= 120


def shift_tries(seconds: int) -> None:
    """Make every recorded login try older, as if that much time had passed."""
    db.session.rollback()
    for attempt in db.session.scalars(select(LoginAttempt)):
        attempt.created_at -= timedelta(seconds=seconds)
    db.session.commit()


def test_the_right_password_wipes_the_failures_of_that_username_and_address(client, admin):
    for _ in range(4):
        assert api_login(client, "admin", "wrong").status_code == 401
    assert api_login(client, "admin").status_code == 201

    answers = [api_login(client, "admin", "wrong").status_code for _ in range(5)]

    assert answers == [401] * 5


@pytest.fixture
def proxied(app, monkeypatch):
    """A second app on the same database, behind one trusted proxy (the README's setup)."""
    monkeypatch.setenv("GREENPOINTS_TRUSTED_PROXIES", "1")
    other = create_app(
        {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
    )
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_behind_a_trusted_proxy_each_client_has_its_own_address_limit(admin, proxied):
    client = proxied.test_client()

    def via_proxy(username, password, client_address, forged=""):
        forwarded = f"{forged}, {client_address}" if forged else client_address
        return client.post(
            TOKENS,
            json={"username": username, "password": password},
            headers={"X-Forwarded-For": forwarded},
        )

    for i in range(20):  # one client tries many usernames, forging its address each time
        answer = via_proxy(f"guess{i % 4}", "wrong", "203.0.113.5", forged=f"198.51.100.{i}")
        assert answer.status_code == 401

    assert via_proxy("admin", PASSWORD, "203.0.113.5").status_code == 429
    assert via_proxy("admin", PASSWORD, "203.0.113.6").status_code == 201


def test_ipv6_addresses_of_one_64_share_one_limit(client, admin):
    """A phone or a home gets a whole /64: six of its addresses are one guesser."""
    answers = [
        api_login(
            client, "admin", f"guess-{host}-{n}", {"REMOTE_ADDR": f"2001:db8:1:2::{host}"}
        ).status_code
        for host in range(1, 7)
        for n in range(5)
    ]

    assert answers.count(401) == 5 and answers.count(429) == 25
    assert api_login(
        client, "admin", environ={"REMOTE_ADDR": "2001:db8:1:2:ab::9"}
    ).status_code == (429)
    # Another /64 (another home) is not held back by it.
    assert api_login(client, "admin", environ={"REMOTE_ADDR": "2001:db8:1:3::1"}).status_code == 201


def test_a_username_slows_down_whatever_the_address(client, admin):
    """Twelve addresses, one guess each: ten are checked, then each further try of that
    username waits, from any address, a minute, then two; never a lockout for good."""
    answers = [
        api_login(client, "admin", f"guess-{n}", {"REMOTE_ADDR": f"198.51.100.{n}"}).status_code
        for n in range(12)
    ]
    assert answers == [401] * 10 + [429] * 2

    refused = api_login(client, "admin", environ=COUNTER)  # the real admin, right password
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Other usernames are not slowed down.
    assert api_login(client, "someone", "guess", COUNTER).status_code == 401

    shift_tries(seconds=61)
    assert api_login(client, "admin", "guess", {"REMOTE_ADDR": "198.51.100.99"}).status_code == 401
    again = api_login(client, "admin", environ=COUNTER)
    assert again.status_code == 429
    assert 60 < int(again.headers["Retry-After"]) <= 120

    shift_tries(seconds=121)  # the wait passed: the real admin gets in
    assert api_login(client, "admin", environ=COUNTER).status_code == 201


def test_an_admins_unlock_lets_the_real_user_in_during_a_guessing_attack(
    client, admin, make_user, admin_headers
):
    make_user(STOREKEEPER, username="dianzhang")
    for n in range(12):
        api_login(client, "dianzhang", f"guess-{n}", {"REMOTE_ADDR": f"198.51.100.{n}"})
    assert api_login(client, "dianzhang", environ=COUNTER).status_code == 429

    throttle.unlock_login(user_named("dianzhang"), actor_id=None)
    db.session.commit()

    assert api_login(client, "dianzhang", environ=COUNTER).status_code == 201


def test_forged_forwarded_addresses_past_the_proxy_check_no_more_than_ten(admin, proxied):
    """The probe reached gunicorn directly with GREENPOINTS_TRUSTED_PROXIES=1 and a new
    X-Forwarded-For each time: 12 of 12 guesses were checked."""
    client = proxied.test_client()

    answers = [
        client.post(
            TOKENS,
            json={"username": "admin", "password": f"guess-{n}"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        ).status_code
        for n in range(12)
    ]

    assert answers == [401] * 10 + [429] * 2


def test_trusting_a_proxy_while_listening_beyond_loopback_is_warned_at_start(
    app, monkeypatch, caplog
):
    monkeypatch.setenv("GREENPOINTS_TRUSTED_PROXIES", "1")
    config = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}

    def started_while_listening_on(host: str) -> list[str]:
        caplog.clear()
        with socket.socket() as listener:
            listener.bind((host, 0))
            listener.listen()
            other = create_app(config)
        with other.app_context():
            db.engine.dispose()
        return [r.getMessage() for r in caplog.records if "TRUSTED_PROXIES" in r.getMessage()]

    assert started_while_listening_on("127.0.0.1") == []
    [warning] = started_while_listening_on("0.0.0.0")
    assert "listens on 0.0.0.0" in warning and "127.0.0.1" in warning


def test_parallel_guesses_check_no_more_passwords_than_the_limit(app, make_user):
    # A slow hash widens the gap between reading the count and recording the failure.
    app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:60000"
    make_user(ADMIN, username="admin")

    def guess(index: int) -> int:
        return api_login(app.test_client(), "admin", f"guess-{index}").status_code

    answers = run_at_once(app, 40, guess)
    answers += [guess(40 + i) for i in range(10)]  # and more, one after another

    assert set(answers) <= {401, 429}
    assert answers.count(401) == 5  # a refused guess checks no password
    assert api_login(app.test_client(), "admin").status_code == 429


def test_the_login_page_says_when_to_try_again(client, admin):
    for _ in range(5):
        assert page_login(client, "admin", "wrong").status_code == 401

    response = page_login(client, "admin")

    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert "请 1 分钟后再试" in response.text
    client.get("/lang/en")
    assert "Try again in 1 minute." in page_login(client, "admin").text


# 10. Personal responses are never cached.


def test_personal_pages_and_json_are_not_stored(
    app, client, household, resident, token_for, admin_headers
):
    resident_headers = token_for(resident)
    assert page_login(client, "resident").status_code == 302
    door = "/q/" + card_payload(household).rsplit("/q/", 1)[1]

    answers = [
        client.get("/my"),
        client.get("/home"),
        client.get("/api/v1/me", headers=resident_headers),
        client.get(f"/api/v1/households/{household.id}", headers=admin_headers),
        client.get("/api/v1/nothing-here", headers=admin_headers),
        app.test_client().get(door),
        api_login(app.test_client(), "resident"),
    ]

    for response in answers:
        assert response.headers.get("Cache-Control") == "no-store", response.request.path
    assert answers[0].status_code == 200 and answers[2].status_code == 200
    static = client.get("/static/css/app.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


# Issue 13: control characters in login and user forms.


@pytest.mark.parametrize(
    "username, password",
    [("ad\x00min", PASSWORD), ("admin", "pass\x00word"), ("ad\x1bmin", PASSWORD)],
)
def test_the_login_page_refuses_control_characters_kindly(client, admin, username, password):
    response = page_login(client, username, password)

    assert response.status_code == 422
    assert "无法输入的字符" in response.text
    assert login_tries() == 0


@pytest.mark.parametrize(
    "username, password",
    [("admin", "pass\x00word"), ("admin", "pass\x1bword"), ("ad\nmin", PASSWORD)],
)
def test_the_token_endpoint_refuses_control_characters(client, admin, username, password):
    response = api_login(client, username, password)

    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert login_tries() == 0


INVISIBLE_USERNAMES = ["\u202eadmin", "ad\u200bmin", "x\u2066y", "\ufeffadmin"]
ODD_USERNAMES = ["ab\x00c", "tab\x01", *INVISIBLE_USERNAMES]


@pytest.fixture
def admin_page(client, admin):
    assert page_login(client, "admin").status_code == 302
    return client


@pytest.mark.parametrize("username", ODD_USERNAMES)
def test_the_users_page_refuses_control_and_invisible_characters(admin_page, username):
    response = page_post(
        admin_page,
        "/admin/users",
        {"username": username, "password": PASSWORD, "role": INSPECTOR, "household": ""},
    )

    assert response.status_code == 422
    assert "用户名须为 1 到 64 个字符" in response.text
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize("password", ["pass\x00word-long", "pass\u202eword-long"])
def test_the_users_page_refuses_odd_passwords(admin_page, password):
    response = page_post(
        admin_page,
        "/admin/users",
        {"username": "newbie", "password": password, "role": INSPECTOR, "household": ""},
    )

    assert response.status_code == 422
    assert "密码须为 8 到 256 个字符" in response.text
    assert user_named("newbie") is None


@pytest.mark.parametrize("username", INVISIBLE_USERNAMES)
def test_the_users_api_refuses_invisible_characters(client, admin_headers, username):
    response = client.post(
        "/api/v1/users",
        json={"username": username, "password": PASSWORD, "role": INSPECTOR},
        headers=admin_headers,
    )

    assert response.status_code == 422
    assert "username" in response.json["errors"]
