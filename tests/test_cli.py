"""The command line: villages, users, ledger verification and the demo village."""

import csv
import io
import re
from datetime import timedelta

from sqlalchemy import select, text
from testsupport import api_log_in, assert_readable_failure, count

from app.auth.models import User
from app.db import db
from app.households.models import Household
from app.ledger.models import Account
from app.scope import village_today
from app.villages.models import Grid, Village

# villages create -----------------------------------------------------------------------


def test_villages_create_makes_a_village_with_its_system_accounts(runner):
    result = runner.invoke(args=["villages", "create", "测试村", "--code", "TC"])

    assert result.exit_code == 0, result.output
    assert "测试村" in result.output
    village = db.session.scalar(select(Village).where(Village.code == "TC"))
    assert village.name == "测试村"
    assert village.timezone == "Asia/Shanghai"
    kinds = db.session.scalars(select(Account.kind).where(Account.village_id == village.id)).all()
    assert sorted(kinds) == ["adjustment", "expiry", "issuance", "redemption"]


def test_villages_create_takes_a_time_zone(runner):
    result = runner.invoke(
        args=["villages", "create", "测试村", "--code", "TC", "--tz", "Asia/Urumqi"]
    )

    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Village.timezone)) == "Asia/Urumqi"


def test_villages_create_refuses_a_taken_code(runner, make_village):
    make_village("老村", "TC")

    result = runner.invoke(args=["villages", "create", "测试村", "--code", "TC"])

    assert_readable_failure(result, "TC is taken")
    assert count(Village) == 1


def test_villages_create_refuses_an_unknown_time_zone(runner):
    result = runner.invoke(
        args=["villages", "create", "测试村", "--code", "TC", "--tz", "Mars/Olympus"]
    )

    assert_readable_failure(result, "Mars/Olympus")
    assert count(Village) == 0


# users create --------------------------------------------------------------------------


def test_users_create_reads_the_password_and_the_user_can_log_in(runner, client, make_village):
    village = make_village("测试村", "TC")

    result = runner.invoke(
        args=["users", "create", "wang", "--role", "inspector", "--village", "TC"],
        input="password123\n",
    )

    assert result.exit_code == 0, result.output
    assert "password123" not in result.output
    response = api_log_in(client, "wang", "password123")
    assert response.status_code == 201
    assert response.json["user"]["role"] == "inspector"
    assert response.json["user"]["village_id"] == village.id


def test_users_create_makes_a_household_login(runner, client, village, household):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "mxy",
            "--role",
            "household",
            "--village",
            "MZ",
            "--household",
            str(household.id),
        ],
        input="password123\n",
    )

    assert result.exit_code == 0, result.output
    assert api_log_in(client, "mxy", "password123").status_code == 201


def test_users_create_refuses_a_short_password(runner, client, village):
    result = runner.invoke(
        args=["users", "create", "wang", "--role", "inspector", "--village", "MZ"], input="short\n"
    )

    assert_readable_failure(result, "at least 8 characters")
    assert count(User) == 0


def test_users_create_refuses_an_unknown_village(runner, village):
    result = runner.invoke(
        args=["users", "create", "wang", "--role", "inspector", "--village", "ZZ"],
        input="password123\n",
    )

    assert_readable_failure(result, "ZZ")
    assert count(User) == 0


def test_users_create_refuses_an_unknown_role(runner, village):
    result = runner.invoke(
        args=["users", "create", "wang", "--role", "mayor", "--village", "MZ"],
        input="password123\n",
    )

    assert_readable_failure(result, "mayor")
    assert count(User) == 0


def test_users_create_refuses_a_taken_username(runner, admin):
    result = runner.invoke(
        args=["users", "create", "admin", "--role", "inspector", "--village", "MZ"],
        input="password123\n",
    )

    assert_readable_failure(result, "taken")
    assert count(User) == 1


# ledger verify -------------------------------------------------------------------------


def test_ledger_verify_passes_on_a_sound_ledger(runner, make_household):
    make_household(points=12)
    make_household(points=3)

    result = runner.invoke(args=["ledger", "verify"])

    assert result.exit_code == 0, result.output
    assert "OK" in result.output


