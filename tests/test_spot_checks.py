"""Spot checks (复核): a random draw kept with its seed, re-graded without moving points."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from testsupport import (
    assert_problem,
    balance_of,
    count,
    key_of,
    log_in,
    page_post,
    run_at_once,
)

from app.audit.models import AuditEvent
from app.auth.models import INSPECTOR
from app.db import db
from app.fairness.models import SpotCheck, SpotCheckItem
from app.fairness.spotchecks import sample_of
from app.inspections.services import record_inspection, void_inspection
from app.ledger.models import Journal
from app.scope import village_today


@pytest.fixture
def day_of_grades(village, grid, grids, make_household, make_user, inspector):
    """Today: 8 inspections in the first grid (by the inspector), 3 in the second."""
    other = make_user(INSPECTOR)
    first = [make_household(name=f"户{n}") for n in range(8)]
    second = [make_household(in_grid=grids[1], name=f"西{n}") for n in range(3)]
    made = [record_inspection(h, inspector, "A") for h in first]
    made += [record_inspection(h, other, "B") for h in second]
    db.session.commit()
    return {"first": [i.id for i in made[:8]], "second": [i.id for i in made[8:]], "other": other}


def draw(client, headers, **body):
    return client.post("/api/v1/spot-checks", json=body, headers=headers)


def today(village) -> str:
    return village_today(village.id).isoformat()


def test_a_draw_is_kept_with_its_seed_and_reproducible(
    client, admin_headers, village, day_of_grades
):
    response = draw(client, admin_headers, date=today(village), size=4)
    assert response.status_code == 201
    check = response.get_json()
    everyone = sorted(day_of_grades["first"] + day_of_grades["second"])
    assert check["population"] == everyone and check["population_count"] == 11
    assert len(check["chosen"]) == 4 and len(set(check["chosen"])) == 4
    # Anyone can draw again from the record and get the same inspections.
    assert check["chosen"] == random.Random(check["seed"]).sample(everyone, 4)
    assert check["chosen"] == sample_of(check["seed"], everyone, 4)
    assert [item["inspection_id"] for item in check["items"]] == check["chosen"]
    assert all(item["grade"] is None and item["agrees"] is None for item in check["items"])
    shown = client.get(response.headers["Location"], headers=admin_headers).get_json()
    assert shown == check
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.target_type == "spot_check")
    ).one()
    assert event.action == "spot_check_drawn" and event.details["seed"] == check["seed"]


def test_two_draws_have_their_own_seeds(client, admin_headers, village, day_of_grades):
    one = draw(client, admin_headers, date=today(village), size=3).get_json()
    two = draw(client, admin_headers, date=today(village), size=3).get_json()
    assert one["seed"] != two["seed"]
    assert one["population"] == two["population"]


def test_a_grid_draws_from_its_own_inspections_only(
    client, admin_headers, village, grids, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=10, grid_id=grids[1].id)
    body = check.get_json()
    assert body["population"] == day_of_grades["second"]
    # Asked for more than there are: all of them.
    assert sorted(body["chosen"]) == day_of_grades["second"]


def test_voided_grades_and_other_days_are_not_drawn(
    client, admin_headers, admin, village, day_of_grades, inspection_of_yesterday
):
    from app.inspections.models import Inspection

    void_inspection(
        db.session.get_one(Inspection, day_of_grades["first"][0]), actor=admin, reason="误录"
    )
    db.session.commit()
    body = draw(client, admin_headers, date=today(village), size=50).get_json()
    assert day_of_grades["first"][0] not in body["population"]
    assert inspection_of_yesterday not in body["population"]
    assert body["population_count"] == 10


@pytest.fixture
def inspection_of_yesterday(make_household, inspector):
    household = make_household(name="昨日户")
    at = datetime.now(UTC) - timedelta(days=1, hours=1)
    inspection = record_inspection(household, inspector, "C", at=at)
    db.session.commit()
    return inspection.id


def test_a_draw_is_refused_for_a_day_to_come_or_a_grid_elsewhere(
    client, admin_headers, village, other_village, make_grid
):
    tomorrow = (village_today(village.id) + timedelta(days=1)).isoformat()
    assert_problem(draw(client, admin_headers, date=tomorrow, size=2), 422, "validation_error")
    elsewhere = make_grid("外村网格", of=other_village)
    assert_problem(
        draw(client, admin_headers, date=today(village), size=2, grid_id=elsewhere.id),
        404,
        "not_found",
    )
    assert_problem(draw(client, admin_headers, date=today(village), size=0), 422)
    assert count_checks() == 0


def count_checks() -> int:
    from app.fairness.models import SpotCheck

    return count(SpotCheck)


def test_a_double_tap_draws_once(client, admin_headers, village, day_of_grades):
    headers = {**admin_headers, "Idempotency-Key": "draw-1"}
    first = draw(client, headers, date=today(village), size=3)
    again = draw(client, headers, date=today(village), size=3)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
    assert count_checks() == 1


def regrade(client, headers, check, item, grade, note=None):
    body = {"grade": grade, **({"note": note} if note else {})}
    return client.post(
        f"/api/v1/spot-checks/{check['id']}/items/{item['id']}", json=body, headers=headers
    )


def test_the_checkers_grade_moves_no_points_and_counts_in_agreement(
    client, admin_headers, inspector, village, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=11).get_json()
    balances = {i: balance_of_inspection(i) for i in check["chosen"]}
    journals = count(Journal)
    mine = [item for item in check["items"] if item["inspector_id"] == inspector.id]
    # The admin checks four of the inspector's A grades: agrees with three.
    for item, grade in zip(mine[:4], "AAAC", strict=True):
        answer = regrade(client, admin_headers, check, item, grade, note="复核")
        assert answer.status_code == 200
        assert answer.get_json()["agrees"] is (grade == "A")
    assert count(Journal) == journals
    assert {i: balance_of_inspection(i) for i in check["chosen"]} == balances
    report = client.get(
        "/api/v1/reports/inspectors", query_string={"from": today(village)}, headers=admin_headers
    ).get_json()
    row = next(r for r in report["items"] if r["inspector_id"] == inspector.id)
    assert (row["spot_checked"], row["agreed"], row["agreement_rate"]) == (4, 3, 0.75)
    assert row["inspections"] == 8 and row["grades"]["A"] == 8 and row["shares"]["A"] == 1.0
    assert (row["appeals"], row["overturned"]) == (0, 0)
    other = next(r for r in report["items"] if r["inspector_id"] == day_of_grades["other"].id)
    assert other["spot_checked"] == 0 and other["agreement_rate"] is None


def balance_of_inspection(inspection_id):
    from app.households.models import Household
    from app.inspections.models import Inspection

    inspection = db.session.get_one(Inspection, inspection_id)
    return balance_of(db.session.get_one(Household, inspection.household_id), fresh=True)


def test_the_inspector_cannot_check_their_own_grade(
    client, admin_headers, inspector_headers, village, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=11).get_json()
    own = next(i for i in check["items"] if i["inspection_id"] in day_of_grades["first"])
    assert_problem(regrade(client, inspector_headers, check, own, "A"), 403, "same_person")
    # Another inspector may check it.
    colleague = next(i for i in check["items"] if i["inspection_id"] in day_of_grades["second"])
    assert regrade(client, inspector_headers, check, colleague, "B").status_code == 200


def test_an_item_is_checked_once_with_a_grade_the_rules_know(
    client, admin_headers, village, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=2).get_json()
    item = check["items"][0]
    assert_problem(regrade(client, admin_headers, check, item, "Z"), 422, "validation_error")
    assert regrade(client, admin_headers, check, item, "B").status_code == 200
    assert_problem(regrade(client, admin_headers, check, item, "A"), 409, "already_checked")
    wrong = {"id": check["id"] + 1000}
    assert_problem(regrade(client, admin_headers, wrong, item, "A"), 404, "not_found")
    shown = client.get(f"/api/v1/spot-checks/{check['id']}", headers=admin_headers).get_json()
    assert shown["items"][0]["grade"] == "B"


def test_another_village_sees_no_spot_check(
    client, admin_headers, make_user, token_for, other_village, village, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=2).get_json()
    stranger = token_for(make_user(of=other_village))
    assert client.get(f"/api/v1/spot-checks/{check['id']}", headers=stranger).status_code == 404
    answer = regrade(client, stranger, check, check["items"][0], "A")
    assert answer.status_code == 404
    assert client.get("/api/v1/spot-checks", headers=stranger).get_json()["items"] == []


def test_two_checkers_at_once_record_one_grade(
    app, client, admin_headers, make_user, token_for, village, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=1).get_json()
    item = check["items"][0]
    checkers = [token_for(make_user(INSPECTOR)) for _ in range(4)]
    path = f"/api/v1/spot-checks/{check['id']}/items/{item['id']}"

    def check_it(index):
        response = app.test_client().post(
            path, json={"grade": "ABCD"[index]}, headers=checkers[index]
        )
        return response.status_code, response.get_json()

    results = run_at_once(app, 4, check_it)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409, 409, 409], results
    (winner,) = [body for status, body in results if status == 200]
    db.session.rollback()
    shown = client.get(f"/api/v1/spot-checks/{check['id']}", headers=admin_headers).get_json()
    assert shown["items"][0]["grade"] == winner["grade"]
    graded = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "spot_check_graded")
    ).all()
    assert len(graded) == 1


def test_a_resent_check_counts_once(client, admin_headers, village, day_of_grades):
    check = draw(client, admin_headers, date=today(village), size=1).get_json()
    headers = {**admin_headers, "Idempotency-Key": "check-1"}
    first = regrade(client, headers, check, check["items"][0], "C")
    again = regrade(client, headers, check, check["items"][0], "C")
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"


# The pages ------------------------------------------------------------------------------


def test_the_admin_draws_on_the_page_and_sees_the_draw(admin_client, village, grid, day_of_grades):
    page = admin_client.get("/admin/spot-checks")
    assert page.status_code == 200 and "Draw a spot check" in page.get_data(as_text=True)
    answer = page_post(
        admin_client,
        "/admin/spot-checks",
        {"date": today(village), "size": "2", "grid_id": str(grid.id), "key": "draw-page"},
    )
    assert answer.status_code == 302
    shown = admin_client.get(answer.headers["Location"]).get_data(as_text=True)
    check = db.session.scalars(select(SpotCheck)).one()
    assert check.seed in shown and "Seed of the draw" in shown
    assert check.population.replace(",", ", ") in shown
    refused = page_post(
        admin_client, "/admin/spot-checks", {"date": today(village), "size": "0", "key": "x"}
    )
    assert refused.status_code == 422 and "Please check" in refused.get_data(as_text=True)
    assert count_checks() == 1


def test_a_checker_regrades_on_the_phone_page(
    client, admin_headers, make_user, village, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=1).get_json()
    item = check["items"][0]
    checker = make_user(INSPECTOR)
    log_in(client, checker.username)
    form_page = client.get(f"/check/{check['id']}/items/{item['id']}")
    text = form_page.get_data(as_text=True)
    assert form_page.status_code == 200 and "积分不会变动" in text
    # The checker is not told the grade that was given.
    assert "原评等级" not in text
    answer = page_post(
        client, f"/check/{check['id']}/items/{item['id']}", {"grade": "D", "key": key_of(form_page)}
    )
    assert answer.status_code == 302
    listing = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "您的复核等级已记录" in listing and "已复核：D" in listing
    again = client.get(f"/check/{check['id']}/items/{item['id']}").get_data(as_text=True)
    assert "已复核：D" in again and "data-check-form" not in again


def test_the_inspector_is_told_they_cannot_check_their_own_grade(
    client, admin_headers, inspector, village, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=11).get_json()
    own = next(i for i in check["items"] if i["inspector_id"] == inspector.id)
    log_in(client, inspector.username)
    page = client.get(f"/check/{check['id']}/items/{own['id']}")
    text = page.get_data(as_text=True)
    assert "这条评分是您给的，须由他人复核。" in text and "data-check-form" not in text
    answer = page_post(
        client, f"/check/{check['id']}/items/{own['id']}", {"grade": "A", "key": "own-1"}
    )
    # Refused on the page itself, in words, and nothing recorded.
    assert answer.status_code == 403
    assert "这条评分是您给的，须由他人复核。" in answer.get_data(as_text=True)
    assert db.session.get_one(SpotCheckItem, own["id"]).grade is None


def test_the_inspectors_page_shows_agreement_and_flags_with_their_inspections(
    admin_client, client, admin_headers, village, inspector, day_of_grades
):
    check = draw(client, admin_headers, date=today(village), size=11).get_json()
    mine = [i for i in check["items"] if i["inspector_id"] == inspector.id]
    regrade(client, admin_headers, check, mine[0], "A")
    regrade(client, admin_headers, check, mine[1], "B")
    page = admin_client.get("/admin/inspectors")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "50% (1/2)" in text
    # The fixture graded eight doors within a second: a run faster than walking.
    assert "faster than walking between doors" in text
    assert f"#inspection-{day_of_grades['first'][0]}" in text
    dashboard = admin_client.get("/admin/dashboard").get_data(as_text=True)
    assert "Spot-check agreement this month" in dashboard and "50%" in dashboard
    bad = admin_client.get("/admin/inspectors?from=2026-12-31&to=2026-01-01")
    assert bad.status_code == 200 and "data-message" in bad.get_data(as_text=True)
