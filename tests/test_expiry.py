"""Points that expire: the policy in the rules, `flask ledger expire`, exactly once, verified."""

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from testsupport import RULES_FORM, assert_problem, log_in, page_post, run_at_once

from app.auth.models import STOREKEEPER
from app.checks import verify_all
from app.db import db, run_write
from app.errors import InsufficientPoints
from app.households.cards import make_token
from app.ledger import services as ledger
from app.ledger.expiry import add_months, expire
from app.ledger.models import Journal, JournalKind
from app.rules.expiry import END_OF_NEXT_YEAR, IDLE_MONTHS, ExpiryPolicy
from app.rules.services import current_rules, set_rules
from app.scope import day_start, village_today, zone


def set_policy(village_id: int, policy: ExpiryPolicy) -> None:
    rules = current_rules(village_id)
    set_rules(village_id, list(rules.grades), rules.daily_limit, actor_id=None, expiry=policy)
    db.session.commit()


def earn(village, household, points: int, day: date) -> None:
    """Give a household points as if earned at noon on a past day, village time."""
    moment = day_start(zone(village.timezone), day) + timedelta(hours=12)
    run_write(
        lambda: ledger.adjust(
            village.id, household.id, points, reason="earned", actor_id=None, at=moment
        )
    )


def spend(village, household, points: int, day: date) -> None:
    moment = day_start(zone(village.timezone), day) + timedelta(hours=12)
    run_write(
        lambda: ledger.adjust(
            village.id, household.id, -points, reason="spent", actor_id=None, at=moment
        )
    )


def expiry_journals(village_id: int) -> int:
    db.session.rollback()  # read what other connections committed
    return db.session.scalar(
        select(func.count(Journal.id)).where(
            Journal.village_id == village_id, Journal.kind == JournalKind.EXPIRY.value
        )
    )


# The policy in the rules ---------------------------------------------------------------------


def test_points_never_expire_until_the_admin_says_so(client, admin_headers):
    assert client.get("/api/v1/rules", headers=admin_headers).json["expiry"] == {"policy": "none"}


def test_the_admin_sets_the_policy_as_a_new_rules_version(client, put_rules, admin_headers):
    response = put_rules(
        {"grades": {"A": 3, "D": 0}, "expiry": {"policy": "idle_months", "months": 12}}
    )
    assert response.status_code == 200, response.json
    assert response.json["expiry"] == {"policy": "idle_months", "months": 12}
    assert response.json["version"] == 2
    put_rules({"grades": {"A": 3, "D": 0}, "expiry": {"policy": "end_of_next_year"}})
    rules = client.get("/api/v1/rules", headers=admin_headers).json
    assert rules["expiry"] == {"policy": "end_of_next_year"}
    history = client.get("/api/v1/rules/history", headers=admin_headers).json["items"]
    assert [item["expiry"] for item in history] == [
        {"policy": "end_of_next_year"},
        {"policy": "idle_months", "months": 12},
        {"policy": "none"},
    ]


@pytest.mark.parametrize(
    "expiry",
    [
        {"policy": "weekly"},
        {"policy": "idle_months"},
        {"policy": "idle_months", "months": 0},
        {"policy": "idle_months", "months": 121},
        {"policy": "idle_months", "months": "12"},
        {"policy": "end_of_next_year", "months": 12},
        {},
        "end_of_next_year",
    ],
)
def test_a_bad_policy_is_422_and_changes_nothing(client, put_rules, admin_headers, expiry):
    response = put_rules({"grades": {"A": 3}, "expiry": expiry})
    assert_problem(response, 422, "validation_error")
    assert client.get("/api/v1/rules", headers=admin_headers).json["version"] == 1


def test_the_rules_page_explains_and_sets_the_policy(admin_client, village):
    page = admin_client.get("/admin/rules").get_data(as_text=True)
    assert "points earned in 2026 are cleared after 31 December 2027" in page
    assert 'name="expiry_policy" value="none" checked' in page
    response = page_post(
        admin_client,
        "/admin/rules",
        {**RULES_FORM, "expiry_policy": "idle_months", "expiry_months": "18"},
    )
    assert response.status_code == 302
    assert current_rules(village.id).expiry == ExpiryPolicy(IDLE_MONTHS, 18)
    page = admin_client.get("/admin/rules").get_data(as_text=True)
    assert 'name="expiry_policy" value="idle_months" checked' in page
    assert "points expire after 18 idle months" in page


def test_the_rules_page_shows_the_example_in_chinese(client, admin):
    log_in(client, "admin")
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "2026 年获得的积分在 2027 年 12 月 31 日后清零" in page


