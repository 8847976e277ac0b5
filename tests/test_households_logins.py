"""A household's logins, one per family member's phone: the API, the household page, /my."""

import pytest
from sqlalchemy import func, select
from testsupport import (
    PASSWORD,
    api_log_in,
    assert_problem,
    bearer,
    csrf_token,
    log_in,
    page_post,
    run_at_once,
)

from app.audit import services as audit
from app.audit.models import AuditEvent
from app.auth.models import HOUSEHOLD, User
from app.db import db
from app.ledger.services import adjust

NEW_PASSWORD = "a-new-family-password"


def logins_url(household) -> str:
    return f"/api/v1/households/{household.id}/logins"


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def user_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(User))


def user_named(username: str) -> User:
    db.session.expire_all()
    return db.session.scalars(select(User).where(User.username == username)).one()


@pytest.fixture
def family(app, client, village, household, admin_headers):
    """Two members of the household with a login each, added by the admin; 25 points."""
    for username in ("ma-mother", "ma-son"):
        response = client.post(
            logins_url(household),
            json={"username": username, "password": PASSWORD},
            headers=admin_headers,
        )
        assert response.status_code == 201, response.text
    adjust(village.id, household.id, 25, reason="期初积分", actor_id=None)
    db.session.commit()
    return household


def browser(app, username: str, password: str = PASSWORD):
    """A browser of its own, logged in as the user, pages in English."""
    other = app.test_client()
    log_in(other, username, password, english=True)
    return other


def shown_balance(browser_client) -> str:
    page = browser_client.get("/my")
    assert page.status_code == 200, page.status_code
    return page.text.split("data-balance>", 1)[1].split("<", 1)[0]


# The API.


def test_the_admin_adds_a_login_and_the_answer_holds_no_password(
    client, household, admin, admin_headers
):
    response = client.post(
        logins_url(household),
        json={"username": " ma-daughter ", "password": PASSWORD},
        headers=admin_headers,
    )

    assert response.status_code == 201
    body = response.json
    assert body["username"] == "ma-daughter"
    assert (body["role"], body["household_id"], body["active"]) == (HOUSEHOLD, household.id, True)
    assert "password" not in response.text and PASSWORD not in response.text
    assert response.headers["Location"].endswith(f"/api/v1/users/{body['id']}")
    (event,) = [e for e in events(audit.USER_CREATED) if e.target_id == body["id"]]
    assert event.actor_id == admin.id
    assert event.details["household_id"] == household.id
    assert PASSWORD not in str(event.details)


def test_the_admin_lists_the_households_logins(client, family, make_household, admin_headers):
    neighbour = make_household(name="李四")
    client.post(
        logins_url(neighbour),
        json={"username": "li-home", "password": PASSWORD},
        headers=admin_headers,
    )

    response = client.get(logins_url(family), headers=admin_headers)

    assert response.status_code == 200
    assert [(item["username"], item["active"]) for item in response.json["items"]] == [
        ("ma-mother", True),
        ("ma-son", True),
    ]


def test_every_login_sees_the_same_account(app, client, family):
    mother = api_log_in(client, "ma-mother").json["token"]
    son = api_log_in(client, "ma-son").json["token"]

    mine = client.get("/api/v1/me", headers=bearer(mother)).json
    his = client.get("/api/v1/me", headers=bearer(son)).json
    assert mine["balance"] == his["balance"] == 25
    ledger = f"/api/v1/households/{family.id}/ledger"
    assert client.get(ledger, headers=bearer(mother)).json == (
        client.get(ledger, headers=bearer(son)).json
    )

    pages = [browser(app, "ma-mother"), browser(app, "ma-son")]
    assert [shown_balance(page) for page in pages] == ["25", "25"]
    assert all("期初积分" in page.get("/my").text for page in pages)


def test_a_taken_username_is_409_and_adds_nothing(client, family, inspector, admin_headers):
    before = user_count()
    for username in ("ma-son", "inspector"):
        response = client.post(
            logins_url(family),
            json={"username": username, "password": PASSWORD},
            headers=admin_headers,
        )
        assert_problem(response, 409, "username_taken")
    assert user_count() == before


