"""Issue 32: one village's verify reads that village's rows only (each table by its own
village_id, entries through their index), and finds there what the county's verify finds."""

import json

import pytest
from sqlalchemy import select, text

from app.db import db
from app.ledger import services as ledger
from app.ledger.models import Account, Journal
from app.ledger.verify import VerifyReport, verify


def _without_triggers(statement: str, params: dict) -> None:
    """Run a statement that the append-only triggers would refuse (scratch data only)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for name in ("entries_no_delete", "entries_no_update", "journals_no_update"):
            db.session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    db.session.execute(text(statement), params)
    db.session.commit()


def _account_of(household) -> int:
    return db.session.scalar(select(Account.id).where(Account.household_id == household.id))


def _listed(report: VerifyReport) -> list[str]:
    return sorted(json.dumps(p.to_dict(), sort_keys=True, default=int) for p in report.problems)


@pytest.fixture
def county(make_village, make_household):
    """Three villages, each with a household that has three movements."""
    villages = [make_village() for _ in range(3)]
    households = [make_household(of=village, name="马秀英") for village in villages]
    for village, household in zip(villages, households, strict=True):
        for points in (5, 4, -2):
            ledger.adjust(village.id, household.id, points, reason="start", actor_id=None)
    db.session.commit()
    return villages, households


def _a_balance_off(county) -> None:
    _, households = county
    db.session.execute(
        text("UPDATE accounts SET balance = balance + 1 WHERE id = :id"),
        {"id": _account_of(households[1])},
    )
    db.session.commit()


def _an_entry_removed(county) -> None:
    _, households = county
    _without_triggers(
        "DELETE FROM entries WHERE account_id = :id AND version = 2",
        {"id": _account_of(households[1])},
    )


def _an_amount_changed(county) -> None:
    _, households = county
    _without_triggers(
        "UPDATE entries SET delta = 6, balance_after = 6 WHERE account_id = :id AND version = 1",
        {"id": _account_of(households[1])},
    )


def _a_journal_moved_to_another_village(county) -> None:
    villages, _ = county
    journal_id = db.session.scalar(
        select(Journal.id).where(Journal.village_id == villages[1].id).order_by(Journal.id)
    )
    _without_triggers(
        "UPDATE journals SET village_id = :other WHERE id = :id",
        {"other": villages[2].id, "id": journal_id},
    )


@pytest.mark.parametrize(
    "tamper",
    [_a_balance_off, _an_entry_removed, _an_amount_changed, _a_journal_moved_to_another_village],
)
def test_the_countys_verify_finds_what_its_villages_verifies_find(county, tamper):
    villages, _ = county
    tamper(county)

    whole = verify()
    each = [verify(village.id) for village in villages]

    assert not whole.ok
    assert [report.ok for report in each] == [True, False, True]
    assert _listed(whole) == sorted(line for report in each for line in _listed(report))
    assert whole.transactions == sum(report.transactions for report in each)
    assert whole.postings == sum(report.postings for report in each)


def test_each_village_counts_its_own_transactions_and_postings(county):
    villages, _ = county

    counts = [(r.transactions, r.postings) for r in (verify(v.id) for v in villages)]

    # Three adjustments a village, two entries each.
    assert counts == [(3, 6), (3, 6), (3, 6)]
    assert verify().ok and (verify().transactions, verify().postings) == (9, 18)


def test_an_entry_that_names_another_village_is_found_by_both_verifies(county):
    villages, households = county
    account_id = _account_of(households[1])
    _without_triggers(
        "UPDATE entries SET village_id = :other WHERE account_id = :id AND version = 1",
        {"other": villages[0].id, "id": account_id},
    )

    for report in (verify(), verify(villages[1].id)):
        found = {(p.check, p.ids.get("account_id")) for p in report.problems}
        assert ("account_balance", account_id) in found
        assert ("account_version", account_id) in found
