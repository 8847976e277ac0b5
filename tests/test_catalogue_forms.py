"""The catalogue's page forms are the API's actions: same schema, same function, once per key.

The add-a-good form and the stock page's restock, count, write-off and on/off-sale
forms carry a key made when the page was shown; a resent form replays its first
answer and moves the stock once. Their fields are checked by the API's schemas, so
the page and the API refuse the same input, and text with a NUL byte or a hidden
formatting character is a readable 422 page, never stored.
"""

import io
import re

import pytest
from sqlalchemy import select
from testsupport import (
    assert_problem,
    count,
    csrf_token,
    log_in,
    movements_of,
    page_post,
    png_bytes,
    stock_of,
)

from app.audit.models import AuditEvent
from app.catalogue.models import Good, StockMovement
from app.db import db

# Text no form may store: a NUL byte, and a right-to-left override that would
# show "gpj.exe" as "exe.jpg".
HIDDEN = {"nul": "bad\x00text", "bidi": "evil\u202etxt"}


@pytest.fixture
def shop_page(client, storekeeper):
    log_in(client, "storekeeper", english=True)
    return client


def form_key(page, good: Good, action: str) -> str:
    """Return the key the stock page put in one of its forms."""
    match = re.search(
        rf'action="/admin/goods/{good.id}/{action}"[^>]*>\s*'
        r'<input type="hidden" name="csrf_token"[^>]*>\s*'
        r'<input type="hidden" name="key" value="([^"]+)">',
        page.text,
    )
    assert match, f"the {action} form carries no key"
    return match.group(1)


def post_form(client, path: str, fields: dict, key: str):
    return client.post(path, data={**fields, "key": key, "csrf_token": csrf_token(client)})


def stored() -> tuple[int, int, int]:
    """What a refused form must not change: goods, stock movements, audit events."""
    return count(Good), count(StockMovement), count(AuditEvent)


# A resent form moves the stock once --------------------------------------------------------

RESENT = [
    ("restock", {"quantity": "4", "supplier": "供销社", "note": "一箱"}, 14),
    ("stocktake", {"counted": "7", "reason": "月底盘点"}, 7),
    ("writeoff", {"quantity": "2", "reason": "受潮"}, 8),
]


@pytest.mark.parametrize(("action", "fields", "after"), RESENT, ids=[r[0] for r in RESENT])
def test_a_resent_stock_form_moves_the_stock_once(shop_page, soap, action, fields, after):
    key = form_key(shop_page.get(f"/admin/goods/{soap.id}"), soap, action)
    path = f"/admin/goods/{soap.id}/{action}"

    first = post_form(shop_page, path, fields, key)
    again = post_form(shop_page, path, fields, key)

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stock_of(soap.id) == after
    assert len(movements_of(soap.id)) == 2  # the opening stock, and this form's
    assert "Saved." in shop_page.get(first.headers["Location"]).text


def test_a_resent_count_does_not_undo_what_was_sold_since(shop_page, soap, client):
    key = form_key(shop_page.get(f"/admin/goods/{soap.id}"), soap, "stocktake")
    path = f"/admin/goods/{soap.id}/stocktake"
    post_form(shop_page, path, {"counted": "7", "reason": "盘点"}, key)
    writeoff_key = form_key(shop_page.get(f"/admin/goods/{soap.id}"), soap, "writeoff")
    post_form(
        shop_page,
        f"/admin/goods/{soap.id}/writeoff",
        {"quantity": "1", "reason": "破损"},
        writeoff_key,
    )

    again = post_form(shop_page, path, {"counted": "7", "reason": "盘点"}, key)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert stock_of(soap.id) == 6


def test_a_resent_off_sale_form_does_not_put_the_good_back(shop_page, soap):
    page = shop_page.get(f"/admin/goods/{soap.id}")
    key = form_key(page, soap, "active")
    assert 'name="active" value="false"' in page.text

    first = post_form(shop_page, f"/admin/goods/{soap.id}/active", {"active": "false"}, key)
    again = post_form(shop_page, f"/admin/goods/{soap.id}/active", {"active": "false"}, key)

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(Good.active).where(Good.id == soap.id)) is False
    assert "Put on sale" in shop_page.get(f"/admin/goods/{soap.id}").text


