"""Stock movements through the JSON API: restocks, stocktakes, write-offs."""

import pytest
from testsupport import assert_problem, movements_of, stock_of

from app.checks import verify_all

pytestmark = pytest.mark.usefixtures("photo_folder")

# Stock movements ----------------------------------------------------------------------------


def test_a_storekeeper_restocks_with_a_note_and_a_supplier(
    client, storekeeper, storekeeper_headers, soap
):
    response = client.post(
        f"/api/v1/goods/{soap.id}/restock",
        headers=storekeeper_headers,
        json={"quantity": 24, "note": "一箱", "supplier": "镇供销社"},
    )

    assert response.status_code == 200, response.text
    assert response.json["stock"] == 34
    latest = movements_of(soap.id)[-1]
    assert (
        latest.kind,
        latest.quantity,
        latest.stock_after,
        latest.note,
        latest.supplier,
        latest.actor_id,
    ) == ("restock", 24, 34, "一箱", "镇供销社", storekeeper.id)
    listed = client.get(f"/api/v1/goods/{soap.id}/movements", headers=storekeeper_headers)
    assert listed.status_code == 200
    assert [(m["kind"], m["quantity"], m["stock_after"]) for m in listed.json["items"]] == [
        ("restock", 24, 34),
        ("restock", 10, 10),
    ]


@pytest.mark.parametrize("quantity", [0, -4, 1.5, "3"])
def test_a_restock_adds_a_whole_number_of_units(client, storekeeper_headers, soap, quantity):
    assert_problem(
        client.post(
            f"/api/v1/goods/{soap.id}/restock",
            headers=storekeeper_headers,
            json={"quantity": quantity},
        ),
        422,
        "validation_error",
    )
    assert stock_of(soap.id) == 10
    assert len(movements_of(soap.id)) == 1


def test_a_stocktake_records_the_difference_and_its_reason(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/stocktake",
        headers=storekeeper_headers,
        json={"counted": 7, "reason": "月底盘点"},
    )

    assert response.status_code == 200, response.text
    assert response.json["stock"] == 7
    latest = movements_of(soap.id)[-1]
    assert (latest.kind, latest.quantity, latest.stock_after, latest.note) == (
        "stocktake",
        -3,
        7,
        "月底盘点",
    )

    upward = client.post(
        f"/api/v1/goods/{soap.id}/stocktake",
        headers=storekeeper_headers,
        json={"counted": 9, "reason": "找到两块"},
    )
    assert upward.json["stock"] == 9
    assert movements_of(soap.id)[-1].quantity == 2
    assert verify_all().ok


def test_a_stocktake_that_matches_records_nothing(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/stocktake",
        headers=storekeeper_headers,
        json={"counted": 10, "reason": "一致"},
    )

    assert response.status_code == 200
    assert len(movements_of(soap.id)) == 1


@pytest.mark.parametrize(
    "body", [{"counted": 3}, {"counted": 3, "reason": ""}, {"counted": -1, "reason": "x"}]
)
def test_a_stocktake_needs_a_count_and_a_reason(client, storekeeper_headers, soap, body):
    assert_problem(
        client.post(f"/api/v1/goods/{soap.id}/stocktake", headers=storekeeper_headers, json=body),
        422,
        "validation_error",
    )
    assert stock_of(soap.id) == 10


def test_a_write_off_records_its_reason(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/writeoff",
        headers=storekeeper_headers,
        json={"quantity": 2, "reason": "受潮"},
    )

    assert response.status_code == 200, response.text
    assert response.json["stock"] == 8
    latest = movements_of(soap.id)[-1]
    assert (latest.kind, latest.quantity, latest.stock_after, latest.note) == (
        "writeoff",
        -2,
        8,
        "受潮",
    )


def test_a_write_off_of_more_than_the_stock_is_refused(client, storekeeper_headers, soap):
    response = client.post(
        f"/api/v1/goods/{soap.id}/writeoff",
        headers=storekeeper_headers,
        json={"quantity": 11, "reason": "全坏了"},
    )

    body = assert_problem(response, 409, "out_of_stock")
    assert body["good_id"] == soap.id
    assert stock_of(soap.id) == 10
    assert len(movements_of(soap.id)) == 1


def test_a_write_off_needs_a_reason(client, storekeeper_headers, soap):
    assert_problem(
        client.post(
            f"/api/v1/goods/{soap.id}/writeoff", headers=storekeeper_headers, json={"quantity": 1}
        ),
        422,
        "validation_error",
    )
    assert stock_of(soap.id) == 10


def test_a_restock_replayed_under_its_key_adds_once(client, storekeeper_headers, soap):
    headers = {**storekeeper_headers, "Idempotency-Key": "restock-1"}
    first = client.post(f"/api/v1/goods/{soap.id}/restock", headers=headers, json={"quantity": 5})
    again = client.post(f"/api/v1/goods/{soap.id}/restock", headers=headers, json={"quantity": 5})

    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert stock_of(soap.id) == 15
