"""One declaration per write: the API and the page forms of an action behave alike.

The grade, rules, basket and cancel forms are checked by the same schemas as their
API endpoints, carry a key made when the form was shown, and refuse the same text.
"""

from urllib.parse import urlsplit

import pytest
from flask import request, request_finished
from testsupport import (
    assert_problem,
    balance_of,
    count,
    csrf_token,
    key_of,
    log_in,
    page_post,
    stock_of,
)

from app.db import LAGGING_READS
from app.inspections.models import Inspection
from app.redemptions.models import Redemption
from app.rules.models import RuleSet

# Text no page or endpoint may store: a NUL byte, a bidi override, a zero-width space.
HIDDEN = ["bad\x00note", "evil\u202etxt", "zero\u200bwidth"]


@pytest.fixture
def inspector_page(client, inspector):
    log_in(client, "inspector", english=True)
    return client


@pytest.fixture
def shop_page(client, storekeeper):
    log_in(client, "storekeeper", english=True)
    return client


@pytest.fixture
def admin_page(client, admin):
    log_in(client, "admin", english=True)
    return client


def grade(client, household, *, key, note=""):
    return client.post(
        f"/inspect/household/{household.id}",
        data={"grade": "A", "note": note, "key": key, "csrf_token": csrf_token(client)},
    )


@pytest.mark.parametrize("text", HIDDEN)
def test_hidden_characters_in_a_note_are_refused_by_the_page_and_the_api(
    client, inspector_page, inspector_headers, household, text
):
    page = grade(inspector_page, household, key="k-note", note=text)
    api = client.post(
        "/api/v1/inspections",
        json={"household_id": household.id, "grade": "A", "note": text},
        headers=inspector_headers,
    )

    assert page.status_code == 422
    assert "data-message" in page.text and "Please check" in page.text
    assert_problem(api, 422, "validation_error")
    assert count(Inspection) == 0
    assert balance_of(household) == 0


def test_a_grade_form_without_its_key_changes_nothing(inspector_page, household):
    response = grade(inspector_page, household, key="")

    assert response.status_code == 400
    assert "The form expired" in response.text
    assert count(Inspection) == 0


def test_a_resent_grade_form_credits_once_and_replays_its_answer(inspector_page, household):
    key = key_of(inspector_page.get(f"/inspect/household/{household.id}"))
    first = grade(inspector_page, household, key=key)
    again = grade(inspector_page, household, key=key)

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert balance_of(household) == 3


def test_a_refusal_on_the_grade_page_is_the_apis_code_translated(client, inspector, household):
    log_in(client, "inspector")  # Chinese pages
    grade(client, household, key="first")
    refused = grade(client, household, key="second")

    assert refused.status_code == 302
    assert "refused=already_inspected_today" in refused.headers["Location"]
    page = client.get(refused.headers["Location"])
    assert "这户今天已经检查过了。" in page.text


def test_a_refusal_code_the_page_does_not_know_shows_nothing(inspector_page, household):
    page = inspector_page.get(f"/inspect/household/{household.id}?refused=<b>call 110</b>")

    assert page.status_code == 200
    assert "call 110" not in page.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("points-A", "x"), ("points-A", "-1"), ("daily_limit", "0"), ("label-A", "优\u202e")],
)
def test_the_rules_form_is_checked_by_the_apis_schema(admin_page, field, value):
    form = {"points-A": "3", "points-B": "2", "points-C": "1", "points-D": "0"}
    form |= {"daily_limit": "1", field: value}

    response = page_post(admin_page, "/admin/rules", form)

    assert response.status_code == 422
    assert "Please check" in response.text
    assert count(RuleSet) == 1


def test_a_resent_rules_form_makes_one_version(admin_page):
    form = {"points-A": "5", "points-B": "2", "points-C": "1", "points-D": "0"}
    form |= {"daily_limit": "1", "key": "rules-1"}

    first = page_post(admin_page, "/admin/rules", form)
    again = page_post(admin_page, "/admin/rules", form)

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(RuleSet) == 2


def basket(client, household, good, quantity, *, key):
    return client.post(
        f"/shop/household/{household.id}",
        data={f"qty-{good.id}": str(quantity), "key": key, "csrf_token": csrf_token(client)},
    )


