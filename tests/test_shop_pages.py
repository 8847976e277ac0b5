"""The storekeeper's pages through a logged-in browser session (Flask test client)."""

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from testsupport import balance_of, csrf_token, key_of, log_in, movements_of, stock_of

from app.auth.models import HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.catalogue import services as catalogue
from app.catalogue.models import Good
from app.checks import verify_all
from app.db import db
from app.households.cards import card_payload, make_token
from app.households.services import reissue_card
from app.redemptions.models import Redemption

GOOD_ITEM = re.compile(r'<li class="(good[^"]*)"[^>]*>\s*<span class="good-name">([^<]+?) <span')
RECEIPT_PATH = re.compile(r"^/shop/receipts/(\d+)$")


def redemptions() -> int:
    return db.session.scalar(select(func.count(Redemption.id)))


pytestmark = pytest.mark.usefixtures("photo_folder")


@pytest.fixture
def shop_tablet(client, storekeeper):
    """The shop's tablet: logged in, pages in English (the texts asserted below)."""
    log_in(client, "storekeeper", english=True)
    return client


@pytest.fixture
def english_soap(make_good):
    """Soap with an English name, as the English pages show it."""
    return make_good("Soap", price=5, stock=10, unit="bar")


@pytest.fixture
def english_oil(make_good):
    return make_good("Cooking oil", price=12, stock=3, unit="bottle")


def basket_form(shop_tablet, household, quantities, *, key=None):
    """Open the basket, then post its form with the chosen quantities per good."""
    if key is None:
        key = key_of(shop_tablet.get(f"/shop/household/{household.id}"))
    data = {"key": key, **{f"qty-{good.id}": str(q) for good, q in quantities.items()}}
    return shop_tablet.post(
        f"/shop/household/{household.id}", data={**data, "csrf_token": csrf_token(shop_tablet)}
    )


def receipt_id_of(response) -> int:
    assert response.status_code == 302, response.text
    match = RECEIPT_PATH.match(urlsplit(response.headers["Location"]).path)
    assert match, response.headers["Location"]
    return int(match.group(1))


# The counter ------------------------------------------------------------------------------


def test_the_counter_renders_with_the_scanner(shop_tablet):
    response = shop_tablet.get("/shop")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Scan a card" in response.text
    assert "data-start" in response.text
    assert "static/js/scanner." in response.text
    assert 'capture="environment"' in response.text


def test_the_counter_renders_in_chinese_by_default(client, storekeeper):
    log_in(client, "storekeeper")

    response = client.get("/shop")

    assert response.status_code == 200
    assert 'lang="zh' in response.text
    assert "static/js/scanner." in response.text


def test_the_counter_sends_anonymous_users_to_the_login(client):
    response = client.get("/shop")

    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/shop"]


def test_a_scanned_card_opens_the_basket(shop_tablet, household):
    response = shop_tablet.get("/shop/card", query_string={"payload": card_payload(household)})

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/shop/household/{household.id}"


def test_a_bare_token_opens_the_basket_too(shop_tablet, household):
    response = shop_tablet.get("/shop/card", query_string={"payload": make_token(household)})

    assert urlsplit(response.headers["Location"]).path == f"/shop/household/{household.id}"


@pytest.mark.parametrize(
    "payload", ["garbage", "", "http://evil.example/q/" + "A" * 27, "x" * 5000]
)
def test_garbage_goes_back_to_the_counter_with_a_message(shop_tablet, payload):
    response = shop_tablet.get(
        "/shop/card", query_string={"payload": payload}, follow_redirects=True
    )

    assert response.status_code == 200
    assert response.request.path == "/shop"
    assert "That is not a valid card of this village." in response.text


def test_a_replaced_card_goes_back_with_its_own_message(shop_tablet, household):
    old = card_payload(household)
    reissue_card(household, actor_id=None, reason="lost")
    db.session.commit()

    response = shop_tablet.get("/shop/card", query_string={"payload": old}, follow_redirects=True)

    assert response.request.path == "/shop"
    assert "This card was replaced by a newer one." in response.text


def test_another_villages_card_is_not_valid_here(shop_tablet, make_village, make_household):
    stranger = make_household(of=make_village("李庄村", "LZ"), name="李四")

    response = shop_tablet.get(
        "/shop/card", query_string={"payload": card_payload(stranger)}, follow_redirects=True
    )

    assert "That is not a valid card of this village." in response.text
    assert shop_tablet.get(f"/shop/household/{stranger.id}").status_code == 404