def test_a_weak_password_is_refused_as_for_any_user(client, household, admin_headers):
    before = user_count()
    for password in ("short", "eight\x00ch", "\u202eeightchars"):
        response = client.post(
            logins_url(household),
            json={"username": "ma-weak", "password": password},
            headers=admin_headers,
        )
        elsewhere = client.post(
            "/api/v1/users",
            json={
                "username": "ma-weak",
                "password": password,
                "role": HOUSEHOLD,
                "household_id": household.id,
            },
            headers=admin_headers,
        )
        body = assert_problem(response, 422, "validation_error")
        assert "password" in body["errors"]
        assert_problem(elsewhere, 422, "validation_error")
    assert user_count() == before


def test_disabling_one_login_leaves_the_others(app, client, family, admin_headers):
    mother_page, son_page = browser(app, "ma-mother"), browser(app, "ma-son")
    son_token = api_log_in(client, "ma-son").json["token"]
    mother = user_named("ma-mother")

    response = client.patch(
        f"/api/v1/users/{mother.id}", json={"active": False}, headers=admin_headers
    )

    assert response.status_code == 200
    assert mother_page.get("/my").status_code == 302
    assert shown_balance(son_page) == "25"
    assert client.get("/api/v1/me", headers=bearer(son_token)).json["balance"] == 25
    listed = client.get(logins_url(family), headers=admin_headers).json["items"]
    assert [(item["username"], item["active"]) for item in listed] == [
        ("ma-mother", False),
        ("ma-son", True),
    ]
    assert [event.target_id for event in events(audit.USER_DISABLED)] == [mother.id]


def test_another_villages_admin_is_refused(client, family, other_village, make_user, token_for):
    stranger = token_for(make_user("admin", of=other_village, username="far-admin"))
    before = user_count()

    added = client.post(
        logins_url(family), json={"username": "intruder", "password": PASSWORD}, headers=stranger
    )
    listed = client.get(logins_url(family), headers=stranger)

    assert added.status_code in (403, 404) and listed.status_code in (403, 404)
    assert "ma-mother" not in listed.text
    assert user_count() == before


@pytest.mark.parametrize("role", ["household", "inspector", "storekeeper"])
def test_only_the_admin_adds_or_lists_logins(client, family, make_user, token_for, role):
    caller = token_for(make_user(role, household=family if role == HOUSEHOLD else None))
    before = user_count()

    added = client.post(
        logins_url(family), json={"username": "self-made", "password": PASSWORD}, headers=caller
    )
    listed = client.get(logins_url(family), headers=caller)

    assert_problem(added, 403, "forbidden")
    assert_problem(listed, 403, "forbidden")
    assert user_count() == before


def _change(client, token, current, new=NEW_PASSWORD):
    return client.post(
        "/api/v1/me/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(token),
    )


def test_a_member_changes_their_password_over_the_api(client, family):
    here = api_log_in(client, "ma-son").json["token"]
    elsewhere = api_log_in(client, "ma-son").json["token"]
    mother = api_log_in(client, "ma-mother").json["token"]

    response = _change(client, here, PASSWORD)

    assert response.status_code == 200
    assert NEW_PASSWORD not in response.text
    assert client.get("/api/v1/me", headers=bearer(here)).status_code == 200
    assert client.get("/api/v1/me", headers=bearer(elsewhere)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(mother)).status_code == 200
    assert api_log_in(client, "ma-son").status_code == 401
    assert api_log_in(client, "ma-son", NEW_PASSWORD).status_code == 201
    (event,) = events(audit.PASSWORD_CHANGED)
    son = user_named("ma-son")
    assert (event.actor_id, event.target_id) == (son.id, son.id)
    assert NEW_PASSWORD not in str(event.details) and PASSWORD not in str(event.details)