def test_ledger_verify_fails_naming_a_tampered_account(runner, make_household):
    household = make_household(points=12)
    account_id = db.session.scalar(select(Account.id).where(Account.household_id == household.id))
    db.session.execute(
        text("UPDATE accounts SET balance = balance + 1 WHERE id = :id"), {"id": account_id}
    )
    db.session.commit()

    result = runner.invoke(args=["ledger", "verify"])

    assert result.exit_code == 1
    assert re.search(rf"\baccount {account_id}\b", result.output)
    assert "Traceback" not in result.output


# demo ----------------------------------------------------------------------------------


def printed_logins(output: str) -> list[tuple[str, str, str]]:
    """Return (role, username, password) for each login line the demo printed."""
    roles = "admin|inspector|storekeeper|household"
    return re.findall(rf"^\s+({roles})\s+(\S+)\s+(\S+)\s*$", output, re.MULTILINE)


def test_demo_loads_majuang_village(runner):
    result = runner.invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    village = db.session.scalar(select(Village))
    assert village.name == "马庄村"
    assert count(Village) == 1
    assert count(Grid) == 6
    assert count(Household) == 120


def test_demo_prints_four_logins_that_work(runner, client):
    result = runner.invoke(args=["demo"])

    logins = printed_logins(result.output)
    assert sorted(role for role, _, _ in logins) == [
        "admin",
        "household",
        "inspector",
        "storekeeper",
    ]
    for role, username, password in logins:
        response = api_log_in(client, username, password)
        assert response.status_code == 201, username
        assert response.json["user"]["role"] == role


def test_demo_ledger_verifies(runner):
    runner.invoke(args=["demo"])

    result = runner.invoke(args=["ledger", "verify"])

    assert result.exit_code == 0, result.output


def test_demo_run_again_says_it_is_already_loaded(runner):
    runner.invoke(args=["demo"])

    result = runner.invoke(args=["demo"])

    assert result.exit_code == 0, result.output
    assert "already loaded" in result.output
    assert count(Village) == 1
    assert count(Household) == 120


def test_demo_refuses_a_database_holding_another_village(runner, other_village):
    result = runner.invoke(args=["demo"])

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert count(Village) == 1
    assert count(Grid) == 0
    assert count(User) == 0


def test_demo_if_empty_leaves_a_database_holding_another_village(runner, other_village):
    result = runner.invoke(args=["demo", "--if-empty"])

    assert result.exit_code == 0, result.output
    assert count(Village) == 1
    assert count(Grid) == 0
    assert count(User) == 0


def test_the_demos_exported_ledger_and_stock_run_in_date_order(runner, client):
    runner.invoke(args=["demo"])
    token = api_log_in(client, "admin", "mz-admin-2026").json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    today = village_today(db.session.scalar(select(Village.id)))
    span = {"from": (today - timedelta(days=40)).isoformat(), "to": today.isoformat()}

    def rows(what: str) -> list[dict]:
        response = client.get(
            f"/api/v1/reports/exports/{what}.csv", query_string=span, headers=headers
        )
        assert response.status_code == 200
        table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        return [dict(zip(table[0], row, strict=True)) for row in table[1:]]

    ledger = rows("ledger")
    assert len({row["类型"] for row in ledger}) == 3  # opening balances, grades, redemptions
    balances: dict[str, int] = {}
    for row in ledger:  # oldest first: each balance-after is the one before plus the change
        before = balances.get(row["户号"], 0)
        assert int(row["变动后余额"]) == before + int(row["积分变动"]), row
        balances[row["户号"]] = int(row["变动后余额"])
    stock: dict[str, int] = {}
    movements = rows("stock_movements")
    assert movements[0]["小票号"] == ""  # the opening stock comes first
    for row in movements:
        assert int(row["变动后库存"]) == stock.get(row["商品"], 0) + int(row["数量"]), row
        stock[row["商品"]] = int(row["变动后库存"])
    redeemed = [row for row in movements if row["小票号"]]
    assert len(redeemed) >= 20