def test_a_resent_add_a_good_form_adds_it_once(shop_page, village):
    fields = {"name": "毛巾", "unit": "条", "price_points": "3", "stock": "12"}

    first = post_form(shop_page, "/admin/goods", fields, "add-1")
    again = post_form(shop_page, "/admin/goods", fields, "add-1")

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(Good) == 1
    assert count(StockMovement) == 1


def test_each_stock_form_has_a_key_of_its_own(shop_page, soap):
    page = shop_page.get(f"/admin/goods/{soap.id}")

    keys = [
        form_key(page, soap, action) for action in ("active", "restock", "stocktake", "writeoff")
    ]

    assert len(set(keys)) == 4
    assert form_key(shop_page.get(f"/admin/goods/{soap.id}"), soap, "restock") not in keys


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/admin/goods", {"name": "毛巾", "unit": "条", "price_points": "3"}),
        ("restock", {"quantity": "4"}),
        ("stocktake", {"counted": "7", "reason": "盘点"}),
        ("writeoff", {"quantity": "2", "reason": "受潮"}),
        ("active", {"active": "false"}),
    ],
)
def test_a_form_without_its_key_changes_nothing(shop_page, soap, path, fields):
    if not path.startswith("/"):
        path = f"/admin/goods/{soap.id}/{path}"
    before = stored()

    response = shop_page.post(path, data={**fields, "csrf_token": csrf_token(shop_page)})

    assert response.status_code == 400
    assert "The form expired" in response.text
    assert stored() == before
    assert db.session.scalar(select(Good.active).where(Good.id == soap.id)) is True


# Hidden characters in any text field -------------------------------------------------------

TEXT_FIELDS = [
    ("goods", "name"),
    ("goods", "unit"),
    ("goods", "category"),
    ("goods", "supplier"),
    ("restock", "supplier"),
    ("restock", "note"),
    ("stocktake", "reason"),
    ("writeoff", "reason"),
]
VALID = {
    "goods": {"name": "毛巾", "unit": "条", "price_points": "3", "stock": "5"},
    "restock": {"quantity": "4"},
    "stocktake": {"counted": "7", "reason": "盘点"},
    "writeoff": {"quantity": "2", "reason": "受潮"},
}


@pytest.mark.parametrize("text", HIDDEN.values(), ids=list(HIDDEN))
@pytest.mark.parametrize(("form", "field"), TEXT_FIELDS, ids=[f"{f}-{n}" for f, n in TEXT_FIELDS])
def test_hidden_characters_in_a_text_field_are_a_readable_422(shop_page, soap, form, field, text):
    path = "/admin/goods" if form == "goods" else f"/admin/goods/{soap.id}/{form}"
    before = stored()

    response = page_post(shop_page, path, {**VALID[form], field: text})

    assert response.status_code == 422
    assert response.mimetype == "text/html"
    assert "Please check" in response.text
    assert "Remove the control or invisible characters." in response.text
    assert text not in response.text
    assert stored() == before
    assert stock_of(soap.id) == 10


def test_the_refusal_is_in_the_readers_language(client, storekeeper, soap):
    log_in(client, "storekeeper")  # Chinese pages

    response = page_post(client, f"/admin/goods/{soap.id}/stocktake", {"counted": "7"})

    assert response.status_code == 422
    assert "请检查：原因: 必须填写。" in response.text
    assert stock_of(soap.id) == 10


# The page and the API refuse the same input ------------------------------------------------

