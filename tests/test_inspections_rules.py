"""The village's scoring rules and their history, through the API and the admin's rules page."""

import re

import pytest
from testsupport import (
    PASSWORD,
    RULES_FORM,
    assert_problem,
    balance_of,
    csrf_token,
    page_post,
    run_at_once,
)

from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER
from app.db import db
from app.ledger import services as ledger
from app.rules.services import current_rules

pytestmark = pytest.mark.usefixtures("photo_folder")

# The API ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [ADMIN, INSPECTOR, STOREKEEPER])
def test_staff_read_the_default_rules(client, make_user, token_for, role):
    response = client.get("/api/v1/rules", headers=token_for(make_user(role)))

    assert response.status_code == 200
    body = response.json
    assert body["grades"] == {"A": 3, "B": 2, "C": 1, "D": 0}
    assert body["daily_limit"] == 1
    assert body["labels"] == {"A": "优", "B": "良", "C": "中", "D": "差"}
    assert body["version"] == 1


def test_a_household_user_may_not_read_the_rules(client, resident, token_for):
    assert_problem(client.get("/api/v1/rules", headers=token_for(resident)), 403)


def test_admin_changes_the_rules_and_the_history_shows_who(client, put_rules, admin, admin_headers):
    response = put_rules(
        {
            "grades": {"A": 5, "B": 3, "C": 1, "D": 0},
            "daily_limit": 2,
            "labels": {"A": "优秀", "B": "良", "C": "中", "D": "差"},
        }
    )

    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    assert response.json["grades"] == {"A": 5, "B": 3, "C": 1, "D": 0}
    assert response.json["labels"]["A"] == "优秀"
    now = client.get("/api/v1/rules", headers=admin_headers).json
    assert now["version"] == 2 and now["daily_limit"] == 2
    history = client.get("/api/v1/rules/history", headers=admin_headers)
    assert history.status_code == 200
    items = history.json["items"]
    assert [item["version"] for item in items] == [2, 1]
    assert items[0]["updated_by"] == admin.id
    assert items[1]["updated_by"] is None  # the village's defaults
    assert items[1]["grades"] == {"A": 3, "B": 2, "C": 1, "D": 0}
    assert all(re.search(r"(Z|[+-]\d\d:\d\d)$", item["updated_at"]) for item in items)


def test_admins_changing_the_rules_at_once_each_get_a_version(
    app, client, make_user, token_for, admin_headers
):
    headers = [token_for(make_user(ADMIN)) for _ in range(4)]

    def send(index):
        response = app.test_client().put(
            "/api/v1/rules", headers=headers[index], json={"grades": {"A": 3 + index, "D": 0}}
        )
        return response.status_code, response.json.get("version")

    results = run_at_once(app, len(headers), send)

    assert all(status == 200 for status, _ in results), results
    assert sorted(version for _, version in results) == [2, 3, 4, 5]
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    history = client.get("/api/v1/rules/history", headers=admin_headers).json["items"]
    assert [item["version"] for item in history] == [5, 4, 3, 2, 1]


def test_rules_without_labels_fall_back_to_the_grade_name(put_rules):
    response = put_rules({"grades": {"GOOD": 2, "BAD": 0}})

    assert response.status_code == 200
    assert response.json["labels"] == {"GOOD": "GOOD", "BAD": "BAD"}
    assert response.json["daily_limit"] == 1


def test_an_inspector_may_not_change_the_rules_or_read_their_history(
    client, put_rules, inspector_headers, admin_headers
):
    response = put_rules({"grades": {"A": 100}}, headers=inspector_headers)

    assert_problem(response, 403)
    assert_problem(client.get("/api/v1/rules/history", headers=inspector_headers), 403)
    assert client.get("/api/v1/rules", headers=admin_headers).json["version"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grades": {"A": -1, "B": 2}}, "grades"),
        ({"grades": {}}, "grades"),
        ({"grades": {"A": 3}, "daily_limit": 0}, "daily_limit"),
        ({"grades": {"A": 3}, "labels": {"B": "良"}}, "labels"),
        ({"grades": {"A": 2.5}}, "grades"),
        ({"grades": {"A": "3"}}, "grades"),
        ({"grades": {"a b": 3}}, "grades"),
        ({"daily_limit": 1}, "grades"),
        ({"grades": {"A": 3}, "daily_limit": -2}, "daily_limit"),
    ],
)
def test_bad_rules_are_422_and_change_nothing(client, put_rules, admin_headers, body, field):
    problem = assert_problem(put_rules(body), 422, "validation_error")

    assert field in problem["errors"]
    assert client.get("/api/v1/rules", headers=admin_headers).json["version"] == 1


def test_a_rules_change_applies_only_to_later_inspections(
    client, inspect, put_rules, make_household, inspector_headers
):
    before = make_household()
    after = make_household(name="王建国")
    earlier = inspect(before, "A").json
    assert earlier["points"] == 3

    assert put_rules({"grades": {"A": 5, "B": 2, "C": 1, "D": 0}}).status_code == 200
    later = inspect(after, "A")

    assert later.status_code == 201
    assert later.json["points"] == 5
    assert balance_of(after.id) == 5
    assert balance_of(before.id) == 3
    kept = client.get(f"/api/v1/inspections/{earlier['id']}", headers=inspector_headers).json
    assert kept["points"] == 3
    assert ledger.verify().ok


def test_a_grade_dropped_from_the_rules_is_refused(inspect, put_rules, household):
    assert put_rules({"grades": {"GOOD": 2, "BAD": 0}}).status_code == 200

    assert "grade" in assert_problem(inspect(household, "A"), 422)["errors"]
    assert inspect(household, "GOOD").json["points"] == 2


# The rules page ----------------------------------------------------------------------


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