# The basket -------------------------------------------------------------------------------


def test_the_basket_shows_the_balance_and_greys_what_is_too_dear(
    shop_tablet, make_household, make_good
):
    household = make_household(points=10, name="王秀兰")
    make_good("Matches", price=2)
    make_good("Rice", price=10)
    make_good("Kettle", price=11)

    response = shop_tablet.get(f"/shop/household/{household.id}")

    assert response.status_code == 200
    assert "王秀兰" in response.text
    assert re.search(r"data-balance>\s*10\s*<", response.text)
    classes = {name: css.split() for css, name in GOOD_ITEM.findall(response.text)}
    assert set(classes) == {"Matches", "Rice", "Kettle"}
    assert "unaffordable" in classes["Kettle"]
    assert "unaffordable" not in classes["Rice"]
    assert "unaffordable" not in classes["Matches"]
    assert 'name="qty-' in response.text
    assert "static/js/basket." in response.text
    assert key_of(response)


def test_each_basket_page_has_a_fresh_key(shop_tablet, household):
    first = key_of(shop_tablet.get(f"/shop/household/{household.id}"))
    second = key_of(shop_tablet.get(f"/shop/household/{household.id}"))

    assert first != second


def test_goods_taken_off_sale_are_not_in_the_basket(
    shop_tablet, household, english_soap, english_oil
):
    assert (
        shop_tablet.post(
            f"/admin/goods/{english_oil.id}/active",
            data={"key": uuid.uuid4().hex, "csrf_token": csrf_token(shop_tablet)},
        ).status_code
        == 302
    )

    names = [
        name
        for _, name in GOOD_ITEM.findall(shop_tablet.get(f"/shop/household/{household.id}").text)
    ]
    assert names == ["Soap"]


def test_redeeming_the_basket_goes_to_the_receipt(
    shop_tablet, village, storekeeper, make_household, english_soap, english_oil
):
    household = make_household(points=50, name="王秀兰")

    response = basket_form(shop_tablet, household, {english_soap: 2, english_oil: 1})

    redemption_id = receipt_id_of(response)
    assert balance_of(household.id) == 28
    assert (stock_of(english_soap.id), stock_of(english_oil.id)) == (8, 2)
    redemption = db.session.get(Redemption, redemption_id)
    assert redemption.storekeeper_id == storekeeper.id

    page = shop_tablet.get(response.headers["Location"])
    assert page.status_code == 200
    assert redemption.receipt_no in page.text
    assert re.fullmatch(r"MZ-\d{4}-000001", redemption.receipt_no)
    assert village.name in page.text
    assert f"Storekeeper {storekeeper.username}" in page.text
    assert "王秀兰" in page.text
    assert "Soap" in page.text and "Cooking oil" in page.text
    assert re.search(
        r"<td>Soap</td><td class=\"num\">2 bar</td><td class=\"num\">10</td>", page.text
    )
    assert re.search(r"data-total>22<", page.text)
    assert "Balance before 50" in page.text
    assert re.search(r"data-balance-after>28<", page.text)
    assert verify_all().ok


def test_the_receipt_prints_on_58_mm_and_a4(shop_tablet, make_household, english_soap):
    household = make_household(points=50)
    location = urlsplit(
        basket_form(shop_tablet, household, {english_soap: 1}).headers["Location"]
    ).path

    assert "paper-58" in shop_tablet.get(location).text
    assert "paper-58" in shop_tablet.get(location + "?paper=58").text
    assert "paper-a4" in shop_tablet.get(location + "?paper=a4").text


def test_the_same_form_twice_redeems_once(shop_tablet, make_household, english_soap):
    household = make_household(points=50)
    key = key_of(shop_tablet.get(f"/shop/household/{household.id}"))

    first = basket_form(shop_tablet, household, {english_soap: 3}, key=key)
    again = basket_form(shop_tablet, household, {english_soap: 3}, key=key)

    assert receipt_id_of(first) == receipt_id_of(again)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert balance_of(household.id) == 35
    assert stock_of(english_soap.id) == 7
    assert redemptions() == 1


