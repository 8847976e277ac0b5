"""An inspector's grids: the admin assigns them (API and users page); the list to visit follows."""

from testsupport import events, log_in, page_post


def test_the_admin_assigns_an_inspector_to_grids(
    client, admin_headers, inspector, grids, other_village, make_grid
):
    east, west = grids
    path = f"/api/v1/users/{inspector.id}"
    assert client.get(path, headers=admin_headers).json["grid_ids"] == []
    response = client.patch(path, json={"grid_ids": [west.id, east.id]}, headers=admin_headers)
    assert response.status_code == 200, response.json
    assert response.json["grid_ids"] == sorted([east.id, west.id])
    assert client.get(path, headers=admin_headers).json["grid_ids"] == sorted([east.id, west.id])
    [event] = events("user_grids_set")
    assert event.details["new_grid_ids"] == sorted([east.id, west.id])
    # Another village's grid, or none at all, is refused and changes nothing.
    foreign = make_grid("外村网格", of=other_village)
    for wrong in ([foreign.id], [999999]):
        refused = client.patch(path, json={"grid_ids": wrong}, headers=admin_headers)
        assert refused.status_code == 422
        assert refused.json["code"] == "validation_error"
    assert client.get(path, headers=admin_headers).json["grid_ids"] == sorted([east.id, west.id])
    # [] puts the inspector back on the whole village.
    assert client.patch(path, json={"grid_ids": []}, headers=admin_headers).json["grid_ids"] == []


def test_the_inspectors_list_to_visit_follows_their_grids(
    client, inspector, grids, make_household, admin_headers
):
    east, west = grids
    make_household(name="东户甲", in_grid=east)
    make_household(name="西户乙", in_grid=west)
    client.patch(
        f"/api/v1/users/{inspector.id}", json={"grid_ids": [west.id]}, headers=admin_headers
    )
    log_in(client, "inspector", english=True)
    page = client.get("/inspect").text
    assert "西户乙" in page and "东户甲" not in page
    # Asking for the other grid still shows only the assigned one's households.
    page = client.get(f"/inspect?grid_id={east.id}").text
    assert "西户乙" in page and "东户甲" not in page


def test_the_admin_sets_grids_on_the_users_page(client, admin, inspector, grids):
    east, west = grids
    log_in(client, "admin", english=True)
    page = client.get("/admin/users").text
    assert "Assign grids" in page and "The whole village" in page
    response = page_post(client, f"/admin/users/{inspector.id}/grids", {"grid_id": [str(east.id)]})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    assert "The grids are saved." in page
    row = page.split('data-user="inspector"')[1].split("</tr>")[0]
    assert "东一网格" in row and "西一网格" not in row.split("<details")[0]
    refused = page_post(client, f"/admin/users/{inspector.id}/grids", {"grid_id": ["999999"]})
    assert refused.status_code == 422
    assert "Choose grids of this village." in refused.text
