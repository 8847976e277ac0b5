"""The shop's catalogue through the JSON API: goods, who sees them, their pictures."""

import io

import pytest
from PIL import Image
from testsupport import assert_problem, count, movements_of, png_bytes, snapshot, stock_of

from app.auth.models import STOREKEEPER
from app.catalogue.models import Good
from app.checks import verify_all

pytestmark = pytest.mark.usefixtures("photo_folder")

# The catalogue ------------------------------------------------------------------------------


def test_a_storekeeper_adds_a_good_with_its_opening_stock(client, storekeeper_headers):
    response = client.post(
        "/api/v1/goods",
        headers=storekeeper_headers,
        json={"name": "洗衣粉", "unit": "袋", "price_points": 8, "stock": 20, "category": "日用品"},
    )

    assert response.status_code == 201, response.text
    good = response.json
    assert {
        k: good[k]
        for k in ("name", "unit", "price_points", "stock", "category", "active", "has_picture")
    } == {
        "name": "洗衣粉",
        "unit": "袋",
        "price_points": 8,
        "stock": 20,
        "category": "日用品",
        "active": True,
        "has_picture": False,
    }
    assert response.headers["Location"].endswith(f"/api/v1/goods/{good['id']}")
    [opening] = movements_of(good["id"])
    assert (opening.kind, opening.quantity, opening.stock_after) == ("restock", 20, 20)
    assert verify_all().ok


def test_an_admin_adds_a_good_with_no_stock(client, admin_headers):
    response = client.post(
        "/api/v1/goods",
        headers=admin_headers,
        json={"name": "毛巾", "unit": "条", "price_points": 3},
    )

    assert response.status_code == 201, response.text
    assert response.json["stock"] == 0
    assert movements_of(response.json["id"]) == []


@pytest.mark.parametrize(
    "change",
    [
        {"price_points": 0},
        {"price_points": -3},
        {"price_points": 2.5},
        {"price_points": "5"},
        {"price_points": None},
        {"stock": -1},
        {"name": ""},
        {"unit": None},
    ],
)
def test_a_good_needs_a_whole_positive_price_and_a_name(client, storekeeper_headers, change):
    body = {"name": "酱油", "unit": "瓶", "price_points": 6, "stock": 2, **change}

    assert_problem(
        client.post("/api/v1/goods", headers=storekeeper_headers, json=body),
        422,
        "validation_error",
    )
    assert count(Good) == 0


def test_a_name_is_taken_once_per_village(client, storekeeper_headers, soap):
    response = client.post(
        "/api/v1/goods",
        headers=storekeeper_headers,
        json={"name": "肥皂", "unit": "块", "price_points": 4},
    )

    body = assert_problem(response, 422, "validation_error")
    assert "name" in body["errors"]


def test_patch_changes_the_price_but_not_the_stock(client, storekeeper_headers, soap):
    response = client.patch(
        f"/api/v1/goods/{soap.id}",
        headers=storekeeper_headers,
        json={"price_points": 7, "low_stock": 2},
    )

    assert response.status_code == 200, response.text
    assert (response.json["price_points"], response.json["low_stock"]) == (7, 2)
    assert_problem(
        client.patch(f"/api/v1/goods/{soap.id}", headers=storekeeper_headers, json={"stock": 99}),
        422,
        "validation_error",
    )
    assert_problem(
        client.patch(
            f"/api/v1/goods/{soap.id}", headers=storekeeper_headers, json={"price_points": 0}
        ),
        422,
        "validation_error",
    )
    assert stock_of(soap.id) == 10


def test_a_household_lists_the_goods_on_sale_only(
    client, resident_headers, make_good, storekeeper_headers
):
    on_sale = make_good("大米", price=20)
    hidden = make_good("旧货", active=False)

    response = client.get("/api/v1/goods", headers=resident_headers)
    assert response.status_code == 200
    assert [g["id"] for g in response.json["items"]] == [on_sale.id]
    everything = client.get("/api/v1/goods?all=true", headers=resident_headers)
    assert [g["id"] for g in everything.json["items"]] == [on_sale.id]
    assert_problem(
        client.get(f"/api/v1/goods/{hidden.id}", headers=resident_headers), 404, "not_found"
    )

    staff = client.get("/api/v1/goods?all=true", headers=storekeeper_headers)
    assert {g["id"] for g in staff.json["items"]} == {on_sale.id, hidden.id}


def test_a_good_at_or_below_its_mark_is_low(client, storekeeper_headers, make_good):
    at_mark = make_good("蜡烛", stock=5, low_stock=5)
    above = make_good("大米", stock=6, low_stock=5)

    items = {
        g["id"]: g for g in client.get("/api/v1/goods", headers=storekeeper_headers).json["items"]
    }
    assert items[at_mark.id]["is_low"] is True
    assert items[above.id]["is_low"] is False


