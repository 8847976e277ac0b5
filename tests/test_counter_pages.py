"""The counter without the card, refusals that help, receipts, staff at the door (issue 15)."""

import re
import uuid
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from testsupport import assert_problem, csrf_token, key_of, log_in

from app.auth.models import INSPECTOR, STOREKEEPER
from app.db import db
from app.households.cards import card_payload, make_token
from app.redemptions.models import Redemption

pytestmark = pytest.mark.usefixtures("photo_folder")


@pytest.fixture
def shopkeeper(client, make_user):
    make_user(STOREKEEPER, username="dianzhang")
    log_in(client, "dianzhang", english=True)
    return client


@pytest.fixture
def zhou(make_household):
    return make_household(
        name="周长顺", address="马庄村1组 幸福路8号", phone="13800001234", points=100
    )


@pytest.fixture
def english_oil(make_good):
    return make_good("Cooking oil", price=12, stock=2, unit="bottle")


@pytest.fixture
def soap_out_of_stock(make_good):
    return make_good("Soap", price=5, stock=0, unit="bar")


def found_by_of(redemption_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Redemption, redemption_id).found_by


def redeem_from(client, path: str, form: dict) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    data = {"key": key_of(page), "csrf_token": csrf_token(client), **form}
    if 'name="found_by" value="search"' in page.text:
        data["found_by"] = "search"
    response = client.post(path.split("?")[0], data=data)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


# Finding the household --------------------------------------------------------------------


def test_the_counter_offers_the_search(shopkeeper):
    page = shopkeeper.get("/shop").text
    assert 'action="/find"' in page
    assert "No card? Find the household" in page


def test_the_inspector_page_offers_the_search_too(client, make_user):
    make_user(INSPECTOR, username="jiancha")
    log_in(client, "jiancha", english=True)
    page = client.get("/inspect").text
    assert 'action="/find"' in page
    assert 'name="for" value="inspect"' in page


def test_a_search_by_initials_shows_the_masked_phone_and_opens_the_basket(
    shopkeeper, zhou, make_household, other_village
):
    make_household(of=other_village, name="周长顺", phone="13800009999")

    page = shopkeeper.get("/find", query_string={"q": "zcs"}).text

    assert page.count("data-found-item") == 1
    assert "周长顺" in page and zhou.code in page and "马庄村1组 幸福路8号" in page
    assert "138****1234" in page
    assert "13800001234" not in page
    assert f'href="/shop/household/{zhou.id}?found_by=search"' in page


def test_a_search_that_finds_nobody_says_what_to_try(shopkeeper, zhou):
    page = shopkeeper.get("/find", query_string={"q": "无此人"}).text
    assert "data-none-found" in page
    assert "data-found-item" not in page


def test_an_inspector_search_opens_the_grade_form(client, make_user, zhou):
    make_user(INSPECTOR, username="jiancha")
    log_in(client, "jiancha", english=True)
    page = client.get("/find", query_string={"q": "zhouchangshun", "for": "shop"}).text
    assert f'href="/inspect/household/{zhou.id}"' in page


def test_a_redemption_after_a_search_is_recorded_as_found_by_search(shopkeeper, zhou, english_oil):
    location = redeem_from(
        shopkeeper, f"/shop/household/{zhou.id}?found_by=search", {f"qty-{english_oil.id}": "1"}
    )
    redemption_id = int(re.search(r"/shop/receipts/(\d+)", location).group(1))
    assert found_by_of(redemption_id) == "search"


def test_a_redemption_after_a_scan_is_recorded_as_found_by_card(shopkeeper, zhou, english_oil):
    scanned = shopkeeper.get("/shop/card", query_string={"payload": card_payload(zhou)})
    location = redeem_from(shopkeeper, scanned.headers["Location"], {f"qty-{english_oil.id}": "1"})
    redemption_id = int(re.search(r"/shop/receipts/(\d+)", location).group(1))
    assert found_by_of(redemption_id) == "card"