def test_a_wrong_current_password_changes_nothing(client, family):
    token = api_log_in(client, "ma-son").json["token"]

    response = _change(client, token, "not-my-password")

    assert_problem(response, 422, "wrong_password")
    assert api_log_in(client, "ma-son").status_code == 201
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    assert events(audit.PASSWORD_CHANGED) == []


def test_wrong_current_passwords_meet_the_login_limits(app, client, family):
    """A stolen session cannot guess the password: past the free failures of a login
    (LOGIN_MAX_FAILURES) a change is refused 429 before the password is checked, and
    logging in from that address waits as well."""
    token = api_log_in(client, "ma-son").json["token"]
    free = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(free):
        assert_problem(_change(client, token, "not-my-password"), 422, "wrong_password")

    refused = _change(client, token, PASSWORD)  # even the right one, until the wait is over

    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) > 0
    assert api_log_in(client, "ma-son").status_code == 429
    assert events(audit.PASSWORD_CHANGED) == []


def test_a_password_changed_wipes_the_wrong_tries_before_it(app, client, family):
    token = api_log_in(client, "ma-son").json["token"]
    free = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(free - 1):
        assert_problem(_change(client, token, "not-my-password"), 422, "wrong_password")

    assert _change(client, token, PASSWORD).status_code == 200

    for _ in range(free - 1):  # the count starts again
        assert_problem(_change(client, token, "still-not-it"), 422, "wrong_password")
    assert api_log_in(client, "ma-son", NEW_PASSWORD).status_code == 201


def test_a_weak_new_password_is_no_wrong_guess(app, client, family):
    token = api_log_in(client, "ma-son").json["token"]
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 2):
        assert_problem(_change(client, token, PASSWORD, "short"), 422, "validation_error")

    assert _change(client, token, PASSWORD).status_code == 200


def test_the_password_page_says_to_wait_after_too_many_wrong_passwords(app, family):
    here = browser(app, "ma-son")
    wrong = {
        "current_password": "not-my-password",
        "new_password": NEW_PASSWORD,
        "new_password_again": NEW_PASSWORD,
    }
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert page_post(here, "/my/password", wrong).status_code == 422

    response = page_post(here, "/my/password", {**wrong, "current_password": PASSWORD})

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed logins. Please wait and try again later." in response.text
    assert events(audit.PASSWORD_CHANGED) == []


# The pages.


def test_the_household_page_lists_its_logins_and_adds_one(admin_client, family):
    page = admin_client.get(f"/admin/households/{family.id}").text
    assert "Family members&#39; logins" in page or "Family members' logins" in page
    assert 'data-login="ma-mother"' in page and 'data-login="ma-son"' in page

    added = page_post(
        admin_client,
        f"/admin/households/{family.id}/login",
        {"username": "ma-grandma", "password": PASSWORD},
    )
    assert added.status_code == 302
    page = admin_client.get(added.headers["Location"]).text
    assert "Login created: ma-grandma" in page
    assert user_named("ma-grandma").household_id == family.id

    taken = page_post(
        admin_client,
        f"/admin/households/{family.id}/login",
        {"username": "ma-son", "password": PASSWORD},
    )
    assert (
        "This username is taken; choose another."
        in admin_client.get(taken.headers["Location"]).text
    )


def test_the_household_page_disables_and_enables_a_login(app, admin_client, family):
    son_page = browser(app, "ma-son")
    mother = user_named("ma-mother")
    toggle = f"/admin/households/{family.id}/logins/{mother.id}/active"

    disabled = page_post(admin_client, toggle, {"active": "0"})
    assert disabled.status_code == 302
    page = admin_client.get(disabled.headers["Location"]).text
    assert "The login was disabled; the other logins still work." in page
    assert "data-login-disabled" in page
    assert not user_named("ma-mother").active
    log_in(app.test_client(), "ma-mother", expect=403)
    assert shown_balance(son_page) == "25"

    enabled = page_post(admin_client, toggle, {"active": "1"})
    assert enabled.status_code == 302
    assert user_named("ma-mother").active
    assert shown_balance(browser(app, "ma-mother")) == "25"
    assert len(events(audit.USER_DISABLED)) == len(events(audit.USER_ENABLED)) == 1


