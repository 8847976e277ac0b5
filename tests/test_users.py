"""User management: the users API, the admin's users page and `flask users`."""

import re

import pytest
from sqlalchemy import select
from testsupport import PASSWORD, log_in, page_post

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER, User
from app.db import db

USER_FIELDS = {"id", "username", "role", "village_id", "household_id", "active", "created_at"}


def user_events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def user_named(username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


# The API.


def test_the_admin_lists_the_villages_users(
    client, admin, admin_headers, inspector, make_user, other_village
):
    make_user(ADMIN, of=other_village, username="lz-admin")
    response = client.get("/api/v1/users", headers=admin_headers)
    assert response.status_code == 200
    items = response.json["items"]
    assert {i["username"] for i in items} == {"admin", "inspector"}
    assert set(items[0]) == USER_FIELDS
    assert all(i["active"] for i in items)


def test_the_admin_creates_a_staff_user_who_can_log_in(client, admin, admin_headers, village):
    response = client.post(
        "/api/v1/users",
        json={"username": "dianzhang", "password": PASSWORD, "role": STOREKEEPER},
        headers=admin_headers,
    )
    assert response.status_code == 201, response.json
    assert response.headers["Location"].endswith(f"/api/v1/users/{response.json['id']}")
    assert response.json["role"] == STOREKEEPER and response.json["village_id"] == village.id
    assert "password" not in response.json
    login = client.post("/api/v1/auth/tokens", json={"username": "dianzhang", "password": PASSWORD})
    assert login.status_code == 201

    (event,) = [e for e in user_events(audit.USER_CREATED) if e.actor_id == admin.id]
    assert (event.target_type, event.target_id) == ("user", response.json["id"])
    assert event.details == {"username": "dianzhang", "role": STOREKEEPER, "household_id": None}


def test_a_household_user_needs_a_household_of_the_village(
    client, admin_headers, household, make_household, other_village
):
    stranger = make_household(of=other_village)
    body = {"username": "maxiuying", "password": PASSWORD, "role": HOUSEHOLD}

    missing = client.post("/api/v1/users", json=body, headers=admin_headers)
    foreign = client.post(
        "/api/v1/users", json={**body, "household_id": stranger.id}, headers=admin_headers
    )
    unknown = client.post(
        "/api/v1/users", json={**body, "household_id": 999_999}, headers=admin_headers
    )
    good = client.post(
        "/api/v1/users", json={**body, "household_id": household.id}, headers=admin_headers
    )

    for refused in (missing, foreign, unknown):
        assert refused.status_code == 422
        assert refused.json["code"] == "validation_error"
        assert "household_id" in refused.json["errors"]
    assert good.status_code == 201 and good.json["household_id"] == household.id


@pytest.mark.parametrize(
    "change",
    [
        {"password": "short"},
        {"role": "root"},
        {"username": ""},
        {"username": "x" * 65},
        {"username": None},
        {"username": "bad\ud800name"},
        {"password": "password\ud800"},
    ],
)
def test_creating_a_user_validates_its_fields(client, admin_headers, change):
    body = {"username": "newbie", "password": PASSWORD, "role": INSPECTOR, **change}
    response = client.post("/api/v1/users", json=body, headers=admin_headers)
    # A lone surrogate may already be refused as a malformed body (400).
    assert response.status_code in (400, 422)
    assert response.json["code"] == "validation_error"


def test_a_username_is_taken_once(client, admin_headers, inspector):
    response = client.post(
        "/api/v1/users",
        json={"username": "inspector", "password": PASSWORD, "role": INSPECTOR},
        headers=admin_headers,
    )
    assert response.status_code == 422


def test_disabling_a_user_kills_its_token_at_once(
    client, admin, admin_headers, inspector, token_for
):
    headers = token_for(inspector)
    assert client.get("/api/v1/grids", headers=headers).status_code == 200

    response = client.patch(
        f"/api/v1/users/{inspector.id}", json={"active": False}, headers=admin_headers
    )

    assert response.status_code == 200 and response.json["active"] is False
    assert client.get("/api/v1/grids", headers=headers).status_code == 401
    login = client.post("/api/v1/auth/tokens", json={"username": "inspector", "password": PASSWORD})
    assert login.status_code == 401
    (event,) = user_events(audit.USER_DISABLED)
    assert (event.actor_id, event.target_id) == (admin.id, inspector.id)
    assert event.details["tokens_revoked"] == 1

    enabled = client.patch(
        f"/api/v1/users/{inspector.id}", json={"active": True}, headers=admin_headers
    )
    assert enabled.status_code == 200 and enabled.json["active"] is True
    # The old token stays dead; a fresh login works.
    assert client.get("/api/v1/grids", headers=headers).status_code == 401
    assert token_for(inspector)
    (event,) = user_events(audit.USER_ENABLED)
    assert (event.actor_id, event.target_id) == (admin.id, inspector.id)


def test_disabling_a_user_ends_its_page_session(client, app, admin_headers, inspector):
    log_in(client, "inspector", english=True)
    assert client.get("/home").status_code == 200

    with app.test_client() as admin_api:
        admin_api.patch(
            f"/api/v1/users/{inspector.id}", json={"active": False}, headers=admin_headers
        )

    response = client.get("/home")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_admin_cannot_disable_themself(client, admin, admin_headers):
    response = client.patch(
        f"/api/v1/users/{admin.id}", json={"active": False}, headers=admin_headers
    )
    assert response.status_code == 422
    assert "active" in response.json["errors"]
    assert user_named("admin").active
    assert client.get("/api/v1/users", headers=admin_headers).status_code == 200
    assert user_events(audit.USER_DISABLED) == []


def test_disabling_twice_logs_once(client, admin_headers, inspector):
    for _ in range(2):
        response = client.patch(
            f"/api/v1/users/{inspector.id}", json={"active": False}, headers=admin_headers
        )
        assert response.status_code == 200
    assert len(user_events(audit.USER_DISABLED)) == 1


def test_the_admin_resets_a_password(client, admin, admin_headers, inspector):
    response = client.patch(
        f"/api/v1/users/{inspector.id}",
        json={"password": "a-new-password"},
        headers=admin_headers,
    )
    assert response.status_code == 200
    old = client.post("/api/v1/auth/tokens", json={"username": "inspector", "password": PASSWORD})
    new = client.post(
        "/api/v1/auth/tokens", json={"username": "inspector", "password": "a-new-password"}
    )
    assert (old.status_code, new.status_code) == (401, 201)
    (event,) = user_events(audit.PASSWORD_RESET)
    assert (event.actor_id, event.target_id) == (admin.id, inspector.id)
    assert "a-new-password" not in str(event.details)


@pytest.mark.parametrize("body", [{"active": "no"}, {"active": 0}, {"password": "short"}])
def test_patch_validates_its_fields(client, admin_headers, inspector, body):
    response = client.patch(f"/api/v1/users/{inspector.id}", json=body, headers=admin_headers)
    assert response.status_code == 422


def test_another_villages_users_are_not_found(client, admin_headers, make_user, other_village):
    stranger = make_user(INSPECTOR, of=other_village, username="lz-inspector")
    assert client.get(f"/api/v1/users/{stranger.id}", headers=admin_headers).status_code == 404
    patched = client.patch(
        f"/api/v1/users/{stranger.id}", json={"active": False}, headers=admin_headers
    )
    assert patched.status_code == 404
    assert user_named("lz-inspector").active


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER, HOUSEHOLD])
def test_only_the_admin_manages_users(client, make_user, token_for, household, role):
    user = make_user(role, household=household if role == HOUSEHOLD else None)
    headers = token_for(user)
    body = {"username": "sneaky", "password": PASSWORD, "role": ADMIN}
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    assert client.post("/api/v1/users", json=body, headers=headers).status_code == 403
    assert (
        client.patch(f"/api/v1/users/{user.id}", json={"active": True}, headers=headers)
    ).status_code == 403
    assert user_named("sneaky") is None


