"""Adjusting a household's points: the admin's API call and the household page's correction form."""

import pytest
from sqlalchemy import func, select
from testsupport import PASSWORD, assert_problem, balance_of, csrf_token

from app.auth.models import INSPECTOR, STOREKEEPER
from app.db import db
from app.ledger.models import Journal


def journal_count() -> int:
    return db.session.scalar(select(func.count(Journal.id)))


# The API -------------------------------------------------------------------------------


def test_admin_adds_points(adjust, household):
    response = adjust(household, 10, "期初积分")

    assert response.status_code == 201
    assert response.json["balance"] == 10
    assert response.json["amount"] == 10
    assert response.json["household_id"] == household.id
    assert balance_of(household) == 10


def test_admin_takes_points_away(adjust, make_household):
    household = make_household(points=10)

    response = adjust(household, -4, "多记了")

    assert response.status_code == 201
    assert response.json["balance"] == 6
    assert balance_of(household) == 6


def test_adjustment_below_zero_is_refused_and_changes_nothing(adjust, make_household):
    household = make_household(points=3)
    journals = journal_count()

    assert_problem(adjust(household, -4), 409, "insufficient_points")

    assert balance_of(household) == 3
    assert journal_count() == journals


def test_adjustment_to_exactly_zero_is_allowed(adjust, make_household):
    household = make_household(points=3)

    assert adjust(household, -3).json["balance"] == 0


def test_adjustment_of_zero_points_is_422(adjust, household):
    body = assert_problem(adjust(household, 0), 422, "validation_error")

    assert "amount" in body["errors"]
    assert journal_count() == 0


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER])
def test_staff_other_than_admin_may_not_adjust(adjust, make_user, token_for, household, role):
    response = adjust(household, 5, headers=token_for(make_user(role)))

    assert_problem(response, 403, "forbidden")
    assert balance_of(household) == 0


def test_household_user_may_not_adjust_its_own_points(adjust, resident, token_for, household):
    assert_problem(adjust(household, 5, headers=token_for(resident)), 403, "forbidden")
    assert balance_of(household) == 0


def test_another_villages_household_is_404_and_untouched(adjust, make_village, make_household):
    theirs = make_household(of=make_village(), points=7)

    assert_problem(adjust(theirs, -7), 404, "not_found")
    assert_problem(adjust(theirs, 5), 404, "not_found")

    assert balance_of(theirs) == 7


# The household page's correction form --------------------------------------------------


def correct(client, household, amount, reason="补录纸质记录", key="k-1"):
    return client.post(
        f"/admin/households/{household.id}/adjust",
        data={"amount": amount, "reason": reason, "key": key, "csrf_token": csrf_token(client)},
        follow_redirects=True,
    )


def test_the_admin_corrects_a_households_points_with_a_reason(admin_client, make_household):
    household = make_household(points=10)

    page = correct(admin_client, household, "5").get_data(as_text=True)

    assert balance_of(household) == 15
    assert "data-adjusted" in page and "+5" in page
    from app.audit.models import AuditEvent

    event = db.session.scalar(
        select(AuditEvent)
        .where(AuditEvent.action == "points_adjusted")
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    assert event.reason == "补录纸质记录" and event.actor_id is not None


def test_a_resent_correction_form_counts_once(admin_client, make_household):
    household = make_household(points=10)

    correct(admin_client, household, "-3", key="same")
    correct(admin_client, household, "-3", key="same")

    assert balance_of(household) == 7


@pytest.mark.parametrize(
    ("amount", "reason"), [("-11", "扣分"), ("0", "扣分"), ("abc", "扣分"), ("5", ""), ("1e3", "x")]
)
def test_a_bad_correction_is_refused_with_a_message(admin_client, make_household, amount, reason):
    household = make_household(points=10)

    page = correct(admin_client, household, amount, reason=reason).get_data(as_text=True)

    assert balance_of(household) == 10
    assert "data-adjust-error" in page


def test_only_the_villages_admin_corrects_points(client, make_user, make_household, village):
    from app.office.services import create_village

    household = make_household(points=10)
    inspector = make_user("inspector")
    client.post(
        "/login",
        data={
            "username": inspector.username,
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert correct(client, household, "5").status_code == 403

    other = create_village("李庄村", "LZ")
    db.session.commit()
    stranger = make_user("admin", of=other)
    client.get("/logout")
    client.post(
        "/login",
        data={
            "username": stranger.username,
            "password": PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert correct(client, household, "5").status_code == 404
    assert balance_of(household) == 10