@pytest.mark.parametrize("months", ["", "0", "abc"])
def test_bad_months_on_the_page_are_refused(admin_client, village, months):
    response = page_post(
        admin_client,
        "/admin/rules",
        {**RULES_FORM, "expiry_policy": "idle_months", "expiry_months": months},
    )
    assert response.status_code == 422
    assert "When points expire" in response.get_data(as_text=True)
    assert current_rules(village.id).version == 1


def test_saving_grades_on_the_page_keeps_the_policy_chosen(admin_client, village):
    set_policy(village.id, ExpiryPolicy(END_OF_NEXT_YEAR))
    page = admin_client.get("/admin/rules").get_data(as_text=True)
    assert 'name="expiry_policy" value="end_of_next_year" checked' in page


# `flask ledger expire` -----------------------------------------------------------------------


def test_points_of_2026_expire_on_new_year_2028_and_only_once(app, runner, village, make_household):
    first, second = make_household(), make_household(name="周长顺")
    earn(village, first, 30, date(2026, 3, 1))
    spend(village, first, 10, date(2027, 5, 1))  # spends 2026's points first
    earn(village, first, 7, date(2027, 6, 1))  # 2027's: they expire on 1 January 2029
    earn(village, second, 5, date(2026, 12, 31))
    set_policy(village.id, ExpiryPolicy(END_OF_NEXT_YEAR))

    before = runner.invoke(
        args=["ledger", "expire", "--village", village.code, "--at", "2027-12-31"]
    )
    assert before.exit_code == 0, before.output
    assert "expired 0 points" in before.output

    result = runner.invoke(
        args=["ledger", "expire", "--village", village.code, "--at", "2028-01-01"]
    )
    assert result.exit_code == 0, result.output
    assert f"{first.code}\t2028-01-01\t20" in result.output
    assert f"{second.code}\t2028-01-01\t5" in result.output
    assert "expired 25 points from 2 households" in result.output
    db.session.rollback()
    assert ledger.household_balance(first.id) == 7
    assert ledger.household_balance(second.id) == 0

    again = runner.invoke(
        args=["ledger", "expire", "--village", village.code, "--at", "2028-01-01"]
    )
    assert "expired 0 points" in again.output
    assert expiry_journals(village.id) == 2

    later = runner.invoke(args=["ledger", "expire", "--at", "2029-01-01"])
    assert f"{first.code}\t2029-01-01\t7" in later.output
    assert expiry_journals(village.id) == 3

    verified = runner.invoke(args=["ledger", "verify", "--village", village.code])
    assert verified.exit_code == 0, verified.output


def test_idle_points_expire_on_the_day_n_months_after_the_last_activity(village, make_household):
    household = make_household()
    earn(village, household, 12, date(2026, 1, 31))
    spend(village, household, 2, date(2026, 3, 31))
    set_policy(village.id, ExpiryPolicy(IDLE_MONTHS, 2))
    assert expire(village.id, date(2026, 5, 30)) == []
    expired = expire(village.id, date(2026, 5, 31))
    assert [(item.on, item.points) for item in expired] == [(date(2026, 5, 31), 10)]
    assert ledger.household_balance(household.id) == 0
    assert expire(village.id, date(2026, 12, 31)) == []
    assert verify_all(village.id).ok


def test_nothing_expires_while_the_policy_is_none(runner, village, make_household):
    household = make_household()
    earn(village, household, 9, date(2024, 1, 1))
    result = runner.invoke(args=["ledger", "expire", "--at", "2030-01-01"])
    assert result.exit_code == 0 and "expired 0 points" in result.output
    db.session.rollback()
    assert ledger.household_balance(household.id) == 9


def test_two_copies_at_once_expire_once(app, village, make_household):
    households = [make_household(name=f"户{i}") for i in range(6)]
    for household in households:
        earn(village, household, 4, date(2026, 2, 1))
    set_policy(village.id, ExpiryPolicy(END_OF_NEXT_YEAR))
    village_id = village.id

    results = run_at_once(app, 3, lambda _i: expire(village_id, date(2028, 1, 1), chunk=2))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(item.points for result in results for item in result) == 24
    assert expiry_journals(village_id) == 6
    assert all(ledger.household_balance(h.id) == 0 for h in households)
    assert verify_all(village_id).ok


