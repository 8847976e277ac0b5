"""Listing inspections through the JSON API: filters, the village's local date, scope."""

from datetime import UTC, datetime, timedelta

import pytest
from testsupport import assert_problem

from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER
from app.inspections import batch, services

pytestmark = pytest.mark.usefixtures("photo_folder")

# Listing ------------------------------------------------------------------------------


@pytest.fixture
def at(monkeypatch):
    """Make the inspection service see a chosen moment as now."""

    def move(moment: datetime) -> None:
        monkeypatch.setattr(batch, "utcnow", lambda: moment)

    return move


def test_the_list_filters_by_grid_inspector_household_and_date(
    client, village, make_grid, make_household, make_user, token_for, inspect, at, admin_headers
):
    east, west = make_grid("东"), make_grid("西")
    first = make_household(in_grid=east)
    second = make_household(in_grid=east, name="王建国")
    third = make_household(in_grid=west, name="李华")
    alice, bob = make_user(INSPECTOR), make_user(INSPECTOR)
    alice_headers, bob_headers = token_for(alice), token_for(bob)
    today = services.village_today(village.id)
    yesterday = today - timedelta(days=1)

    at(datetime.now(UTC) - timedelta(days=1))
    old = inspect(first, "B", headers=alice_headers).json
    at(datetime.now(UTC))
    a = inspect(first, "A", headers=alice_headers).json
    b = inspect(second, "C", headers=bob_headers).json
    c = inspect(third, "A", headers=alice_headers).json

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/inspections?{query}", headers=admin_headers)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert ids("") == [c["id"], b["id"], a["id"], old["id"]]
    assert ids(f"date={today.isoformat()}") == [c["id"], b["id"], a["id"]]
    assert ids(f"date={yesterday.isoformat()}") == [old["id"]]
    assert ids(f"from={yesterday.isoformat()}&to={yesterday.isoformat()}") == [old["id"]]
    assert ids(f"from={today.isoformat()}") == [c["id"], b["id"], a["id"]]
    assert ids(f"to={yesterday.isoformat()}") == [old["id"]]
    assert ids(f"grid_id={east.id}") == [b["id"], a["id"], old["id"]]
    assert ids(f"grid_id={west.id}") == [c["id"]]
    assert ids(f"inspector_id={bob.id}") == [b["id"]]
    assert ids(f"inspector_id={alice.id}&date={today.isoformat()}") == [c["id"], a["id"]]
    assert ids(f"household_id={first.id}") == [a["id"], old["id"]]
    assert ids(f"household_id={first.id}&grid_id={west.id}") == []
    listed = client.get("/api/v1/inspections", headers=admin_headers).json
    assert listed["total"] == 4
    assert {"local_date"} <= set(listed["items"][0])


def test_the_date_is_the_villages_local_date(
    client, village, household, inspect, at, admin_headers
):
    # 17:30 UTC on 1 May is 01:30 on 2 May in Asia/Shanghai.
    at(datetime(2024, 5, 1, 17, 30, tzinfo=UTC))
    created = inspect(household, "A").json

    def ids(day: str) -> list[int]:
        return [
            i["id"]
            for i in client.get(f"/api/v1/inspections?date={day}", headers=admin_headers).json[
                "items"
            ]
        ]

    assert ids("2024-05-02") == [created["id"]]
    assert ids("2024-05-01") == []
    # The next local day is a new day for the limit.
    at(datetime(2024, 5, 2, 16, 30, tzinfo=UTC))  # 00:30 on 3 May locally
    assert inspect(household, "A").status_code == 201
    at(datetime(2024, 5, 2, 15, 30, tzinfo=UTC))  # 23:30 on 2 May locally
    assert_problem(inspect(household, "A"), 409, "already_inspected_today")


def test_the_day_follows_the_villages_own_time_zone(
    client, make_village, make_household, make_user, token_for, at
):
    london = make_village("伦敦村", "LDN", timezone="Europe/London")
    household = make_household(of=london)
    headers = token_for(make_user(INSPECTOR, of=london))
    admin = token_for(make_user(ADMIN, of=london))
    # 17:30 UTC on 1 May is 18:30 on 1 May in London (and already 2 May in Shanghai).
    at(datetime(2024, 5, 1, 17, 30, tzinfo=UTC))
    created = client.post(
        "/api/v1/inspections", headers=headers, json={"household_id": household.id, "grade": "A"}
    ).json

    assert created["local_date"] == "2024-05-01"
    listed = client.get("/api/v1/inspections?date=2024-05-01", headers=admin).json["items"]
    assert [item["id"] for item in listed] == [created["id"]]


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER, ADMIN])
def test_staff_may_list_inspections(client, make_user, token_for, role):
    response = client.get("/api/v1/inspections", headers=token_for(make_user(role)))

    assert response.status_code == 200
    assert response.json["items"] == []


def test_a_household_user_may_not_list_inspections(client, inspect, household, resident, token_for):
    inspect(household, "A")

    response = client.get("/api/v1/inspections", headers=token_for(resident))

    assert "items" not in assert_problem(response, 403)


@pytest.mark.parametrize(
    "query", ["date=2024-13-01", "date=yesterday", "grid_id=abc", "from=1.5.2024"]
)
def test_a_bad_list_query_is_422(client, admin_headers, query):
    response = client.get(f"/api/v1/inspections?{query}", headers=admin_headers)

    assert_problem(response, 422, "validation_error")


def test_another_villages_inspections_stay_hidden(
    client, inspect, household, make_village, make_user, token_for
):
    created = inspect(household, "A").json
    stranger = token_for(make_user(ADMIN, of=make_village("李家村", "LJ")))

    assert client.get("/api/v1/inspections", headers=stranger).json["items"] == []
    assert_problem(client.get(f"/api/v1/inspections/{created['id']}", headers=stranger), 404)