def test_users_need_a_token(client):
    assert client.get("/api/v1/users").status_code == 401


# The page.


def test_the_users_page_lists_users_with_role_and_state(admin_client, inspector):
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert 'data-user="admin"' in page and 'data-user="inspector"' in page
    assert "Inspector" in page and "Enabled" in page
    assert 'name="csrf_token"' in page


def test_the_users_page_creates_a_user(admin_client, admin):
    response = page_post(
        admin_client,
        "/admin/users",
        {"username": "dianzhang", "password": PASSWORD, "role": STOREKEEPER, "household": ""},
    )
    assert response.status_code == 302
    assert user_named("dianzhang").role == STOREKEEPER
    assert [e.actor_id for e in user_events(audit.USER_CREATED)][-1] == admin.id


def test_the_users_page_creates_a_household_login_by_code(admin_client, household):
    response = page_post(
        admin_client,
        "/admin/users",
        {
            "username": "maxiuying",
            "password": PASSWORD,
            "role": HOUSEHOLD,
            "household": household.code.lower(),
        },
    )
    assert response.status_code == 302
    assert user_named("maxiuying").household_id == household.id


def test_the_users_page_refuses_another_villages_household(
    admin_client, make_household, other_village
):
    stranger = make_household(of=other_village)
    for code in (stranger.code, ""):
        response = page_post(
            admin_client,
            "/admin/users",
            {"username": "maxiuying", "password": PASSWORD, "role": HOUSEHOLD, "household": code},
        )
        assert response.status_code == 422
        assert 'role="alert"' in response.get_data(as_text=True)
    assert user_named("maxiuying") is None