def test_the_api_records_how_the_household_was_found(
    client, storekeeper_headers, zhou, english_oil
):
    def redeem(**ref) -> dict:
        response = client.post(
            "/api/v1/redemptions",
            json={"lines": [{"good_id": english_oil.id, "quantity": 1}], **ref},
            headers={**storekeeper_headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    assert redeem(household_id=zhou.id, found_by="search")["found_by"] == "search"
    # A scanned card is a card, whatever the client says.
    assert redeem(payload=card_payload(zhou), found_by="search")["found_by"] == "card"
    found = db.session.scalars(select(Redemption.found_by).order_by(Redemption.id)).all()
    assert found == ["search", "card"]


# Refusals that help -----------------------------------------------------------------------


def test_the_api_refusals_name_the_good_and_the_shortfall(
    client, storekeeper_headers, make_household, english_oil, make_good
):
    poor = make_household(name="李四", points=20)
    rice = make_good("Rice", price=30, stock=5, unit="bag")

    short = client.post(
        "/api/v1/redemptions",
        json={"household_id": poor.id, "lines": [{"good_id": rice.id, "quantity": 1}]},
        headers=storekeeper_headers,
    )
    body = assert_problem(short, 409, "insufficient_points")
    assert (body["required"], body["balance"], body["shortfall"]) == (30, 20, 10)

    rich = make_household(name="王五", points=500)
    empty = client.post(
        "/api/v1/redemptions",
        json={"household_id": rich.id, "lines": [{"good_id": english_oil.id, "quantity": 3}]},
        headers=storekeeper_headers,
    )
    body = assert_problem(empty, 409, "out_of_stock")
    assert body["good_id"] == english_oil.id
    assert (body["name"], body["unit"], body["available"], body["requested"]) == (
        "Cooking oil",
        "bottle",
        2,
        3,
    )


def test_a_refused_basket_comes_back_as_it_was_with_the_shortfall(
    shopkeeper, make_household, english_oil, make_good
):
    rice = make_good("Rice", price=30, stock=5, unit="bag")
    poor = make_household(name="李四", points=40)

    location = redeem_from(
        shopkeeper,
        f"/shop/household/{poor.id}?found_by=search",
        {f"qty-{english_oil.id}": "1", f"qty-{rice.id}": "1"},
    )
    page = shopkeeper.get(location).text

    assert "Not enough points: 2 more points needed." in page
    assert re.search(rf'name="qty-{english_oil.id}"[^>]*value="1"', page)
    assert re.search(rf'name="qty-{rice.id}"[^>]*value="1"', page)
    assert 'name="found_by" value="search"' in page


def test_an_out_of_stock_refusal_names_what_is_left(shopkeeper, make_household, english_oil):
    rich = make_household(name="王五", points=500)

    location = redeem_from(shopkeeper, f"/shop/household/{rich.id}", {f"qty-{english_oil.id}": "3"})
    page = shopkeeper.get(location).text

    assert "Cooking oil: only 2 bottle left" in page
    assert re.search(rf'name="qty-{english_oil.id}"[^>]*value="3"', page)


def test_a_sold_out_good_says_so_and_cannot_be_added(shopkeeper, zhou, soap_out_of_stock):
    page = shopkeeper.get(f"/shop/household/{zhou.id}").text
    item = re.search(r'<li class="good[^"]*sold-out[^"]*".*?</li>', page, re.S).group(0)
    assert "Out of stock" in item
    assert re.search(r"data-plus[^>]*disabled", item)
    assert re.search(r'name="qty-\d+"[^>]*max="0"', item)


def test_my_page_does_not_offer_a_sold_out_good(
    client, make_user, zhou, soap_out_of_stock, english_oil
):
    from app.auth.models import HOUSEHOLD

    make_user(HOUSEHOLD, household=zhou, username="zhou")
    log_in(client, "zhou", english=True)
    page = client.get("/my").text
    soap_item = re.search(
        r"<li class=\"good[^\"]*\">\s*<span class=\"good-name\">Soap.*?</li>", page, re.S
    )
    assert soap_item and "Out of stock" in soap_item.group(0)
    assert "You can afford this" not in soap_item.group(0)
    oil_item = re.search(r"<span class=\"good-name\">Cooking oil.*?</li>", page, re.S).group(0)
    assert "You can afford this" in oil_item


# Receipts ---------------------------------------------------------------------------------


def test_the_receipt_opens_with_the_print_button_focused(shopkeeper, zhou, english_oil):
    location = redeem_from(shopkeeper, f"/shop/household/{zhou.id}", {f"qty-{english_oil.id}": "1"})
    location = urlsplit(location).path  # without the basket that made it
    page = shopkeeper.get(location).text
    assert re.search(r"<button[^>]*data-print[^>]*autofocus", page)
    assert "Print receipt" in page
    assert "data-receipt-sheet" in page and "css/receipt-58." in page
    assert "css/receipt-58." not in shopkeeper.get(location + "?paper=a4").text


def test_the_latest_receipts_show_the_masked_name_and_a_reprint(shopkeeper, zhou, english_oil):
    location = redeem_from(shopkeeper, f"/shop/household/{zhou.id}", {f"qty-{english_oil.id}": "1"})
    location = urlsplit(location).path  # without the basket that made it
    page = shopkeeper.get("/shop").text
    assert "周*顺" in page
    assert "周长顺" not in page
    assert f'href="{location}?print=1"' in page


# Staff at the door -------------------------------------------------------------------------


def door(client, household) -> str:
    return client.get(f"/q/{make_token(household)}").text


def test_an_inspector_at_the_door_is_offered_the_grade_form(client, make_user, zhou):
    make_user(INSPECTOR, username="jiancha")
    log_in(client, "jiancha", english=True)
    page = door(client, zhou)
    assert f'href="/inspect/household/{zhou.id}"' in page
    assert "data-staff-redeem" not in page


def test_a_storekeeper_at_the_door_is_offered_the_basket(shopkeeper, zhou):
    page = door(shopkeeper, zhou)
    assert f'href="/shop/household/{zhou.id}"' in page
    assert "data-staff-grade" not in page


def test_the_public_and_other_villages_get_the_public_door(client, make_user, zhou, other_village):
    assert "data-staff-actions" not in door(client, zhou)
    make_user(INSPECTOR, of=other_village, username="elsewhere")
    log_in(client, "elsewhere", english=True)
    assert "data-staff-actions" not in door(client, zhou)
