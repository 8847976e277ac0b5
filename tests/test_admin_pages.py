"""The admin's rules page, household logins and grids, through the browser-facing pages."""

import re

import pytest
from sqlalchemy import select
from testsupport import PASSWORD, RULES_FORM, balance_of, csrf_token, page_post

from app.auth.models import INSPECTOR, User
from app.auth.services import set_grids
from app.db import db
from app.rules.services import current_rules
from app.villages.services import list_grids


def rules_form(**overrides):
    return {**RULES_FORM, **overrides}


def test_the_rules_page_shows_the_rules_in_force(admin_client):
    page = admin_client.get("/admin/rules").get_data(as_text=True)
    assert 'name="points-A" type="number" min="0" max="1000" value="3"' in page
    assert 'value="优"' in page


def test_saving_the_rules_adds_a_version_with_who_changed_it(admin_client, village):
    response = page_post(
        admin_client, "/admin/rules", rules_form(**{"points-A": "5", "daily_limit": "2"})
    )
    assert response.status_code == 302
    rules = current_rules(village.id)
    assert rules.version == 2 and rules.daily_limit == 2
    assert rules.grade("A").points == 5
    page = admin_client.get("/admin/rules").get_data(as_text=True)
    assert "优 A 5" in page and "优 A 3" in page  # both versions in the history
    assert "admin" in page


@pytest.mark.parametrize(
    "field, value",
    [("points-A", "-1"), ("points-B", "two"), ("daily_limit", "0"), ("daily_limit", "")],
)
def test_bad_rules_are_refused_and_nothing_changes(admin_client, village, field, value):
    response = page_post(admin_client, "/admin/rules", rules_form(**{field: value}))
    assert response.status_code == 422
    assert current_rules(village.id).version == 1


