"""Nothing crosses villages: reports, exports, cards and goods of another village."""

import csv
import io
import re
from dataclasses import dataclass

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from testsupport import csrf_token

from app.auth.models import ADMIN, INSPECTOR, STOREKEEPER
from app.catalogue.models import Good
from app.catalogue.services import create_good
from app.db import db
from app.households.cards import card_payload
from app.households.models import Household
from app.inspections.services import record_inspection
from app.ledger.models import Journal
from app.ledger.services import household_account
from app.redemptions.models import Redemption
from app.redemptions.services import LineRequest, redeem_goods
from app.reports.exports import EXPORTS, FORMATS
from app.villages.models import Grid

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@dataclass
class Villages:
    h1: Household
    h2: Household
    good1: Good
    good2: Good
    receipt1: str
    card1: str
    headers: dict[str, dict[str, str]]
    user_ids: dict[str, int]


@pytest.fixture
def villages(village, make_village, make_household, make_user, token_for) -> Villages:
    """Village 1 with big, telltale figures; village 2 with small ones of its own."""
    other = make_village("白水村", "BS")
    h1 = make_household(name="钱多多", address="马庄村3组 银杏路17号", points=7391)
    h2 = make_household(of=other, name="孙小白", address="白水村1组 柳树路2号", points=40)
    users = {
        "admin1": make_user(ADMIN),
        "inspector1": make_user(INSPECTOR),
        "storekeeper1": make_user(STOREKEEPER),
        "admin2": make_user(ADMIN, of=other),
        "inspector2": make_user(INSPECTOR, of=other),
        "storekeeper2": make_user(STOREKEEPER, of=other),
    }
    good1 = create_good(village.id, name="竹炭牙刷", unit="支", price_points=2, stock=500)
    good2 = create_good(other.id, name="草木灰皂", unit="块", price_points=3, stock=50)
    record_inspection(h1, users["inspector1"], "A")
    record_inspection(h2, users["inspector2"], "B")
    receipt1 = redeem_goods(
        h1, users["storekeeper1"], [LineRequest(good1.id, 3)]
    ).redemption.receipt_no
    redeem_goods(h2, users["storekeeper2"], [LineRequest(good2.id, 1)])
    db.session.commit()
    return Villages(
        h1=h1,
        h2=h2,
        good1=good1,
        good2=good2,
        receipt1=receipt1,
        card1=card_payload(h1),
        headers={name: token_for(user) for name, user in users.items()},
        user_ids={name: user.id for name, user in users.items()},
    )


def village_one_marks(v: Villages) -> list[str]:
    return ["马庄村", v.h1.name, v.h1.code, v.good1.name, v.receipt1, "7391", "7388"]


def shown_marks(text: str, marks: list[str]) -> list[str]:
    """The marks that the text shows; numbers only as whole numbers."""
    return [m for m in marks if re.search(rf"(?<![\d.]){re.escape(m)}(?!\d)", text)]


def figures(v: Villages) -> dict[str, object]:
    """What a refused redemption or inspection must leave as it was."""
    return {
        "balances": [household_account(h.id).balance for h in (v.h1, v.h2)],
        "stock": [db.session.get_one(Good, g.id).stock for g in (v.good1, v.good2)],
        "journals": db.session.scalar(select(func.count()).select_from(Journal)),
        "redemptions": db.session.scalar(select(func.count()).select_from(Redemption)),
        "households": db.session.scalar(select(func.count()).select_from(Household)),
    }


def test_the_summary_counts_only_the_villages_own(client, villages):
    response = client.get("/api/v1/reports/summary", headers=villages.headers["admin2"])

    assert response.status_code == 200
    summary = response.get_json()
    assert summary["households"] == 1
    assert summary["inspections"] == 1
    assert summary["points_issued"] == 2
    assert summary["adjustments_net"] == 40
    assert summary["redemptions"] == 1
    assert summary["points_redeemed"] == 3
    assert summary["outstanding"] == 40 + 2 - 3
    assert [grid["grid_id"] for grid in summary["per_grid"]] == [villages.h2.grid_id]
    assert [good["name"] for good in summary["per_good"]] == ["草木灰皂"]
    assert [i["inspector_id"] for i in summary["per_inspector"]] == [
        villages.user_ids["inspector2"]
    ]
    assert shown_marks(response.text, village_one_marks(villages)) == []
    own = client.get("/api/v1/reports/summary", headers=villages.headers["admin1"]).get_json()
    assert own["outstanding"] == 7391 + 3 - 6


