"""The JSON API through HTTP: errors, grids, adjustments, idempotency, ledger, OpenAPI."""

from datetime import datetime

import pytest
from sqlalchemy import func, select
from testsupport import assert_problem, balance_of, openapi_path

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db
from app.ledger.models import Journal


def journal_count() -> int:
    return db.session.scalar(select(func.count(Journal.id)))


@pytest.fixture
def adjust(client, admin_headers):
    """Post an adjustment as the admin; return the response."""

    def post(household, amount, reason="纠正", *, key=None, headers=None):
        extra = {"Idempotency-Key": key} if key is not None else {}
        return client.post(
            "/api/v1/adjustments",
            json={"household_id": household.id, "amount": amount, "reason": reason},
            headers={**(headers or admin_headers), **extra},
        )

    return post


# Problem details -----------------------------------------------------------------------


def test_unknown_api_url_is_404_problem(client):
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_problem_naming_the_allowed_methods(client, admin_headers):
    response = client.put("/api/v1/grids", headers=admin_headers, json={"name": "x"})

    assert_problem(response, 405)
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_malformed_json_body_is_400_validation_error(client, admin_headers):
    response = client.post(
        "/api/v1/grids", data='{"name": ', headers=admin_headers, content_type="application/json"
    )

    assert_problem(response, 400, "validation_error")


def test_schema_errors_are_422_with_errors_per_field(client, admin_headers):
    response = client.post(
        "/api/v1/adjustments", headers=admin_headers, json={"household_id": "one", "reason": ""}
    )

    body = assert_problem(response, 422, "validation_error")
    assert set(body["errors"]) == {"household_id", "amount", "reason"}
    assert all(isinstance(messages, list) and messages for messages in body["errors"].values())


def test_refusal_is_409_problem(adjust, household):
    body = assert_problem(adjust(household, -1), 409, "insufficient_points")

    assert body["detail"]


# Grids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [ADMIN, INSPECTOR, STOREKEEPER])
def test_staff_list_the_villages_grids(client, make_user, token_for, grid, role):
    response = client.get("/api/v1/grids", headers=token_for(make_user(role)))

    assert response.status_code == 200
    assert [g["name"] for g in response.json["items"]] == ["东一网格"]


def test_household_user_may_not_list_grids(client, resident, token_for):
    assert_problem(client.get("/api/v1/grids", headers=token_for(resident)), 403, "forbidden")


def test_listing_grids_without_a_token_is_401(client, grid):
    assert_problem(client.get("/api/v1/grids"), 401, "unauthorized")


def test_grids_of_another_village_stay_hidden(client, make_village, make_user, token_for, grid):
    other = make_village()
    headers = token_for(make_user(ADMIN, of=other))

    assert client.get("/api/v1/grids", headers=headers).json["items"] == []
    assert_problem(client.get(f"/api/v1/grids/{grid.id}", headers=headers), 404, "not_found")


def test_admin_adds_a_grid_with_201_and_location(client, admin_headers):
    response = client.post("/api/v1/grids", json={"name": "西一网格"}, headers=admin_headers)

    assert response.status_code == 201
    assert response.json["name"] == "西一网格"
    shown = client.get(response.headers["Location"], headers=admin_headers)
    assert shown.status_code == 200
    assert shown.json == response.json


def test_duplicate_grid_name_is_422(client, admin_headers, grid):
    response = client.post("/api/v1/grids", json={"name": "东一网格"}, headers=admin_headers)

    body = assert_problem(response, 422, "validation_error")
    assert "name" in body["errors"]


def test_inspector_may_not_add_a_grid(client, make_user, token_for, admin_headers):
    response = client.post(
        "/api/v1/grids", json={"name": "西一网格"}, headers=token_for(make_user(INSPECTOR))
    )

    assert_problem(response, 403, "forbidden")
    assert client.get("/api/v1/grids", headers=admin_headers).json["items"] == []


def test_admin_renames_a_grid_and_its_households_keep_it(
    client, admin_headers, grid, make_household
):
    household = make_household()

    response = client.patch(
        f"/api/v1/grids/{grid.id}", json={"name": "幸福网格"}, headers=admin_headers
    )

    assert response.status_code == 200
    assert (response.json["name"], response.json["number"]) == ("幸福网格", 1)
    shown = client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json
    assert shown["grid_id"] == grid.id