def test_movements_and_pictures_are_for_staff(client, resident_headers, inspector_headers, soap):
    assert_problem(
        client.get(f"/api/v1/goods/{soap.id}/movements", headers=resident_headers), 403, "forbidden"
    )
    assert (
        client.get(f"/api/v1/goods/{soap.id}/movements", headers=inspector_headers).status_code
        == 200
    )
    for headers in (resident_headers, inspector_headers):
        response = client.post(
            f"/api/v1/goods/{soap.id}/picture",
            headers=headers,
            data={"picture": (io.BytesIO(png_bytes()), "soap.png", "image/png")},
            content_type="multipart/form-data",
        )
        assert_problem(response, 403, "forbidden")


def test_the_catalogue_needs_a_login(client, soap):
    assert_problem(client.get("/api/v1/goods"), 401, "unauthorized")


@pytest.mark.parametrize("who", ["inspector", "household"])
def test_inspectors_and_households_cannot_run_the_shop(client, request, who, soap, household):
    headers = request.getfixturevalue(
        "inspector_headers" if who == "inspector" else "resident_headers"
    )
    before = snapshot([household], [soap])
    calls = [
        ("post", "/api/v1/goods", {"name": "糖", "unit": "袋", "price_points": 2}),
        ("patch", f"/api/v1/goods/{soap.id}", {"price_points": 1}),
        ("post", f"/api/v1/goods/{soap.id}/restock", {"quantity": 5}),
        ("post", f"/api/v1/goods/{soap.id}/stocktake", {"counted": 1, "reason": "x"}),
        ("post", f"/api/v1/goods/{soap.id}/writeoff", {"quantity": 1, "reason": "x"}),
        (
            "post",
            "/api/v1/redemptions",
            {"household_id": household.id, "lines": [{"good_id": soap.id, "quantity": 1}]},
        ),
    ]
    for method, path, body in calls:
        assert_problem(getattr(client, method)(path, json=body, headers=headers), 403, "forbidden")
    assert client.get("/api/v1/goods", headers=headers).status_code == 200
    assert snapshot([household], [soap]) == before


def test_another_villages_goods_are_out_of_reach(client, make_village, make_user, token_for, soap):
    other = token_for(make_user(STOREKEEPER, of=make_village("李庄村", "LZ")))

    assert client.get("/api/v1/goods", headers=other).json["items"] == []
    for method, path, body in [
        ("get", f"/api/v1/goods/{soap.id}", None),
        ("patch", f"/api/v1/goods/{soap.id}", {"price_points": 1}),
        ("post", f"/api/v1/goods/{soap.id}/restock", {"quantity": 5}),
        ("post", f"/api/v1/goods/{soap.id}/writeoff", {"quantity": 1, "reason": "x"}),
        ("get", f"/api/v1/goods/{soap.id}/movements", None),
    ]:
        assert_problem(getattr(client, method)(path, json=body, headers=other), 404, "not_found")
    assert stock_of(soap.id) == 10


# Pictures -----------------------------------------------------------------------------------


def test_a_picture_upload_is_served_as_jpeg(client, storekeeper_headers, resident_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/picture",
        headers=storekeeper_headers,
        data={"picture": (io.BytesIO(png_bytes()), "soap.png", "image/png")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 200, response.text
    assert response.json["has_picture"] is True
    picture = client.get(f"/api/v1/goods/{soap.id}/picture", headers=resident_headers)
    assert picture.status_code == 200
    assert picture.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(picture.data)) as image:
        assert image.format == "JPEG"
        assert image.size == (40, 30)
    listed = client.get("/api/v1/goods", headers=resident_headers).json["items"]
    assert listed[0]["has_picture"] is True


def test_a_picture_must_be_an_image(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/picture",
        headers=storekeeper_headers,
        data={"picture": (io.BytesIO(b"not an image"), "x.png", "image/png")},
        content_type="multipart/form-data",
    )

    assert_problem(response, 422, "validation_error")
    assert_problem(
        client.get(f"/api/v1/goods/{soap.id}/picture", headers=storekeeper_headers),
        404,
        "not_found",
    )


def test_the_openapi_document_describes_the_shop(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    for path in (
        "/api/v1/goods",
        "/api/v1/goods/{good_id}/restock",
        "/api/v1/goods/{good_id}/stocktake",
        "/api/v1/goods/{good_id}/writeoff",
        "/api/v1/goods/{good_id}/movements",
        "/api/v1/goods/{good_id}/picture",
        "/api/v1/redemptions",
        "/api/v1/redemptions/{redemption_id}/cancel",
    ):
        assert path in paths, path