def test_a_basket_resent_with_other_goods_shows_the_receipt_it_made(
    shop_tablet, make_household, english_soap
):
    """Its answer was lost, the basket was changed, then sent again: nothing more is charged."""
    household = make_household(points=50)
    key = key_of(shop_tablet.get(f"/shop/household/{household.id}"))
    first = basket_form(shop_tablet, household, {english_soap: 1}, key=key)

    again = basket_form(shop_tablet, household, {english_soap: 2}, key=key)

    assert receipt_id_of(again) == receipt_id_of(first)
    page = shop_tablet.get(again.headers["Location"])
    assert "This basket was redeemed already: here is its receipt." in page.text
    assert balance_of(household.id) == 45
    assert redemptions() == 1


def test_the_receipt_names_the_basket_that_made_it(shop_tablet, make_household, english_soap):
    """So that the page closes that basket: Back opens an empty one."""
    household = make_household(points=50)
    key = key_of(shop_tablet.get(f"/shop/household/{household.id}"))

    location = basket_form(shop_tablet, household, {english_soap: 1}, key=key).headers["Location"]

    assert parse_qs(urlsplit(location).query)["basket"] == [key]
    assert f'data-basket-key="{key}"' in shop_tablet.get(location).text


def test_a_refused_basket_is_told_its_key_is_spent(
    shop_tablet, make_household, english_soap, english_oil
):
    """A refusal is kept with the key: the basket sends its next try under a new one."""
    household = make_household(points=20)
    key = key_of(shop_tablet.get(f"/shop/household/{household.id}"))

    refused = basket_form(shop_tablet, household, {english_soap: 1, english_oil: 2}, key=key)

    assert parse_qs(urlsplit(refused.headers["Location"]).query)["basket"] == [key]
    assert f'data-spent-key="{key}"' in shop_tablet.get(refused.headers["Location"]).text
    assert f'data-spent-key="{key}"' not in shop_tablet.get(f"/shop/household/{household.id}").text


def test_an_over_budget_basket_comes_back_with_a_message(
    shop_tablet, make_household, english_soap, english_oil
):
    household = make_household(points=20)

    response = basket_form(shop_tablet, household, {english_soap: 1, english_oil: 2})

    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/shop/household/{household.id}"
    page = shop_tablet.get(response.headers["Location"])
    # Issue 15: the refusal says by how much (5 + 2 × 12 = 29 for 20 points).
    assert "Not enough points: 9 more points needed." in page.text
    assert balance_of(household.id) == 20
    assert (stock_of(english_soap.id), stock_of(english_oil.id)) == (10, 3)
    assert redemptions() == 0


def test_a_basket_with_more_than_the_shelf_comes_back_with_a_message(
    shop_tablet, make_household, english_oil
):
    household = make_household(points=500)

    response = basket_form(
        shop_tablet,
        household,
        {english_oil: 4},
    )
    page = shop_tablet.get(response.headers["Location"])

    # Issue 15: the refusal names the good and what is left.
    assert "Not enough in stock: Cooking oil: only 3 bottle left" in page.text
    assert balance_of(household.id) == 500
    assert stock_of(english_oil.id) == 3


def test_an_empty_basket_asks_for_a_good(shop_tablet, make_household, english_soap):
    household = make_household(points=50)

    response = basket_form(shop_tablet, household, {english_soap: 0})

    assert response.status_code == 422
    assert "Choose at least one good." in response.text
    assert redemptions() == 0


def test_a_form_without_its_key_is_refused(shop_tablet, make_household, english_soap):
    household = make_household(points=50)

    response = shop_tablet.post(
        f"/shop/household/{household.id}",
        data={f"qty-{english_soap.id}": "1", "csrf_token": csrf_token(shop_tablet)},
    )

    assert response.status_code == 400
    assert "The form expired" in response.text
    assert balance_of(household.id) == 50


def test_a_good_taken_off_sale_meanwhile_comes_back_with_a_message(
    shop_tablet, make_household, english_soap
):
    household = make_household(points=50)
    key = key_of(shop_tablet.get(f"/shop/household/{household.id}"))
    catalogue.update_good(english_soap, {"active": False})
    db.session.commit()

    response = basket_form(shop_tablet, household, {english_soap: 1}, key=key)

    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert balance_of(household.id) == 50
    assert stock_of(english_soap.id) == 10