def test_copies_of_expire_racing_spenders_expire_every_point_once(app, village, make_household):
    """Issue 34: copies of `ledger expire` aborted with InsufficientPoints on PostgreSQL
    when households spent while they ran (due was read without locks, then posted)."""
    households = [make_household(name=f"户{i}") for i in range(8)]
    for household in households:
        earn(village, household, 10, date(2026, 2, 1))
    set_policy(village.id, ExpiryPolicy(END_OF_NEXT_YEAR))
    village_id, ids = village.id, [household.id for household in households]

    def spend_one(household_id: int) -> bool:
        try:
            run_write(
                lambda: ledger.adjust(village_id, household_id, -1, reason="spent", actor_id=None)
            )
        except InsufficientPoints:
            return False
        return True

    def work(index: int):
        if index < 3:
            return expire(village_id, date(2028, 1, 1), chunk=2)
        return Counter(h for _ in range(6) for h in ids if spend_one(h))

    results = run_at_once(app, 6, work)
    assert not [r for r in results if isinstance(r, Exception)], results
    expired: Counter = Counter()
    for item in (item for result in results[:3] for item in result):
        expired[item.household_id] += item.points
    spent = sum(results[3:], Counter())
    assert {h: expired[h] + spent[h] for h in ids} == {h: 10 for h in ids}
    assert expiry_journals(village_id) == len([h for h in ids if expired[h]])
    assert all(ledger.household_balance(h) == 0 for h in ids)
    assert verify_all(village_id).ok


def test_a_crash_between_chunks_resumes_without_expiring_twice(village, make_household):
    households = [make_household(name=f"户{i}") for i in range(5)]
    for household in households:
        earn(village, household, 3, date(2026, 2, 1))
    set_policy(village.id, ExpiryPolicy(END_OF_NEXT_YEAR))

    def crash(_done):
        raise SystemExit("the machine went down")

    with pytest.raises(SystemExit):
        expire(village.id, date(2028, 1, 1), chunk=2, between_chunks=crash)
    assert expiry_journals(village.id) == 2  # the first chunk was committed

    resumed = expire(village.id, date(2028, 1, 1), chunk=2)
    assert [item.household_id for item in resumed] == [h.id for h in households[2:]]
    assert expiry_journals(village.id) == 5
    assert all(ledger.household_balance(h.id) == 0 for h in households)
    assert verify_all(village.id).ok


def test_verify_names_an_expiry_the_policy_did_not_call_for(village, make_household):
    household = make_household()
    earn(village, household, 10, date(2026, 2, 1))
    set_policy(village.id, ExpiryPolicy(END_OF_NEXT_YEAR))
    account, expiry_account = ledger.posting_accounts(village.id, household.id, "expiry")
    posted = run_write(
        lambda: ledger.post(
            village.id,
            JournalKind.EXPIRY,
            [ledger.Leg(account, expiry_account, 4)],
            memo="too much, too soon",
            business_key=f"expiry:{household.id}:2027-01-01",
        )
    )
    report = verify_all(village.id)
    assert not report.ok
    problem = next(p for p in report.problems if p.check == "expiry")
    assert problem.ids == {"transaction_id": posted.id}
    assert (problem.expected, problem.actual) == (0, 4)


# Warned in advance ---------------------------------------------------------------------------


@pytest.fixture
def soon(village, household, make_household):
    """The resident's household: 7 points idle for 60 days under a 3-month policy.

    They expire about 30 days from today; a neighbour active 10 days ago is 80 days off.
    """
    today = village_today(village.id)
    earn(village, household, 7, today - timedelta(days=60))
    neighbour = make_household(name="周长顺")
    earn(village, neighbour, 9, today - timedelta(days=10))
    set_policy(village.id, ExpiryPolicy(IDLE_MONTHS, 3))
    return add_months(today - timedelta(days=60), 3), neighbour


def test_the_json_says_what_expires_within_60_days(client, household, soon, admin_headers):
    on, neighbour = soon
    expected = {"points": 7, "on": on.isoformat()}
    response = client.get(f"/api/v1/households/{household.id}", headers=admin_headers)
    assert response.json["expiring"] == expected
    other = client.get(f"/api/v1/households/{neighbour.id}", headers=admin_headers)
    assert other.json["expiring"] is None
    listed = client.get("/api/v1/households", headers=admin_headers).json["items"]
    assert {item["id"]: item["expiring"] for item in listed} == {
        household.id: expected,
        neighbour.id: None,
    }


def test_the_resident_is_warned_on_their_json_and_page(client, resident, soon, token_for):
    on, _ = soon
    me = client.get("/api/v1/me", headers=token_for(resident))
    assert me.json["expiring"] == {"points": 7, "on": on.isoformat()}
    log_in(client, "resident")
    page = client.get("/my").get_data(as_text=True)
    assert f"7 积分将于 {on.year}年{on.month}月{on.day}日 过期" in page