def test_a_grid_cannot_take_another_grids_name(client, admin_headers, grids):
    east, west = grids

    response = client.patch(
        f"/api/v1/grids/{west.id}", json={"name": east.name}, headers=admin_headers
    )

    assert_problem(response, 422, "validation_error")
    assert client.get(f"/api/v1/grids/{west.id}", headers=admin_headers).json["name"] == "西一网格"


def test_only_the_admin_renames_a_grid(client, make_user, token_for, grid):
    response = client.patch(
        f"/api/v1/grids/{grid.id}", json={"name": "改名"}, headers=token_for(make_user(INSPECTOR))
    )

    assert_problem(response, 403, "forbidden")


# Adjustments ---------------------------------------------------------------------------


def test_admin_adds_points(adjust, household):
    response = adjust(household, 10, "期初积分")

    assert response.status_code == 201
    assert response.json["balance"] == 10
    assert response.json["amount"] == 10
    assert response.json["household_id"] == household.id
    assert balance_of(household) == 10


def test_admin_takes_points_away(adjust, make_household):
    household = make_household(points=10)

    response = adjust(household, -4, "多记了")

    assert response.status_code == 201
    assert response.json["balance"] == 6
    assert balance_of(household) == 6


def test_adjustment_below_zero_is_refused_and_changes_nothing(adjust, make_household):
    household = make_household(points=3)
    journals = journal_count()

    assert_problem(adjust(household, -4), 409, "insufficient_points")

    assert balance_of(household) == 3
    assert journal_count() == journals


def test_adjustment_to_exactly_zero_is_allowed(adjust, make_household):
    household = make_household(points=3)

    assert adjust(household, -3).json["balance"] == 0


def test_adjustment_of_zero_points_is_422(adjust, household):
    body = assert_problem(adjust(household, 0), 422, "validation_error")

    assert "amount" in body["errors"]
    assert journal_count() == 0


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER])
def test_staff_other_than_admin_may_not_adjust(adjust, make_user, token_for, household, role):
    response = adjust(household, 5, headers=token_for(make_user(role)))

    assert_problem(response, 403, "forbidden")
    assert balance_of(household) == 0


def test_household_user_may_not_adjust_its_own_points(adjust, resident, token_for, household):
    assert_problem(adjust(household, 5, headers=token_for(resident)), 403, "forbidden")
    assert balance_of(household) == 0


def test_another_villages_household_is_404_and_untouched(adjust, make_village, make_household):
    theirs = make_household(of=make_village(), points=7)

    assert_problem(adjust(theirs, -7), 404, "not_found")
    assert_problem(adjust(theirs, 5), 404, "not_found")

    assert balance_of(theirs) == 7


# Idempotency ---------------------------------------------------------------------------


def test_replay_returns_the_same_response_and_moves_points_once(adjust, household):
    first = adjust(household, 5, key="adj-1")
    again = adjust(household, 5, key="adj-1")

    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert balance_of(household) == 5


def test_same_key_with_another_body_is_422_idempotency_conflict(adjust, household):
    adjust(household, 5, key="adj-1")

    assert_problem(adjust(household, 6, key="adj-1"), 422, "idempotency_conflict")
    assert balance_of(household) == 5


def test_refusal_is_replayed_even_after_the_balance_would_allow_it(adjust, make_household):
    household = make_household(points=5)
    refused = adjust(household, -8, key="take-8")
    adjust(household, 10, key="top-up")

    replayed = adjust(household, -8, key="take-8")

    assert_problem(replayed, 409, "insufficient_points")
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json == refused.json
    assert balance_of(household) == 15


def test_new_key_succeeds_once_the_balance_allows_it(adjust, make_household):
    household = make_household(points=5)
    adjust(household, -8, key="take-8")
    adjust(household, 10, key="top-up")

    response = adjust(household, -8, key="take-8-again")

    assert response.status_code == 201
    assert balance_of(household) == 7


def test_validation_failure_is_not_stored_under_its_key(adjust, household):
    assert_problem(adjust(household, 0, key="adj-1"), 422, "validation_error")

    response = adjust(household, 5, key="adj-1")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert balance_of(household) == 5


@pytest.mark.parametrize("key", ["k" * 65, "two words", "", "café"])
def test_malformed_idempotency_key_is_400_and_moves_nothing(adjust, household, key):
    body = assert_problem(adjust(household, 5, key=key), 400, "validation_error")

    assert "Idempotency-Key" in body["errors"]
    assert balance_of(household) == 0


def test_idempotency_key_of_64_characters_is_accepted(adjust, household):
    assert adjust(household, 5, key="k" * 64).status_code == 201