SAME_REFUSALS = [
    # (form, page fields, API body, the field refused)
    ("goods", {"price_points": "0"}, {"price_points": 0}, "price_points"),
    ("goods", {"price_points": "2.5"}, {"price_points": 2.5}, "price_points"),
    ("goods", {"name": "x" * 101}, {"name": "x" * 101}, "name"),
    ("goods", {"stock": "-1"}, {"stock": -1}, "stock"),
    ("goods", {"stock": "1000001"}, {"stock": 1_000_001}, "stock"),
    ("restock", {"quantity": "0"}, {"quantity": 0}, "quantity"),
    ("restock", {"quantity": "1000001"}, {"quantity": 1_000_001}, "quantity"),
    ("restock", {"quantity": "999999"}, {"quantity": 999_999}, "quantity"),  # over the ceiling
    ("stocktake", {"reason": ""}, {"reason": ""}, "reason"),
    ("stocktake", {"counted": "-1"}, {"counted": -1}, "counted"),
    ("writeoff", {"quantity": "²"}, {"quantity": "²"}, "quantity"),
    ("writeoff", {"reason": "x" * 501}, {"reason": "x" * 501}, "reason"),
]
API_BODY = {
    "goods": {"name": "毛巾", "unit": "条", "price_points": 3, "stock": 5},
    "restock": {"quantity": 4},
    "stocktake": {"counted": 7, "reason": "盘点"},
    "writeoff": {"quantity": 2, "reason": "受潮"},
}


@pytest.mark.parametrize(
    ("form", "page_fields", "api_fields", "field"),
    SAME_REFUSALS,
    ids=[f"{r[0]}-{r[3]}-{i}" for i, r in enumerate(SAME_REFUSALS)],
)
def test_the_page_and_the_api_refuse_the_same_input(
    client, shop_page, storekeeper_headers, soap, form, page_fields, api_fields, field
):
    page_path = "/admin/goods" if form == "goods" else f"/admin/goods/{soap.id}/{form}"
    api_path = "/api/v1/goods" if form == "goods" else f"/api/v1/goods/{soap.id}/{form}"
    before = stored()

    page = page_post(shop_page, page_path, {**VALID[form], **page_fields})
    api = client.post(api_path, json={**API_BODY[form], **api_fields}, headers=storekeeper_headers)

    assert page.status_code == 422
    assert "Please check" in page.text
    body = assert_problem(api, 422, "validation_error")
    assert field in body["errors"]
    assert stored() == before
    assert stock_of(soap.id) == 10


def test_a_name_taken_is_refused_alike_and_said_in_the_readers_language(
    client, storekeeper, storekeeper_headers, soap
):
    log_in(client, "storekeeper")  # Chinese pages
    fields = {"name": soap.name, "unit": "块", "price_points": "3"}

    page = page_post(client, "/admin/goods", fields)
    api = client.post(
        "/api/v1/goods",
        json={**fields, "price_points": 3},
        headers=storekeeper_headers,
    )

    assert page.status_code == 422
    assert "这个名称已经有了。" in page.text
    assert "name" in assert_problem(api, 422, "validation_error")["errors"]
    assert count(Good) == 1


def test_writing_off_more_than_the_shelf_holds_is_out_of_stock_on_both(
    client, storekeeper, storekeeper_headers, soap
):
    log_in(client, "storekeeper")  # Chinese pages

    page = page_post(
        client, f"/admin/goods/{soap.id}/writeoff", {"quantity": "11", "reason": "没了"}
    )
    api = client.post(
        f"/api/v1/goods/{soap.id}/writeoff",
        json={"quantity": 11, "reason": "没了"},
        headers=storekeeper_headers,
    )

    assert page.status_code == 302
    assert "refused=out_of_stock" in page.headers["Location"]
    assert "货架上没有这么多。" in client.get(page.headers["Location"]).text
    # Only codes it knows: never text from the query string.
    made_up = client.get(f"/admin/goods/{soap.id}?refused=<b>call+110</b>&message=call+110")
    assert "call 110" not in made_up.text
    assert_problem(api, 409, "out_of_stock")
    assert stock_of(soap.id) == 10


# Adding and editing a good, its cost in yuan, its picture, its price history ---------------


