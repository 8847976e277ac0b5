"""verify(): what it reports, how the API and the CLI show it, and what it leaves alone."""

import ast
from pathlib import Path

from sqlalchemy import select, text

from app.checks import verify_all
from app.db import db
from app.households.models import Household
from app.ledger import services as ledger
from app.ledger.models import Account
from app.ledger.verify import Problem, verify

LEDGER_PACKAGE = Path(__file__).resolve().parent.parent / "app" / "ledger"


def _tamper_with_balance(household) -> int:
    """Add a point to the household's cached balance behind the ledger's back."""
    account_id = db.session.scalar(select(Account.id).where(Account.household_id == household.id))
    db.session.execute(
        text("UPDATE accounts SET balance = balance + 1 WHERE id = :id"), {"id": account_id}
    )
    db.session.commit()
    return account_id


# What verify leaves alone -----------------------------------------------------------------


def test_the_callers_flushed_and_pending_work_survives_a_verify(village, household):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    db.session.commit()
    ledger.adjust(village.id, household.id, 3, reason="not yet committed", actor_id=None)
    db.session.flush()
    household.name = "王秀英"  # pending, not even flushed

    report = verify()
    everything = verify_all(village.id)

    # verify reads what is committed, in a connection of its own.
    assert report.ok and report.transactions == 1
    assert everything.ok
    db.session.commit()
    db.session.expire_all()
    assert ledger.household_balance(household.id) == 8
    assert db.session.get(Household, household.id).name == "王秀英"
    assert verify().transactions == 2


def test_a_verify_inside_a_write_leaves_the_write_able_to_go_on(village, household):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    db.session.flush()

    assert verify().ok

    ledger.adjust(village.id, household.id, -2, reason="same transaction", actor_id=None)
    db.session.commit()
    assert ledger.household_balance(household.id) == 3
    assert verify().ok


# How a report is shown -------------------------------------------------------------------


def test_the_api_shows_each_problem_with_its_rows_and_figures(
    client, admin_headers, village, household
):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    db.session.commit()
    account_id = _tamper_with_balance(household)

    response = client.get("/api/v1/ledger/verify", headers=admin_headers)

    assert response.status_code == 200
    assert response.json == {
        "ok": False,
        "transactions": 1,
        "postings": 2,
        "problems": [
            {
                "check": "account_balance",
                "detail": f"account {account_id}: cached balance 6, entries sum to 5",
                "account_id": account_id,
                "expected": 5,
                "actual": 6,
            },
            {
                "check": "account_transfers",
                "detail": f"account {account_id}: cached balance 6, transfers sum to 5",
                "account_id": account_id,
                "expected": 5,
                "actual": 6,
            },
            {
                "check": "village_total",
                "detail": f"village {village.id}: account balances sum to 1, not 0",
                "village_id": village.id,
                "expected": 0,
                "actual": 1,
            },
        ],
    }


def test_the_cli_prints_each_problem_then_the_verdict(runner, village, household):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    db.session.commit()
    account_id = _tamper_with_balance(household)

    result = runner.invoke(args=["ledger", "verify", "--village", village.code])

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"PROBLEM [account_balance] account {account_id}: cached balance 6, entries sum to 5",
        f"PROBLEM [account_transfers] account {account_id}: cached balance 6, transfers sum to 5",
        f"PROBLEM [village_total] village {village.id}: account balances sum to 1, not 0",
        "ledger BROKEN: 1 transactions, 2 postings, 3 problems",
    ]


def test_a_problem_shows_its_figures_only_when_it_has_them():
    assert Problem(
        "reversal", "transaction 9 does not mirror 4", {"transaction_id": 9}
    ).to_dict() == {
        "check": "reversal",
        "detail": "transaction 9 does not mirror 4",
        "transaction_id": 9,
    }
    # A redemption without lines has no lines total: the figure is shown as missing.
    assert Problem(
        "redemption", "receipt R1: total 5, lines None, journal 5", {"redemption_id": 1}, 5, None
    ).to_dict() == {
        "check": "redemption",
        "detail": "receipt R1: total 5, lines None, journal 5",
        "redemption_id": 1,
        "expected": 5,
        "actual": None,
    }


# Where verify sits ----------------------------------------------------------------------


def test_the_ledger_imports_neither_the_checks_nor_the_features():
    above = ("app.checks", "app.inspections", "app.redemptions", "app.catalogue", "app.reports")
    imported = set()
    for path in LEDGER_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add((path.name, node.module))
            elif isinstance(node, ast.Import):
                imported.update((path.name, alias.name) for alias in node.names)
    assert [(name, module) for name, module in imported if module.startswith(above)] == []


def test_the_ledger_and_the_rules_stand_on_the_ground_floor():
    """Issue 28: the ledger imports no feature package and no view; the rules, which
    inspections and the ledger's expiry both read, import neither of them (the
    villages' models aside: rules belong to a village)."""
    features = ("households", "inspections", "villages", "redemptions", "catalogue", "reports")
    ground = {
        "ledger": tuple(f"app.{name}" for name in features),
        "rules": tuple(f"app.{name}" for name in (*features, "ledger")),
    }
    found = []
    for package, above in ground.items():
        for path in (LEDGER_PACKAGE.parent / package).glob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                modules = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.module
                    else [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                found += [
                    (package, path.name, module)
                    for module in modules
                    if (module.startswith(above) or module.endswith(".views"))
                    and (package, module) != ("rules", "app.villages.models")
                ]
    assert found == []


def test_one_villages_verify_counts_and_checks_that_village_only(
    runner, village, household, other_village, make_household
):
    """Issue 32: one village's verify reads its own rows, whatever the county's size."""
    neighbour = make_household(of=other_village, name="邻村户", phone="13900000009")
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    for points in (1, 2, 3):
        ledger.adjust(other_village.id, neighbour.id, points, reason="start", actor_id=None)
    db.session.commit()
    _tamper_with_balance(neighbour)

    own = runner.invoke(args=["ledger", "verify", "--village", village.code])
    theirs = runner.invoke(args=["ledger", "verify", "--village", other_village.code])

    assert own.exit_code == 0
    assert own.output.splitlines()[-1] == "ledger OK: 1 transactions, 2 postings, 0 problems"
    assert theirs.exit_code == 1
    assert theirs.output.splitlines()[-1] == "ledger BROKEN: 3 transactions, 6 postings, 3 problems"