def test_the_page_toggles_only_a_login_of_that_household(
    admin_client, family, make_household, inspector
):
    neighbour = make_household(name="李四")
    son = user_named("ma-son")
    for household_id, user_id in ((neighbour.id, son.id), (family.id, inspector.id)):
        response = page_post(
            admin_client,
            f"/admin/households/{household_id}/logins/{user_id}/active",
            {"active": "0"},
        )
        assert response.status_code == 404
    assert user_named("ma-son").active and user_named("inspector").active


def test_a_member_changes_their_password_on_the_page(app, family):
    here = browser(app, "ma-son")
    elsewhere = browser(app, "ma-son")
    mother = browser(app, "ma-mother")
    assert 'href="/my/password"' in here.get("/my").text

    changed = page_post(
        here,
        "/my/password",
        {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    assert changed.status_code == 302
    page = here.get(changed.headers["Location"])
    assert page.status_code == 200 and "Your password was changed." in page.text
    assert shown_balance(here) == "25"
    assert elsewhere.get("/my").status_code == 302
    assert shown_balance(mother) == "25"
    log_in(app.test_client(), "ma-son", expect=401)
    assert shown_balance(browser(app, "ma-son", NEW_PASSWORD)) == "25"
    (event,) = events(audit.PASSWORD_CHANGED)
    assert event.target_id == user_named("ma-son").id


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD + "x",
            },
            "The two new passwords are not the same.",
        ),
        (
            {"current_password": PASSWORD, "new_password": "short", "new_password_again": "short"},
            "A password has 8 to 256 characters",
        ),
    ],
    ids=["mismatch", "weak"],
)
def test_the_password_page_refuses_with_a_message(app, family, fields, message):
    here = browser(app, "ma-son")

    response = page_post(here, "/my/password", fields)

    assert response.status_code == 422
    assert message in response.text
    assert shown_balance(here) == "25"
    assert api_log_in(app.test_client(), "ma-son").status_code == 201
    assert events(audit.PASSWORD_CHANGED) == []


def test_a_wrong_current_password_is_said_on_the_page(app, family):
    here = browser(app, "ma-son")

    response = page_post(
        here,
        "/my/password",
        {
            "current_password": "not-my-password",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
        },
    )

    assert response.status_code == 422
    assert "The current password is wrong." in response.text
    assert api_log_in(app.test_client(), "ma-son").status_code == 201


def test_the_admin_gives_a_household_its_own_login(admin_client, client, household):
    response = admin_client.post(
        f"/admin/households/{household.id}/login",
        data={
            "username": "ma-family",
            "password": "long-enough-1",
            "key": "login-1",
            "csrf_token": csrf_token(admin_client),
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "ma-family"))
    assert user.role == "household" and user.household_id == household.id
    page = admin_client.get(f"/admin/households/{household.id}").get_data(as_text=True)
    assert "ma-family" in page


def test_a_short_password_is_refused_with_a_message(admin_client, household):
    response = admin_client.post(
        f"/admin/households/{household.id}/login",
        data={
            "username": "ma-family",
            "password": "short",
            "key": "login-1",
            "csrf_token": csrf_token(admin_client),
        },
    )
    assert response.status_code == 422
    assert "Password (at least 8 characters): The text is too long or too short." in response.text
    assert db.session.scalar(select(User).where(User.username == "ma-family")) is None


# Races.


def test_two_admins_adding_the_same_username_at_once_make_one_login(app, household, admin_headers):
    url = logins_url(household)

    def add(_index):
        response = app.test_client().post(
            url, json={"username": "ma-twin", "password": PASSWORD}, headers=admin_headers
        )
        return response.status_code, (response.json or {}).get("code")

    outcomes = sorted(run_at_once(app, 4, add), key=str)
    assert outcomes == [(201, None)] + [(409, "username_taken")] * 3
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert len(db.session.scalars(select(User).where(User.username == "ma-twin")).all()) == 1