def test_the_door_page_warns_whoever_scans_the_card(client, household, soon):
    on, neighbour = soon
    page = client.get(f"/q/{make_token(household)}").get_data(as_text=True)
    assert f"7 积分将于 {on.year}年{on.month}月{on.day}日 过期" in page
    assert "过期" not in client.get(f"/q/{make_token(neighbour)}").get_data(as_text=True)


def test_the_basket_at_the_counter_says_what_expires_when(client, make_user, household, soon):
    on, neighbour = soon
    make_user(STOREKEEPER, username="dianzhang")
    log_in(client, "dianzhang")

    page = client.get(f"/shop/household/{household.id}").get_data(as_text=True)

    assert f"7 积分将于 {on.year}年{on.month}月{on.day}日 过期" in page
    assert "过期" not in client.get(f"/shop/household/{neighbour.id}").get_data(as_text=True)


def test_the_notice_board_list_covers_the_60_days_households_are_warned_of(
    admin_client, village, make_household
):
    today = village_today(village.id)
    set_policy(village.id, ExpiryPolicy(IDLE_MONTHS, 3))
    # Idle for 3 months less 40 days: expires in about 40 days, after this month's end.
    next_month = make_household(name="马秀英")
    earn(village, next_month, 12, add_months(today, -3) + timedelta(days=40))
    later = make_household(name="周长顺")
    earn(village, later, 5, add_months(today, -3) + timedelta(days=75))

    text = admin_client.get("/admin/expiring").get_data(as_text=True)

    assert "points expiring in the next 60 days" in text
    assert "马*英" in text and "周*顺" not in text
    assert text.count("data-notice") == 1 and ">12<" in text


def test_nothing_is_said_when_points_never_expire(client, village, household, admin_headers):
    earn(village, household, 7, date(2020, 1, 1))
    response = client.get(f"/api/v1/households/{household.id}", headers=admin_headers)
    assert response.json["expiring"] is None
    assert "过期" not in client.get(f"/q/{make_token(household)}").get_data(as_text=True)


def test_the_dashboard_shows_this_months_expiry_and_prints_the_list(
    admin_client, village, make_household
):
    today = village_today(village.id)
    household = make_household(name="马秀英")
    earn(village, household, 11, add_months(today, -3))  # expires today (the day runs late)
    quiet = make_household(name="周长顺")
    earn(village, quiet, 5, today)
    set_policy(village.id, ExpiryPolicy(IDLE_MONTHS, 3))
    page = admin_client.get("/admin/dashboard").get_data(as_text=True)
    assert 'data-figure="expiring">11<' in page
    assert "1 households" in page
    notice = admin_client.get("/admin/expiring")
    assert notice.status_code == 200
    text = notice.get_data(as_text=True)
    assert "马*英" in text and "周*顺" not in text
    assert text.count("data-notice") == 1
    assert ">11<" in text


# Reports -------------------------------------------------------------------------------------


def test_expired_points_are_their_own_figure_and_no_longer_owed(
    client, admin_client, admin_headers, village, make_household
):
    gone, kept = make_household(), make_household(name="周长顺")
    earn(village, gone, 30, date(2024, 3, 1))
    earn(village, kept, 5, village_today(village.id))
    set_policy(village.id, ExpiryPolicy(END_OF_NEXT_YEAR))
    expire(village.id, date(2026, 1, 1))  # posted now: today's figures
    today = village_today(village.id).isoformat()
    day = {"from": today, "to": today}

    summary = client.get("/api/v1/reports/summary", query_string=day, headers=admin_headers).json
    assert summary["points_expired"] == 30
    assert summary["outstanding"] == 5

    ledger_csv = client.get(
        "/api/v1/reports/exports/ledger.csv", query_string=day, headers=admin_headers
    ).get_data(as_text=True)
    expired_row = next(line for line in ledger_csv.splitlines() if gone.code in line)
    assert expired_row.split(",")[4:7] in (["积分过期", "-30", "0"], ["Points expired", "-30", "0"])

    summary_csv = admin_client.get("/admin/reports/export/summary.csv", query_string=day).get_data(
        as_text=True
    )
    header, village_row = summary_csv.lstrip("\ufeff").splitlines()[:2]
    assert header.split(",")[-2:] == ["过期积分", "未兑换积分"]
    assert village_row.split(",")[-2:] == ["30", "5"]