def test_a_refused_rules_form_names_the_grade_and_keeps_what_was_typed(admin_client, village):
    # Sent from the page as it is after a save (its address says "saved").
    response = page_post(
        admin_client, "/admin/rules?saved=1", rules_form(**{"points-A": "7", "points-B": "-1"})
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Points of grade B: The number is out of range." in page
    assert "The new rules apply" not in page  # no "saved" beside the error
    assert 'name="points-A" type="number" min="0" max="1000" value="7"' in page
    assert 'name="points-B" type="number" min="0" max="1000" value="-1"' in page
    assert page.count('aria-invalid="true"') == 1
    assert current_rules(village.id).version == 1


def test_a_refused_months_field_is_named_and_kept(admin_client):
    form = rules_form(expiry_policy="idle_months", expiry_months="0", daily_limit="4")

    page = page_post(admin_client, "/admin/rules", form).get_data(as_text=True)

    assert "Months with no credit and no redemption: The number is out of range." in page
    assert 'name="expiry_policy" value="idle_months" checked' in page
    assert 'value="0" aria-invalid="true"' in page
    assert 'id="daily_limit" name="daily_limit" type="number" min="1" max="10" value="4"' in page


def test_an_inspector_cannot_open_the_rules_page(client, make_user):
    make_user("inspector", username="li")
    client.post(
        "/login", data={"username": "li", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert client.get("/admin/rules").status_code == 403


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


def test_the_inspector_and_storekeeper_homes_lead_to_their_scanners(client, make_user):
    make_user("inspector", username="li")
    make_user("storekeeper", username="wang")
    client.post(
        "/login", data={"username": "li", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert 'href="/inspect"' in client.get("/home").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    client.post(
        "/login", data={"username": "wang", "password": PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert 'href="/shop"' in client.get("/home").get_data(as_text=True)


def correct(client, household, amount, reason="补录纸质记录", key="k-1"):
    return client.post(
        f"/admin/households/{household.id}/adjust",
        data={"amount": amount, "reason": reason, "key": key, "csrf_token": csrf_token(client)},
        follow_redirects=True,
    )


def test_the_admin_corrects_a_households_points_with_a_reason(admin_client, make_household):
    household = make_household(points=10)

    page = correct(admin_client, household, "5").get_data(as_text=True)

    assert balance_of(household) == 15
    assert "data-adjusted" in page and "+5" in page
    from app.audit.models import AuditEvent

    event = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "points_adjusted")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    assert event.reason == "补录纸质记录" and event.actor_id is not None


def test_a_resent_correction_form_counts_once(admin_client, make_household):
    household = make_household(points=10)

    correct(admin_client, household, "-3", key="same")
    correct(admin_client, household, "-3", key="same")

    assert balance_of(household) == 7


@pytest.mark.parametrize(
    ("amount", "reason"), [("-11", "扣分"), ("0", "扣分"), ("abc", "扣分"), ("5", ""), ("1e3", "x")]
)
def test_a_bad_correction_is_refused_with_a_message(admin_client, make_household, amount, reason):
    household = make_household(points=10)

    page = correct(admin_client, household, amount, reason=reason).get_data(as_text=True)

    assert balance_of(household) == 10
    assert "data-adjust-error" in page


def test_only_the_villages_admin_corrects_points(client, make_user, make_household, village):
    from app.office.services import create_village

    household = make_household(points=10)
    inspector = make_user("inspector")
    client.post(
        "/login",
        data={
            "username": inspector.username,
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert correct(client, household, "5").status_code == 403

    other = create_village("李庄村", "LZ")
    db.session.commit()
    stranger = make_user("admin", of=other)
    client.get("/logout")
    client.post(
        "/login",
        data={
            "username": stranger.username,
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert correct(client, household, "5").status_code == 404
    assert balance_of(household) == 10


# Grids -------------------------------------------------------------------------------------


def test_the_grids_page_lists_who_works_each_grid_and_its_households(
    admin_client, grids, make_household, make_user
):
    east, west = grids
    make_household(in_grid=east)
    make_household(in_grid=east)
    make_household(in_grid=west)
    wang = make_user(INSPECTOR, username="wang")
    make_user(INSPECTOR, username="li")
    set_grids(wang, [east.id], actor_id=None)
    db.session.commit()

    page = admin_client.get("/admin/grids").text

    cards = re.findall(r'<li class="card" data-grid="\d+">(.*?)</li>', page, re.S)
    assert len(cards) == 2
    assert "东一网格" in cards[0] and "Households: 2" in cards[0] and "wang" in cards[0]
    assert "西一网格" in cards[1] and "Households: 1" in cards[1]
    assert "those of the whole village" in cards[1]
    assert "Working the whole village: li" in page


def test_the_grids_page_adds_a_grid_once_and_logs_it(admin_client, village, grid):
    fields = {"name": "南网格", "key": "add-south"}

    first = page_post(admin_client, "/admin/grids", fields)
    again = page_post(admin_client, "/admin/grids", fields)

    assert first.status_code == again.status_code == 302
    names = [g.name for g in list_grids(village.id)]
    assert names == ["东一网格", "南网格"]
    assert "The grid was added." in admin_client.get(first.headers["Location"]).text
    assert "Added the grid <strong>南网格</strong>." in admin_client.get("/admin/audit").text


def test_the_grids_page_renames_a_grid(admin_client, village, grid):
    renamed = page_post(admin_client, f"/admin/grids/{grid.id}", {"name": "幸福网格"})

    assert renamed.status_code == 302
    assert [g.name for g in list_grids(village.id)] == ["幸福网格"]
    assert "Renamed the grid <strong>幸福网格</strong>." in admin_client.get("/admin/audit").text


def test_a_taken_grid_name_is_refused_on_the_page_in_words(admin_client, village, grids):
    east, west = grids

    refused = page_post(admin_client, f"/admin/grids/{west.id}", {"name": "东一网格"})

    assert refused.status_code == 422
    assert "Another grid has this name." in refused.text
    assert [g.name for g in list_grids(village.id)] == ["东一网格", "西一网格"]


def test_the_admin_menu_links_the_grids(admin_client):
    assert 'href="/admin/grids"' in admin_client.get("/admin/households").text