def export_text(response, fmt: str) -> str:
    if fmt == "csv":
        return "\n".join(",".join(row) for row in csv.reader(io.StringIO(response.text)))
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    return "\n".join(
        ",".join("" if value is None else str(value) for value in row)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_exports_hold_only_the_villages_own_rows(client, villages, fmt):
    for what in EXPORTS:
        response = client.get(
            f"/api/v1/reports/exports/{what}.{fmt}", headers=villages.headers["admin2"]
        )

        assert response.status_code == 200, what
        text = export_text(response, fmt)
        assert shown_marks(text, village_one_marks(villages)) == [], what
        if what == "households":
            assert "孙小白" in text
            # The marks are what village 1's own export shows.
            own = client.get(
                f"/api/v1/reports/exports/{what}.{fmt}", headers=villages.headers["admin1"]
            )
            assert shown_marks(export_text(own, fmt), village_one_marks(villages)) == [
                villages.h1.name,
                villages.h1.code,
                "7388",
            ]


def test_another_villages_card_is_no_card(client, villages):
    before = figures(villages)

    for caller in ("admin2", "inspector2", "storekeeper2"):
        response = client.post(
            "/api/v1/scan", json={"payload": villages.card1}, headers=villages.headers[caller]
        )

        assert response.status_code == 422, caller
        assert response.get_json()["code"] == "invalid_qr"
        assert shown_marks(response.text, village_one_marks(villages)) == []
    inspection = client.post(
        "/api/v1/inspections",
        json={"payload": villages.card1, "grade": "A"},
        headers=villages.headers["inspector2"],
    )
    redemption = client.post(
        "/api/v1/redemptions",
        json={"payload": villages.card1, "lines": [{"good_id": villages.good2.id, "quantity": 1}]},
        headers=villages.headers["storekeeper2"],
    )

    assert inspection.status_code == 422
    assert inspection.get_json()["code"] == "invalid_qr"
    assert redemption.status_code == 422
    assert redemption.get_json()["code"] == "invalid_qr"
    assert figures(villages) == before


@pytest.mark.parametrize(
    ("path", "caller"), [("/inspect", "inspector2"), ("/shop", "storekeeper2")]
)
def test_another_villages_card_on_the_scanning_pages(client, villages, path, caller):
    with client.session_transaction() as session:
        session["user_id"] = villages.user_ids[caller]

    response = client.get(f"{path}/card", query_string={"payload": villages.card1}, headers=HTML)

    assert response.status_code == 302
    assert response.headers["Location"] == f"{path}?error=invalid"


def test_redeeming_another_villages_good_moves_nothing(client, villages):
    before = figures(villages)

    for lines in (
        [{"good_id": villages.good1.id, "quantity": 1}],
        [
            {"good_id": villages.good2.id, "quantity": 1},
            {"good_id": villages.good1.id, "quantity": 1},
        ],
    ):
        response = client.post(
            "/api/v1/redemptions",
            json={"household_id": villages.h2.id, "lines": lines},
            headers=villages.headers["storekeeper2"],
        )

        assert response.status_code in (404, 422)
        assert villages.good1.name not in response.get_json()["detail"]
    assert figures(villages) == before


def test_the_shop_page_will_not_sell_another_villages_good(client, villages):
    before = figures(villages)
    with client.session_transaction() as session:
        session["user_id"] = villages.user_ids["storekeeper2"]

    response = client.post(
        f"/shop/household/{villages.h2.id}",
        data={
            "key": "isolation-1",
            f"qty-{villages.good1.id}": "1",
            "csrf_token": csrf_token(client),
        },
        headers=HTML,
    )

    assert response.status_code in (302, 404, 422)
    assert "/shop/receipts/" not in response.headers.get("Location", "")
    assert villages.good1.name not in response.text
    assert figures(villages) == before


def test_the_dashboard_and_board_show_only_the_villages_own(client, villages):
    with client.session_transaction() as session:
        session["user_id"] = villages.user_ids["admin2"]

    for path in ("/admin/dashboard", "/admin/board", "/admin/households", "/admin/goods"):
        page = client.get(path, headers=HTML)

        assert page.status_code == 200, path
        assert shown_marks(page.text, village_one_marks(villages)) == [], path


def test_rules_changed_in_one_village_stay_there(client, villages):
    response = client.put(
        "/api/v1/rules",
        json={"grades": {"A": 9, "B": 2, "C": 1, "D": 0}, "daily_limit": 2},
        headers=villages.headers["admin2"],
    )

    assert response.status_code == 200
    own = client.get("/api/v1/rules", headers=villages.headers["admin1"]).get_json()
    assert own["grades"]["A"] == 3
    assert own["daily_limit"] == 1
    history = client.get("/api/v1/rules/history", headers=villages.headers["admin2"]).get_json()
    assert all(r["updated_by"] in (None, villages.user_ids["admin2"]) for r in history["items"])


def test_names_taken_in_another_village_are_free(client, villages):
    good = client.post(
        "/api/v1/goods",
        json={"name": villages.good1.name, "unit": "支", "price_points": 1, "stock": 1},
        headers=villages.headers["admin2"],
    )
    grid_name = db.session.get_one(Grid, villages.h1.grid_id).name
    grid = client.post(
        "/api/v1/grids", json={"name": grid_name}, headers=villages.headers["admin2"]
    )

    assert good.status_code == 201
    assert grid.status_code == 201


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/households/cards.pdf", "ids"),
        ("/api/v1/households/cards.pdf", "grid_id"),
        ("/admin/cards.pdf", "id"),
        ("/admin/cards.pdf", "grid_id"),
    ],
)
def test_another_villages_cards_are_never_printed(client, villages, path, query):
    value = villages.h1.grid_id if query == "grid_id" else villages.h1.id
    with client.session_transaction() as session:
        session["user_id"] = villages.user_ids["admin2"]

    response = client.get(
        path, query_string={query: value}, headers={**HTML, **villages.headers["admin2"]}
    )

    assert response.status_code in (403, 404, 422)
    assert response.mimetype != "application/pdf"