def test_a_good_is_added_with_its_cost_in_yuan_and_a_picture(shop_page, village):
    fields = {"name": "毛巾", "unit": "条", "price_points": "3", "cost_yuan": "4.5"}
    picture = (io.BytesIO(png_bytes()), "towel.png")

    added = shop_page.post(
        "/admin/goods",
        data={
            **fields,
            "picture": picture,
            "key": "add-towel",
            "csrf_token": csrf_token(shop_page),
        },
        content_type="multipart/form-data",
    )

    assert added.status_code == 302
    good = db.session.scalar(select(Good).where(Good.name == "毛巾"))
    assert good.cost_cents == 450 and good.has_picture
    assert "4.50" in shop_page.get("/admin/goods").text
    assert "This good has a picture." in shop_page.get(f"/admin/goods/{good.id}").text


def test_the_edit_form_changes_price_cost_name_and_unit_through_the_api_action(shop_page, soap):
    key = form_key(shop_page.get(f"/admin/goods/{soap.id}"), soap, "edit")
    fields = {
        "name": "硫磺皂",
        "unit": "盒",
        "price_points": "8",
        "cost_yuan": "2.30",
        "low_stock": "3",
    }

    first = post_form(shop_page, f"/admin/goods/{soap.id}/edit", fields, key)
    again = post_form(shop_page, f"/admin/goods/{soap.id}/edit", fields, key)

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    good = db.session.get(Good, soap.id)
    db.session.refresh(good)
    assert (good.name, good.unit, good.price_points, good.cost_cents) == ("硫磺皂", "盒", 8, 230)
    assert stock_of(soap.id) == 10  # the stock moves only by movements
    edited = [e for e in db.session.scalars(select(AuditEvent)) if e.action == "good_updated"]
    assert len(edited) == 1


def test_a_cost_that_is_not_yuan_is_refused_by_name(shop_page, soap):
    key = form_key(shop_page.get(f"/admin/goods/{soap.id}"), soap, "edit")
    before = stored()

    refused = post_form(
        shop_page, f"/admin/goods/{soap.id}/edit", {"name": "肥皂", "cost_yuan": "3元5"}, key
    )

    assert refused.status_code == 422
    assert "Cost of one unit (yuan): Enter an amount in yuan, such as 3.50." in refused.text
    assert stored() == before


def test_a_restock_with_a_unit_cost_in_yuan_sets_the_cost_and_shows_in_the_price_history(
    shop_page, soap
):
    key = form_key(shop_page.get(f"/admin/goods/{soap.id}"), soap, "restock")
    post_form(
        shop_page,
        f"/admin/goods/{soap.id}/restock",
        {"quantity": "5", "unit_cost_yuan": "1.8"},
        key,
    )
    key = form_key(shop_page.get(f"/admin/goods/{soap.id}"), soap, "edit")
    post_form(shop_page, f"/admin/goods/{soap.id}/edit", {"price_points": "6"}, key)

    page = shop_page.get(f"/admin/goods/{soap.id}").text
    history = page[page.index("data-price-history") : page.index("Stock movements")]

    assert db.session.scalar(select(Good.cost_cents).where(Good.id == soap.id)) == 180
    assert stock_of(soap.id) == 15
    rows = re.findall(r"<tr><td>.*?</tr>", history, re.S)
    assert len(rows) == 3  # newest first: the new price, the restock's cost, the opening
    assert "Edited" in rows[0] and ">6<" in rows[0]
    assert "Restock with a unit cost" in rows[1] and "1.80" in rows[1]
    assert "Added to the catalogue" in rows[2] and ">5<" in rows[2]
    assert "1.80 yuan a unit" in page


def test_a_picture_that_is_not_an_image_is_refused_on_the_page(shop_page, soap):
    page = shop_page.get(f"/admin/goods/{soap.id}")

    refused = shop_page.post(
        f"/admin/goods/{soap.id}/edit",
        data={
            "name": "肥皂",
            "price_points": "9",
            "picture": (io.BytesIO(b"not a picture"), "soap.png"),
            "key": form_key(page, soap, "edit"),
            "csrf_token": csrf_token(shop_page),
        },
        content_type="multipart/form-data",
    )

    assert refused.status_code == 422
    assert "not a readable photo" in refused.text
    assert db.session.scalar(select(Good.price_points).where(Good.id == soap.id)) == 5