def test_the_users_page_refuses_a_short_password(admin_client):
    response = page_post(
        admin_client,
        "/admin/users",
        {"username": "newbie", "password": "short", "role": INSPECTOR, "household": ""},
    )
    assert response.status_code == 422
    assert user_named("newbie") is None


def test_the_users_page_disables_and_enables(admin_client, admin, app, inspector):
    with app.test_client() as other:
        log_in(other, "inspector", english=True)
        path = f"/admin/users/{inspector.id}/active"
        assert page_post(admin_client, path, {"active": "0"}).status_code == 302
        assert not user_named("inspector").active
        assert other.get("/home").status_code == 302  # logged out
        assert page_post(admin_client, path, {"active": "1"}).status_code == 302
        assert user_named("inspector").active
    assert [e.actor_id for e in user_events(audit.USER_DISABLED)] == [admin.id]
    assert [e.actor_id for e in user_events(audit.USER_ENABLED)] == [admin.id]


def test_the_users_page_will_not_disable_its_admin(admin_client, admin):
    response = page_post(admin_client, f"/admin/users/{admin.id}/active", {"active": "0"})
    assert response.status_code == 422
    assert user_named("admin").active
    assert admin_client.get("/admin/users").status_code == 200


def test_the_users_page_is_for_the_admin_only(client, inspector):
    log_in(client, "inspector", english=True)
    assert client.get("/admin/users").status_code == 403
    response = page_post(client, f"/admin/users/{inspector.id}/active", {"active": "0"})
    assert response.status_code == 403
    assert user_named("inspector").active


def test_the_users_page_needs_a_csrf_token(admin_client, inspector):
    response = admin_client.post(f"/admin/users/{inspector.id}/active", data={"active": "0"})
    assert response.status_code == 400
    assert user_named("inspector").active


# The command line.


def test_users_disable_and_enable(runner, client, inspector, token_for):
    headers = token_for(inspector)
    result = runner.invoke(args=["users", "disable", "inspector"])
    assert result.exit_code == 0, result.output
    assert "Disabled inspector inspector" in result.output
    assert client.get("/api/v1/grids", headers=headers).status_code == 401

    result = runner.invoke(args=["users", "enable", "inspector"])
    assert result.exit_code == 0, result.output
    assert user_named("inspector").active
    (disabled,) = user_events(audit.USER_DISABLED)
    (enabled,) = user_events(audit.USER_ENABLED)
    assert disabled.actor_id is None and enabled.actor_id is None
    assert disabled.target_id == enabled.target_id == inspector.id


def test_users_disable_refuses_an_unknown_user(runner, village):
    result = runner.invoke(args=["users", "disable", "nobody"])
    assert result.exit_code != 0
    assert "No user 'nobody'" in result.output
    assert "Traceback" not in result.output


def test_users_create_is_logged_as_the_command_line(runner, village):
    result = runner.invoke(
        args=["users", "create", "inspector2", "--role", INSPECTOR, "--village", village.code],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    user = user_named("inspector2")
    (event,) = [e for e in user_events(audit.USER_CREATED) if e.target_id == user.id]
    assert event.actor_id is None and event.village_id == village.id


def test_a_new_user_starts_as_the_least_powerful_role(admin_client):
    page = admin_client.get("/admin/users").text

    chosen = re.findall(r'<option value="(\w+)" selected>', page)
    assert chosen == ["household"]