def test_a_village_cannot_reach_into_another_through_a_body(client, villages):
    """Village 1's own admin names village 2's objects: every one is refused."""
    h2, good2 = villages.h2, villages.good2
    before = figures(villages)
    grid_before = villages.h1.grid_id
    calls = [
        ("PATCH", f"/api/v1/households/{villages.h1.id}", {"grid_id": h2.grid_id}),
        (
            "POST",
            "/api/v1/households",
            {"name": "周新", "address": "马庄村", "grid_id": h2.grid_id},
        ),
        ("POST", "/api/v1/adjustments", {"household_id": h2.id, "amount": 5, "reason": "补录"}),
        ("POST", "/api/v1/inspections", {"household_id": h2.id, "grade": "A"}),
        (
            "POST",
            "/api/v1/redemptions",
            {"household_id": villages.h1.id, "lines": [{"good_id": good2.id, "quantity": 1}]},
        ),
        (
            "POST",
            "/api/v1/users",
            {
                "username": "mz-home",
                "password": "long-enough-1",
                "role": "household",
                "household_id": h2.id,
            },
        ),
    ]

    for method, path, body in calls:
        response = client.open(path, method=method, json=body, headers=villages.headers["admin1"])

        assert response.status_code in (403, 404, 422), path
        assert "孙小白" not in response.get_json()["detail"]
    assert figures(villages) == before
    assert db.session.get_one(Household, villages.h1.id).grid_id == grid_before
    users = client.get("/api/v1/users", headers=villages.headers["admin1"]).get_json()["items"]
    assert "mz-home" not in [user["username"] for user in users]
