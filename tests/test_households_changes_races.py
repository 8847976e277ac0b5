"""Households over time racing the till, the inspector and the nightly run (threads, both DBs)."""

from collections import Counter
from datetime import timedelta

import pytest
from testsupport import balance_of, run_at_once

from app.checks import verify_all
from app.db import db
from app.households import changes
from app.scope import village_today

pytestmark = pytest.mark.usefixtures("photo_folder")


def refusal(response) -> str | None:
    """The problem's code of a refused request; None for a success."""
    return response.json["code"] if response.status_code >= 400 else None


def test_a_split_while_the_storekeeper_redeems_never_overdraws(
    app, make_household, grid, admin_headers, storekeeper_headers, make_good
):
    family = make_household(points=20)
    soap = make_good("肥皂", price=5, stock=50)
    family_id, grid_id, soap_id = family.id, grid.id, soap.id
    splits, redemptions = 3, 5

    def work(index):
        client = app.test_client()
        if index < splits:
            response = client.post(
                f"/api/v1/households/{family_id}/split",
                json={"name": f"分户{index}", "address": "地址", "grid_id": grid_id, "points": 8},
                headers=admin_headers,
            )
            return "split", response.status_code, refusal(response)
        response = client.post(
            "/api/v1/redemptions",
            json={"household_id": family_id, "lines": [{"good_id": soap_id, "quantity": 1}]},
            headers=storekeeper_headers,
        )
        return "redeem", response.status_code, refusal(response)

    results = run_at_once(app, splits + redemptions, work)

    outcomes = Counter(results)
    assert set(outcomes) <= {
        ("split", 201, None),
        ("split", 409, "insufficient_points"),
        ("redeem", 201, None),
        ("redeem", 409, "insufficient_points"),
    }, outcomes
    split_ok = outcomes[("split", 201, None)]
    redeemed = outcomes[("redeem", 201, None)]
    assert split_ok + redeemed > 0
    assert 8 * split_ok + 5 * redeemed <= 20
    assert balance_of(family_id, fresh=True) == 20 - 8 * split_ok - 5 * redeemed
    assert verify_all().ok


@pytest.mark.parametrize("graded", ["merged", "survivor"])
def test_a_merge_while_an_inspector_grades_leaves_every_point_in_one_place(
    app, make_household, admin_headers, inspector_headers, graded
):
    parents = make_household(points=10, name="马老汉")
    children = make_household(points=4, name="马建设")
    parents_id, children_id = parents.id, children.id
    target = parents_id if graded == "merged" else children_id

    def work(index):
        client = app.test_client()
        if index == 0:
            response = client.post(
                f"/api/v1/households/{parents_id}/merge",
                json={"into": children_id},
                headers=admin_headers,
            )
            return "merge", response.status_code, refusal(response)
        response = client.post(
            "/api/v1/inspections",
            json={"household_id": target, "grade": "A"},
            headers=inspector_headers,
        )
        return "grade", response.status_code, refusal(response)

    results = run_at_once(app, 2, work)

    assert ("merge", 200, None) in results, results
    [grade] = [r for r in results if r[0] == "grade"]
    assert grade[1] in (201, 409), results
    earned = 3 if grade[1] == 201 else 0
    if grade[1] == 409:
        assert graded == "merged" and grade[2] == "household_inactive"
    # Every point ends in the surviving household; the merged one holds none.
    assert balance_of(parents_id, fresh=True) == 0
    assert balance_of(children_id) == 14 + earned
    assert verify_all().ok


def test_the_forfeit_run_racing_a_redemption_takes_only_what_is_left(
    app, village, make_household, admin_headers, storekeeper_headers, make_good
):
    family = make_household(points=12)
    soap = make_good("肥皂", price=5, stock=50)
    family_id, soap_id, village_id = family.id, soap.id, village.id
    day = village_today(village_id)
    moved = app.test_client().post(
        f"/api/v1/households/{family_id}/move-out",
        json={"on": (day - timedelta(days=30)).isoformat()},
        headers=admin_headers,
    )
    assert moved.status_code == 200, moved.text

    def work(index):
        if index == 0:
            return "forfeit", sum(f.points for f in changes.forfeit_due(village_id, day))
        response = app.test_client().post(
            "/api/v1/redemptions",
            json={"household_id": family_id, "lines": [{"good_id": soap_id, "quantity": 1}]},
            headers=storekeeper_headers,
        )
        return "redeem", response.status_code

    results = run_at_once(app, 3, work)

    [forfeited] = [points for what, points in results if what == "forfeit"]
    redeemed = [status for what, status in results if what == "redeem"]
    assert set(redeemed) <= {201, 409}
    spent = 5 * redeemed.count(201)
    assert forfeited == 12 - spent  # what was left when it ran, no more and no less
    assert balance_of(family_id, fresh=True) == 0
    db.session.rollback()
    assert changes.forfeit_due(village_id, day) == []  # once
    assert verify_all().ok