# A household's ledger ------------------------------------------------------------------


def ledger(client, household, headers, **query):
    return client.get(
        f"/api/v1/households/{household.id}/ledger", headers=headers, query_string=query
    )


def test_ledger_lists_movements_newest_first_with_running_balance(
    client, adjust, household, admin_headers
):
    for amount in (10, 5, -3):
        adjust(household, amount, f"调整{amount}")

    response = ledger(client, household, admin_headers)

    assert response.status_code == 200
    items = response.json["items"]
    assert [i["amount"] for i in items] == [-3, 5, 10]
    assert [i["balance_after"] for i in items] == [12, 15, 10]
    assert [i["memo"] for i in items] == ["调整-3", "调整5", "调整10"]
    ids = [i["transaction_id"] for i in items]
    assert ids == sorted(ids, reverse=True)
    for item in items:
        assert {"transaction_id", "kind", "amount", "balance_after", "created_at", "memo"} <= set(
            item
        )
        assert item["kind"] == "adjustment"
        assert datetime.fromisoformat(item["created_at"]).tzinfo is not None


def test_ledger_pages_with_limit_and_next_before_version(client, adjust, household, admin_headers):
    for amount in range(1, 6):
        adjust(household, amount)

    amounts, query, pages = [], {"limit": 2}, 0
    while True:
        page = ledger(client, household, admin_headers, **query).json
        pages += 1
        assert len(page["items"]) <= 2
        amounts += [i["amount"] for i in page["items"]]
        if page["next_before_version"] is None:
            break
        query = {"limit": 2, "before_version": page["next_before_version"]}

    assert amounts == [5, 4, 3, 2, 1]
    assert pages == 3


def test_ledger_of_a_household_with_no_movements_is_empty(client, household, admin_headers):
    response = ledger(client, household, admin_headers)

    assert response.status_code == 200
    assert response.json["items"] == []


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"before_version": 0}, "before_version"),
    ],
)
def test_ledger_with_a_bad_page_query_is_422(client, household, admin_headers, query, field):
    body = assert_problem(
        ledger(client, household, admin_headers, **query), 422, "validation_error"
    )

    assert field in body["errors"]


def test_household_user_sees_its_own_ledger(client, make_household, make_user, token_for):
    household = make_household(points=8)
    resident = make_user(HOUSEHOLD, household=household)

    response = ledger(client, household, token_for(resident))

    assert response.status_code == 200
    assert [i["balance_after"] for i in response.json["items"]] == [8]


def test_household_user_gets_404_for_another_households_ledger(
    client, make_household, resident, token_for
):
    neighbour = make_household(name="王桂兰", points=8)

    assert_problem(ledger(client, neighbour, token_for(resident)), 404, "not_found")


def test_another_villages_admin_gets_404_for_the_ledger(
    client, make_village, make_user, token_for, make_household
):
    household = make_household(points=8)
    outsider = make_user(ADMIN, of=make_village())

    assert_problem(ledger(client, household, token_for(outsider)), 404, "not_found")


# Verification --------------------------------------------------------------------------


def test_admin_verifies_a_sound_ledger(client, adjust, household, admin_headers):
    adjust(household, 10)
    adjust(household, -4)

    response = client.get("/api/v1/ledger/verify", headers=admin_headers)

    assert response.status_code == 200
    assert response.json == {"ok": True, "transactions": 2, "postings": 4, "problems": []}


def test_inspector_may_not_verify_the_ledger(client, make_user, token_for):
    response = client.get("/api/v1/ledger/verify", headers=token_for(make_user(INSPECTOR)))

    assert_problem(response, 403, "forbidden")


# OpenAPI and docs ----------------------------------------------------------------------


def test_openapi_describes_every_api_endpoint(app, client):
    documented = client.get("/api/v1/openapi.json").json["paths"]
    served = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and rule.rule not in ("/api/v1/openapi.json", "/api/v1/docs")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    assert served
    missing = {(path, method) for path, method in served if method not in documented.get(path, {})}
    assert missing == set()


def test_docs_page_loads_the_vendored_swagger_ui(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "/static/vendor/swagger-ui/" in response.text
    assert "/api/v1/openapi.json" in response.text


@pytest.mark.parametrize(
    "name", ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"]
)
def test_swagger_ui_files_are_served(client, name):
    response = client.get(f"/static/vendor/swagger-ui/{name}")
    try:
        assert response.status_code == 200
        assert len(response.get_data()) > 1000
    finally:
        response.close()
