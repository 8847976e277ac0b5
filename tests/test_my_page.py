"""A resident's own page: balance, statement with reasons, filters, the shop."""

import pytest
from testsupport import log_in

from app.auth.models import HOUSEHOLD
from app.catalogue.services import create_good
from app.db import db
from app.inspections.services import record_inspection
from app.ledger.services import adjust
from app.redemptions.services import LineRequest, redeem_goods


@pytest.fixture
def resident_with_history(village, household, make_user):
    resident = make_user(HOUSEHOLD, household=household, username="ma-home")
    inspector = make_user("inspector", username="li-inspect")
    storekeeper = make_user("storekeeper", username="wang-shop")
    adjust(village.id, household.id, 20, reason="期初积分", actor_id=None)
    record_inspection(household, inspector, "A")
    soap = create_good(village.id, name="香皂", unit="块", price_points=10, stock=5)
    create_good(village.id, name="食用油", unit="桶", price_points=100, stock=5)
    redeem_goods(household, storekeeper, [LineRequest(soap.id, 2)])
    db.session.commit()
    return resident


def test_a_resident_lands_on_their_own_page(client, resident_with_history):
    log_in(client, "ma-home", english=True)
    assert client.get("/home").headers["Location"].endswith("/my")
    page = client.get("/my").get_data(as_text=True)
    assert "data-balance>3<" in page  # 20 + 3 - 20
    assert "期初积分" in page
    assert "优 (A)" in page
    assert "香皂×2" in page
    assert "balance after 23" in page


def test_the_statement_filters_earned_and_spent(client, resident_with_history):
    log_in(client, "ma-home", english=True)
    earned = client.get("/my?show=in").get_data(as_text=True)
    spent = client.get("/my?show=out").get_data(as_text=True)
    assert "优 (A)" in earned and "香皂×2" not in earned
    assert "香皂×2" in spent and "优 (A)" not in spent


def test_the_shop_shows_what_the_household_can_afford(client, resident_with_history):
    log_in(client, "ma-home", english=True)
    page = client.get("/my").get_data(as_text=True)
    assert "97 more points needed" in page  # cooking oil: 100, balance 3


def test_staff_cannot_open_a_residents_page(client, make_user):
    make_user("inspector", username="li-inspect")
    log_in(client, "li-inspect", english=True)
    assert client.get("/my").status_code == 403


def test_me_answers_the_residents_own_household(client, resident_with_history, token_for):
    response = client.get("/api/v1/me", headers=token_for(resident_with_history))
    assert response.status_code == 200
    assert response.json["balance"] == 3
    assert response.json["id"] == resident_with_history.household_id
