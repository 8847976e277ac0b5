"""Logging in and out: the login form, bearer tokens, the login rate limit, token expiry."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from testsupport import PASSWORD, TOKENS, api_log_in, assert_problem, bearer, csrf_token, log_in

from app.auth.models import INSPECTOR, ApiToken
from app.db import db, utcnow

# Any call that needs a valid token; the admin may make it.
GUARDED = "/api/v1/grids"


def test_login_answers_201_with_token_expiry_and_user(client, admin):
    response = api_log_in(client, "admin")

    assert response.status_code == 201
    body = response.json
    assert isinstance(body["token"], str) and len(body["token"]) >= 32
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.tzinfo is not None
    assert expires_at > utcnow()
    assert body["user"]["id"] == admin.id
    assert body["user"]["username"] == "admin"
    assert body["user"]["role"] == "admin"
    assert body["user"]["village_id"] == admin.village_id


def test_the_issued_token_opens_the_api(client, admin):
    token = api_log_in(client, "admin").json["token"]

    response = client.get(GUARDED, headers=bearer(token))

    assert response.status_code == 200


def test_wrong_password_is_401_unauthorized(client, admin):
    response = api_log_in(client, "admin", "not-the-password")

    assert_problem(response, 401, "unauthorized")
    assert "token" not in response.json


def test_unknown_user_is_401_unauthorized(client, admin):
    response = api_log_in(client, "nobody")

    assert_problem(response, 401, "unauthorized")


def test_sixth_try_after_five_failures_is_rate_limited_even_with_the_right_password(client, admin):
    for _ in range(5):
        assert api_log_in(client, "admin", "wrong-password").status_code == 401

    response = api_log_in(client, "admin")

    assert_problem(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0


def test_failures_of_one_username_do_not_lock_out_another(client, admin, make_user):
    make_user(INSPECTOR, username="inspector")
    for _ in range(5):
        api_log_in(client, "admin", "wrong-password")

    assert api_log_in(client, "inspector").status_code == 201


def test_disabled_user_cannot_log_in(client, admin):
    admin.active = False
    db.session.commit()

    response = api_log_in(client, "admin")

    assert_problem(response, 401, "unauthorized")


def test_the_login_page_tells_a_disabled_user_once_the_password_is_right(client, admin):
    admin.active = False
    db.session.commit()

    wrong = log_in(client, "admin", "wrong-password", english=True, expect=401)
    right = log_in(client, "admin", english=True, expect=403)

    assert "Wrong username or password." in wrong.text and "disabled" not in wrong.text
    assert "This account is disabled. Ask the village office to enable it again." in right.text
    assert client.get("/home").status_code == 302  # still logged out


def test_the_login_page_says_disabled_in_chinese(client, admin):
    admin.active = False
    db.session.commit()

    assert "此账号已停用" in log_in(client, "admin", expect=403).text


def test_disabling_a_user_stops_its_existing_token(client, admin, admin_headers):
    assert client.get(GUARDED, headers=admin_headers).status_code == 200
    admin.active = False
    db.session.commit()

    response = client.get(GUARDED, headers=admin_headers)

    assert_problem(response, 401, "unauthorized")


def test_expired_token_is_401(client, admin, admin_headers):
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == admin.id)
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()

    response = client.get(GUARDED, headers=admin_headers)

    assert_problem(response, 401, "unauthorized")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-real-token",
        "Bearer ",
        "Basic YWRtaW46cGFzc3dvcmQ=",
        "garbage",
    ],
)
def test_garbage_authorization_is_401(client, admin, header):
    response = client.get(GUARDED, headers={"Authorization": header})

    assert_problem(response, 401, "unauthorized")


def test_no_token_is_401(client, admin):
    assert_problem(client.get(GUARDED), 401, "unauthorized")


def test_logging_out_revokes_the_token(client, admin, admin_headers):
    response = client.delete(f"{TOKENS}/current", headers=admin_headers)

    assert response.status_code == 204
    assert_problem(client.get(GUARDED, headers=admin_headers), 401, "unauthorized")
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == admin.id))
    assert token.revoked_at is not None


def test_logging_out_leaves_the_users_other_tokens_working(client, admin, token_for):
    phone, tablet = token_for(admin), token_for(admin)

    client.delete(f"{TOKENS}/current", headers=phone)

    assert client.get(GUARDED, headers=tablet).status_code == 200


def test_logging_out_without_a_token_is_401(client, admin):
    assert_problem(client.delete(f"{TOKENS}/current"), 401, "unauthorized")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "admin"}, "password"),
        ({"username": 42, "password": PASSWORD}, "username"),
        ({"username": "admin", "password": ["x"]}, "password"),
        ({"username": "", "password": PASSWORD}, "username"),
    ],
)
def test_missing_or_mistyped_login_fields_are_422_naming_the_field(client, admin, body, field):
    response = client.post(TOKENS, json=body)

    assert_problem(response, 422, "validation_error")
    assert field in response.json["errors"]
    assert response.json["errors"][field]


def test_a_malformed_login_does_not_count_towards_the_rate_limit(client, admin):
    for _ in range(6):
        client.post(TOKENS, json={"username": "admin"})

    assert api_log_in(client, "admin").status_code == 201


@pytest.fixture
def second_worker(app):
    """Another app on the same database: a second gunicorn worker or app server."""
    from testsupport import TEST_CONFIG

    from app import create_app

    other = create_app(
        {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"]}
    )
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_rate_limit_holds_across_workers(client, admin, second_worker):
    other = second_worker.test_client()
    clients = [client, other]
    answers = [api_log_in(clients[i % 2], "admin", "wrong-password").status_code for i in range(10)]

    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    for each in clients:  # the right password waits too, on every worker
        assert_problem(api_log_in(each, "admin"), 429, "rate_limited")


def test_the_address_limit_holds_across_workers_and_usernames(client, admin, second_worker):
    other = second_worker.test_client()
    for i in range(20):  # 20 failures from one address, spread over usernames and workers
        assert api_log_in([client, other][i % 2], f"guess{i % 4}", "wrong").status_code == 401

    assert_problem(api_log_in(other, "admin"), 429, "rate_limited")
    assert_problem(api_log_in(client, "admin"), 429, "rate_limited")


# The login form and logging out --------------------------------------------------------


def test_admin_logs_in_through_the_form_and_sees_village_administration(client, admin):
    response = log_in(client, "admin")

    assert response.status_code == 302
    assert response.headers["Location"] == "/home"
    home = client.get("/home")
    assert home.status_code == 200
    assert "村务管理" in home.text


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