def receipt_path(response) -> str:
    """The receipt a basket's answer leads to, without the basket that made it."""
    return urlsplit(response.headers["Location"]).path


def test_a_resent_basket_redeems_once(shop_page, make_household, soap):
    household = make_household(points=50)

    first = basket(shop_page, household, soap, 2, key="b-1")
    again = basket(shop_page, household, soap, 2, key="b-1")

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert balance_of(household) == 40
    assert stock_of(soap.id) == 8
    assert count(Redemption) == 1


def test_the_same_key_with_another_basket_shows_what_it_made(shop_page, make_household, soap):
    household = make_household(points=50)
    first = basket(shop_page, household, soap, 1, key="b-2")

    other = basket(shop_page, household, soap, 3, key="b-2")

    assert other.status_code == 302
    assert receipt_path(other) == receipt_path(first)
    assert "already=1" in other.headers["Location"]
    assert balance_of(household) == 45
    assert count(Redemption) == 1


@pytest.mark.parametrize("text", HIDDEN)
def test_hidden_characters_in_a_cancel_reason_are_refused(
    client, shop_page, storekeeper_headers, make_household, soap, text
):
    household = make_household(points=50)
    location = receipt_path(basket(shop_page, household, soap, 1, key="b-3"))
    redemption_id = int(location.rsplit("/", 1)[1])

    page = page_post(shop_page, f"/shop/receipts/{redemption_id}/cancel", {"reason": text})
    api = client.post(
        f"/api/v1/redemptions/{redemption_id}/cancel",
        json={"reason": text},
        headers=storekeeper_headers,
    )

    assert page.status_code == 422
    assert "Please check" in page.text
    assert_problem(api, 422, "validation_error")
    assert balance_of(household) == 45


def test_a_resent_cancel_form_gives_points_back_once(shop_page, make_household, soap):
    household = make_household(points=50)
    location = receipt_path(basket(shop_page, household, soap, 2, key="b-4"))
    cancel_url = location + "/cancel"

    first = page_post(shop_page, cancel_url, {"reason": "拿错了", "key": "c-1"})
    again = page_post(shop_page, cancel_url, {"reason": "拿错了", "key": "c-1"})

    assert first.status_code == again.status_code == 302
    assert again.headers["Idempotent-Replayed"] == "true"
    assert balance_of(household) == 50
    assert stock_of(soap.id) == 10


def test_cancelling_another_villages_receipt_is_not_found(
    client, make_household, make_user, make_village, soap
):
    from app.auth.models import STOREKEEPER

    household = make_household(points=50)
    make_user(STOREKEEPER, username="other-shop", of=make_village("李庄村", "LZ"))
    make_user(STOREKEEPER, username="my-shop")
    log_in(client, "my-shop", english=True)
    location = receipt_path(basket(client, household, soap, 1, key="b-5"))
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    log_in(client, "other-shop", english=True)

    response = page_post(client, location + "/cancel", {"reason": "x"})

    assert response.status_code == 404
    assert balance_of(household) == 45


def test_a_reading_is_served_to_its_roles_with_its_query_answer_and_refusals(
    app, client, storekeeper_headers, inspector_headers
):
    lagging = {}

    def note(sender, response, **extra):
        lagging[request.path] = request.environ.get(LAGGING_READS, False)

    with request_finished.connected_to(note, app):
        ok = client.get("/api/v1/reports/settlement?month=2026-03", headers=storekeeper_headers)
        grids = client.get("/api/v1/grids", headers=inspector_headers)
    bad_month = client.get("/api/v1/reports/settlement?month=March", headers=storekeeper_headers)
    not_theirs = client.get("/api/v1/reports/settlement", headers=inspector_headers)

    assert ok.status_code == 200 and ok.json["month"] == "2026-03"
    assert_problem(bad_month, 422, "validation_error")
    assert_problem(not_theirs, 403)
    # may_lag: the settlement may read from a standby; the grids always read the primary.
    assert grids.status_code == 200
    assert lagging == {"/api/v1/reports/settlement": True, "/api/v1/grids": False}
    documented = client.get("/api/v1/openapi.json").json["paths"]["/api/v1/reports/settlement"]
    assert {"200", "404", "422"} <= set(documented["get"]["responses"])
    assert "month" in {p["name"] for p in documented["get"]["parameters"] if p["in"] == "query"}