@pytest.mark.parametrize(
    "field, value",
    [
        ("qty-{id}", "²"),  # a digit to str.isdigit(), not to int()
        ("qty-{id}", "-1"),
        ("qty-{id}", "1.5"),
        ("qty-{id}", "9" * 30),
        ("qty-²", "1"),
        ("qty-" + "9" * 30, "1"),
        ("qty-99999", "1"),
    ],
)
def test_a_tampered_form_never_breaks_the_page(
    shop_tablet, make_household, english_soap, field, value
):
    household = make_household(points=50)
    key = key_of(shop_tablet.get(f"/shop/household/{household.id}"))

    response = shop_tablet.post(
        f"/shop/household/{household.id}",
        data={
            "key": key,
            field.format(id=english_soap.id): value,
            "csrf_token": csrf_token(shop_tablet),
        },
    )

    assert response.status_code < 500, response.text
    db.session.rollback()
    assert balance_of(household.id) + 5 * (10 - stock_of(english_soap.id)) == 50


@pytest.mark.parametrize("length", [59, 60, 64, 65])
def test_a_long_key_never_breaks_the_page(shop_tablet, make_household, english_soap, length):
    household = make_household(points=50)

    response = basket_form(shop_tablet, household, {english_soap: 1}, key="k" * length)

    # The stored key is "page:" + key, and it must fit the 64 characters of its column.
    assert response.status_code == (302 if length <= 59 else 400), response.text
    assert balance_of(household.id) == (45 if length <= 59 else 50)


