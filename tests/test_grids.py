"""Grids: the admin adds and renames them, staff list them, through the API and the grids page."""

import re

import pytest
from testsupport import assert_problem, page_post

from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER
from app.auth.services import set_grids
from app.db import db
from app.villages.services import list_grids

# The API -------------------------------------------------------------------------------


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


# The grids page ------------------------------------------------------------------------


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
