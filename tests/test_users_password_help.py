"""Password help on the users page: a new password, unlocking a login, how long it stays locked."""

import re
import uuid

from testsupport import PASSWORD, api_log_in, events, log_in, page_post


def lock_out(client, username: str) -> None:
    """Fail logins until the API refuses the next one with 429."""
    for _ in range(10):
        if api_log_in(client, username, "wrong-password").status_code == 429:
            return
    raise AssertionError("the login never locked")


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