def test_the_receipt_cancel_form_gives_points_back(
    shop_tablet, make_household, english_soap, english_oil
):
    household = make_household(points=50)
    redemption_id = receipt_id_of(
        basket_form(shop_tablet, household, {english_soap: 2, english_oil: 1})
    )
    page = shop_tablet.get(f"/shop/receipts/{redemption_id}")
    assert f'action="/shop/receipts/{redemption_id}/cancel"' in page.text

    response = shop_tablet.post(
        f"/shop/receipts/{redemption_id}/cancel",
        data={"reason": "拿错了", "key": key_of(page), "csrf_token": csrf_token(shop_tablet)},
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/shop/receipts/{redemption_id}"
    assert balance_of(household.id) == 50
    assert (stock_of(english_soap.id), stock_of(english_oil.id)) == (10, 3)
    after = shop_tablet.get(f"/shop/receipts/{redemption_id}")
    assert "data-cancelled" in after.text
    assert "拿错了" in after.text
    assert f'action="/shop/receipts/{redemption_id}/cancel"' not in after.text

    # A second post from an old tab (another key) changes nothing and says why.
    again = shop_tablet.post(
        f"/shop/receipts/{redemption_id}/cancel",
        data={"reason": "again", "key": "old-tab", "csrf_token": csrf_token(shop_tablet)},
    )
    assert again.status_code == 302
    assert "refused=already_reversed" in again.headers["Location"]
    assert balance_of(household.id) == 50
    assert stock_of(english_soap.id) == 10
    assert [m.kind for m in movements_of(english_soap.id)] == ["restock", "redemption", "cancel"]
    assert verify_all().ok


def test_a_cancel_without_a_reason_changes_nothing(shop_tablet, make_household, english_soap):
    household = make_household(points=50)
    redemption_id = receipt_id_of(basket_form(shop_tablet, household, {english_soap: 1}))

    response = shop_tablet.post(
        f"/shop/receipts/{redemption_id}/cancel",
        data={"reason": "  ", "key": "k1", "csrf_token": csrf_token(shop_tablet)},
    )

    assert response.status_code == 422
    assert "data-message" in response.text
    assert balance_of(household.id) == 45
    assert stock_of(english_soap.id) == 9


def test_the_counter_lists_the_latest_receipts(shop_tablet, make_household, english_soap):
    household = make_household(points=50)
    redemption_id = receipt_id_of(basket_form(shop_tablet, household, {english_soap: 1}))
    receipt_no = db.session.get(Redemption, redemption_id).receipt_no

    page = shop_tablet.get("/shop")

    assert receipt_no in page.text
    assert f"/shop/receipts/{redemption_id}" in page.text


def test_another_villages_receipt_is_not_found(
    client, make_village, make_user, make_household, shop_tablet, english_soap
):
    household = make_household(points=50)
    redemption_id = receipt_id_of(basket_form(shop_tablet, household, {english_soap: 1}))
    client.get("/logout")
    make_user(STOREKEEPER, of=make_village("李庄村", "LZ"), username="lizhuang")
    log_in(client, "lizhuang")

    assert client.get(f"/shop/receipts/{redemption_id}").status_code == 404
    client.post(
        f"/shop/receipts/{redemption_id}/cancel",
        data={"reason": "x", "csrf_token": csrf_token(client)},
    )
    assert balance_of(household.id) == 45


# The catalogue and stock pages ---------------------------------------------------------------


def test_the_catalogue_warns_of_goods_at_or_below_their_mark(shop_tablet, make_good):
    make_good("Soap", stock=5, low_stock=5)
    make_good("Candles", stock=2, low_stock=5)
    make_good("Rice", stock=6, low_stock=5)

    response = shop_tablet.get("/admin/goods")

    assert response.status_code == 200
    warning = re.search(r"<div[^>]*data-low-stock[^>]*>(.*?)</div>", response.text, re.S)
    assert warning, "no low-stock warning"
    assert "Soap" in warning.group(1)
    assert "Candles" in warning.group(1)
    assert "Rice" not in warning.group(1)
    assert "Rice" in response.text


def test_no_warning_when_the_shelves_are_full(shop_tablet, make_good):
    make_good("Rice", stock=50, low_stock=5)

    assert "data-low-stock" not in shop_tablet.get("/admin/goods").text


def test_adding_a_good_through_the_form(shop_tablet, village):
    response = shop_tablet.post(
        "/admin/goods",
        data={
            "name": "Towel",
            "unit": "piece",
            "price_points": "3",
            "stock": "12",
            "category": "Household",
            "key": uuid.uuid4().hex,
            "csrf_token": csrf_token(shop_tablet),
        },
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/admin/goods"
    good = db.session.scalar(select(Good).where(Good.name == "Towel"))
    assert (good.village_id, good.unit, good.price_points, good.stock, good.category) == (
        village.id,
        "piece",
        3,
        12,
        "Household",
    )
    assert [(m.kind, m.quantity) for m in movements_of(good.id)] == [("restock", 12)]
    assert "Towel" in shop_tablet.get("/admin/goods").text


@pytest.mark.parametrize(
    "change",
    [
        {"price_points": "0"},
        {"price_points": "2.5"},
        {"price_points": ""},
        {"name": ""},
        {"unit": " "},
        {"stock": "-1"},
        {"price_points": "²"},
    ],
)
def test_a_bad_good_form_comes_back_with_a_message(shop_tablet, change):
    data = {"name": "Towel", "unit": "piece", "price_points": "3", "stock": "1", **change}

    response = shop_tablet.post(
        "/admin/goods",
        data={**data, "key": uuid.uuid4().hex, "csrf_token": csrf_token(shop_tablet)},
    )

    assert response.status_code == 422
    assert "Please check" in response.text
    assert db.session.scalar(select(func.count(Good.id))) == 0


def test_a_name_taken_comes_back_with_a_message(shop_tablet, english_soap):
    response = shop_tablet.post(
        "/admin/goods",
        data={
            "name": "Soap",
            "unit": "bar",
            "price_points": "3",
            "key": uuid.uuid4().hex,
            "csrf_token": csrf_token(shop_tablet),
        },
    )

    assert response.status_code == 422
    assert 'role="alert"' in response.text
    assert db.session.scalar(select(func.count(Good.id))) == 1


def test_the_stock_page_restocks_and_lists_the_movement(shop_tablet, english_soap):
    response = shop_tablet.post(
        f"/admin/goods/{english_soap.id}/restock",
        data={
            "quantity": "24",
            "supplier": "Town co-op",
            "note": "one box",
            "key": uuid.uuid4().hex,
            "csrf_token": csrf_token(shop_tablet),
        },
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/admin/goods/{english_soap.id}"
    assert stock_of(english_soap.id) == 34
    page = shop_tablet.get(response.headers["Location"])
    assert "Saved." in page.text
    assert re.search(r"data-stock>34<", page.text)
    assert "Town co-op" in page.text
    assert "one box" in page.text
    assert "+24" in page.text
    latest = movements_of(english_soap.id)[-1]
    assert (latest.kind, latest.quantity, latest.supplier, latest.note) == (
        "restock",
        24,
        "Town co-op",
        "one box",
    )


def test_the_stock_page_records_a_stocktake_with_its_reason(shop_tablet, english_soap):
    shop_tablet.post(
        f"/admin/goods/{english_soap.id}/stocktake",
        data={
            "counted": "7",
            "reason": "monthly count",
            "key": uuid.uuid4().hex,
            "csrf_token": csrf_token(shop_tablet),
        },
    )

    assert stock_of(english_soap.id) == 7
    latest = movements_of(english_soap.id)[-1]
    assert (latest.kind, latest.quantity, latest.stock_after, latest.note) == (
        "stocktake",
        -3,
        7,
        "monthly count",
    )
    page = shop_tablet.get(f"/admin/goods/{english_soap.id}")
    assert "monthly count" in page.text
    assert "Stocktake" in page.text
    assert "-3" in page.text


def test_a_stocktake_without_a_reason_changes_nothing(shop_tablet, english_soap):
    response = shop_tablet.post(
        f"/admin/goods/{english_soap.id}/stocktake",
        data={"counted": "7", "key": uuid.uuid4().hex, "csrf_token": csrf_token(shop_tablet)},
        follow_redirects=True,
    )

    assert "Please check: Reason" in response.text
    assert stock_of(english_soap.id) == 10
    assert len(movements_of(english_soap.id)) == 1


def test_the_stock_page_writes_off_with_its_reason(shop_tablet, english_soap):
    shop_tablet.post(
        f"/admin/goods/{english_soap.id}/writeoff",
        data={
            "quantity": "2",
            "reason": "damp",
            "key": uuid.uuid4().hex,
            "csrf_token": csrf_token(shop_tablet),
        },
    )

    assert stock_of(english_soap.id) == 8
    latest = movements_of(english_soap.id)[-1]
    assert (latest.kind, latest.quantity, latest.note) == ("writeoff", -2, "damp")
    page = shop_tablet.get(f"/admin/goods/{english_soap.id}")
    assert "Written off" in page.text
    assert "damp" in page.text


def test_writing_off_more_than_the_shelf_holds_is_refused(shop_tablet, english_soap):
    response = shop_tablet.post(
        f"/admin/goods/{english_soap.id}/writeoff",
        data={
            "quantity": "11",
            "reason": "all gone",
            "key": uuid.uuid4().hex,
            "csrf_token": csrf_token(shop_tablet),
        },
        follow_redirects=True,
    )

    assert "There are not that many on the shelf." in response.text
    assert stock_of(english_soap.id) == 10


def test_taking_a_good_off_sale_and_back(shop_tablet, english_soap):
    shop_tablet.post(
        f"/admin/goods/{english_soap.id}/active",
        data={"key": uuid.uuid4().hex, "csrf_token": csrf_token(shop_tablet)},
    )
    assert db.session.get(Good, english_soap.id).active is False
    assert "Put on sale" in shop_tablet.get(f"/admin/goods/{english_soap.id}").text

    shop_tablet.post(
        f"/admin/goods/{english_soap.id}/active",
        data={"key": uuid.uuid4().hex, "csrf_token": csrf_token(shop_tablet)},
    )
    assert db.session.get(Good, english_soap.id).active is True


def test_an_unknown_stock_action_changes_nothing(shop_tablet, english_soap):
    response = shop_tablet.post(
        f"/admin/goods/{english_soap.id}/explode",
        data={"quantity": "3", "csrf_token": csrf_token(shop_tablet)},
    )

    assert response.status_code in (302, 404)
    assert stock_of(english_soap.id) == 10


# Who may open what ------------------------------------------------------------------------


def test_a_storekeeper_cannot_open_the_household_admin(shop_tablet):
    response = shop_tablet.get("/admin/households")

    assert response.status_code == 403
    assert response.mimetype == "text/html"


@pytest.mark.parametrize("role", [INSPECTOR, HOUSEHOLD])
def test_inspectors_and_households_cannot_open_the_shop(
    client, make_user, household, english_soap, role
):
    make_user(role, username="someone", household=household if role == HOUSEHOLD else None)
    log_in(client, "someone")

    for path in (
        "/shop",
        f"/shop/household/{household.id}",
        "/admin/goods",
        f"/admin/goods/{english_soap.id}",
    ):
        assert client.get(path).status_code == 403, path
    key = "k" * 32
    assert (
        client.post(
            f"/shop/household/{household.id}",
            data={"key": key, f"qty-{english_soap.id}": "1", "csrf_token": csrf_token(client)},
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/admin/goods/{english_soap.id}/restock",
            data={"quantity": "5", "csrf_token": csrf_token(client)},
        ).status_code
        == 403
    )
    assert stock_of(english_soap.id) == 10


def test_an_admin_may_run_the_shop(client, admin, make_household, english_soap):
    log_in(client, "admin")
    household = make_household(points=10)

    assert client.get("/shop").status_code == 200
    assert receipt_id_of(basket_form(client, household, {english_soap: 1}))
    assert balance_of(household.id) == 5
