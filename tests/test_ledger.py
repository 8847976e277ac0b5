"""The ledger's rules, on the service layer."""

from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.db import db, utcnow
from app.errors import AlreadyReversed, InsufficientPoints, NotFound, ValidationFailed
from app.ledger import services as ledger
from app.ledger.labels import journal_kind_label
from app.ledger.models import EXPIRY, ISSUANCE, Account, Entry, Journal, JournalKind, Transfer


def household_balance(household) -> int:
    return ledger.household_account(household.id).balance


def test_a_new_village_has_its_system_accounts(village):
    kinds = set(db.session.scalars(select(Account.kind).where(Account.village_id == village.id)))
    assert kinds == {"issuance", "redemption", "adjustment", "expiry"}


def test_credit_moves_points_from_issuance_to_the_household(village, household):
    ledger.credit(village.id, household.id, 3, kind="inspection", memo="A", actor_id=None)
    db.session.commit()
    assert household_balance(household) == 3
    assert ledger.balance(ledger.system_account_id(village.id, ISSUANCE)) == -3
    assert ledger.verify().ok


def test_a_debit_below_zero_is_refused_and_changes_nothing(village, household):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    db.session.commit()
    with pytest.raises(InsufficientPoints):
        ledger.adjust(village.id, household.id, -6, reason="too much", actor_id=None)
    db.session.rollback()
    assert household_balance(household) == 5
    assert db.session.scalar(select(db.func.count(Journal.id))) == 1


def test_a_debit_to_exactly_zero_is_allowed(village, household):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    ledger.adjust(village.id, household.id, -5, reason="all of it", actor_id=None)
    db.session.commit()
    assert household_balance(household) == 0


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, ledger.MAX_AMOUNT + 1])
def test_a_transfer_moves_a_positive_whole_number(village, household, amount):
    account = ledger.household_account(household.id)
    issuance = ledger.system_account_id(village.id, ISSUANCE)
    with pytest.raises(ValidationFailed):
        ledger.post(
            village.id, JournalKind.ADJUSTMENT, [ledger.Leg(issuance, account.id, amount)], memo="x"
        )


def test_a_transfer_needs_two_accounts_and_a_journal_needs_a_transfer(village, household):
    account = ledger.household_account(household.id)
    with pytest.raises(ValidationFailed):
        ledger.post(
            village.id, JournalKind.ADJUSTMENT, [ledger.Leg(account.id, account.id, 1)], memo="x"
        )
    with pytest.raises(ValidationFailed):
        ledger.post(village.id, JournalKind.ADJUSTMENT, [], memo="x")


def test_every_journal_kind_can_be_posted(village, household, make_household):
    account = ledger.household_account(household.id).id
    other = ledger.household_account(make_household(name="王建国").id).id
    issuance = ledger.system_account_id(village.id, ISSUANCE)
    expiry = ledger.system_account_id(village.id, EXPIRY)
    # As verify wants them: a transfer between two households, a forfeit of all that is left.
    legs = {
        JournalKind.TRANSFER: lambda: [ledger.Leg(account, other, 1)],
        JournalKind.FORFEIT: lambda: [ledger.Leg(other, expiry, 1)],
    }
    last = [JournalKind.TRANSFER, JournalKind.FORFEIT]
    for kind in [k for k in JournalKind if k not in last] + last:
        leg = legs.get(kind, lambda: [ledger.Leg(issuance, account, 1)])
        ledger.post(village.id, kind, leg(), memo=kind)
    db.session.commit()
    assert sorted(db.session.scalars(select(Journal.kind))) == sorted(JournalKind)
    assert ledger.verify().ok


def test_posting_a_journal_of_no_known_kind_is_refused(village, household):
    account = ledger.household_account(household.id).id
    issuance = ledger.system_account_id(village.id, ISSUANCE)
    with pytest.raises(ValidationFailed):
        ledger.post(village.id, "bonus", [ledger.Leg(issuance, account, 1)], memo="x")
    db.session.rollback()
    assert household_balance(household) == 0


def test_the_database_refuses_a_journal_of_no_known_kind(village):
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO journals (village_id, kind, memo, created_at) "
                "VALUES (:village, 'bonus', 'x', :now)"
            ),
            {"village": village.id, "now": utcnow()},
        )
    db.session.rollback()
    assert db.session.scalar(select(db.func.count(Journal.id))) == 0


def test_every_journal_kind_has_its_own_words_in_each_language(app):
    words = {}
    for language in app.config["LANGUAGES"]:
        with app.test_request_context(), force_locale(language):
            words[language] = [journal_kind_label(kind) for kind in JournalKind]
    assert all(not word.isascii() for word in words["zh_CN"])
    assert all(word.isascii() for word in words["en"])
    assert all(len(set(named)) == len(JournalKind) for named in words.values())


def test_posting_to_another_villages_account_is_refused(village, make_village, make_household):
    other = make_village()
    stranger = make_household(of=other)
    issuance = ledger.system_account_id(village.id, ISSUANCE)
    with pytest.raises(NotFound):
        ledger.post(
            village.id,
            JournalKind.ADJUSTMENT,
            [ledger.Leg(issuance, ledger.household_account(stranger.id).id, 1)],
            memo="x",
        )
    db.session.rollback()
    assert household_balance(stranger) == 0


def test_every_entry_keeps_the_balance_after_it(village, household):
    for amount in (3, 2, -4, 7):
        ledger.adjust(village.id, household.id, amount, reason=f"{amount}", actor_id=None)
    db.session.commit()
    lines = ledger.statement(ledger.household_account(household.id).id)
    assert [(line.amount, line.balance_after) for line in lines] == [
        (7, 8),
        (-4, 1),
        (2, 5),
        (3, 3),
    ]
    assert [line.version for line in lines] == [4, 3, 2, 1]


def test_statement_pages_by_version(village, household):
    for _ in range(5):
        ledger.adjust(village.id, household.id, 1, reason="one", actor_id=None)
    db.session.commit()
    account = ledger.household_account(household.id)
    first = ledger.statement(account.id, limit=2)
    second = ledger.statement(account.id, limit=2, before_version=first[-1].version)
    assert [line.balance_after for line in first + second] == [5, 4, 3, 2]


def test_balance_as_of_a_past_moment(village, household):
    account = ledger.household_account(household.id)
    before = utcnow()
    ledger.adjust(village.id, household.id, 4, reason="first", actor_id=None)
    db.session.commit()
    middle = utcnow()
    ledger.adjust(village.id, household.id, 6, reason="second", actor_id=None)
    db.session.commit()
    assert ledger.balance_as_of(account.id, before - timedelta(seconds=1)) == 0
    assert ledger.balance_as_of(account.id, middle) == 4
    assert ledger.balance_as_of(account.id, utcnow()) == 10


def test_a_reversal_mirrors_the_original_once(village, household, admin):
    journal = ledger.credit(village.id, household.id, 3, kind="inspection", memo="A", actor_id=None)
    db.session.commit()
    reversal = ledger.reverse(
        journal.id, village_id=village.id, actor_id=admin.id, reason="wrong household"
    )
    db.session.commit()
    assert reversal.reverses_id == journal.id
    assert reversal.actor_id == admin.id and reversal.reason == "wrong household"
    assert household_balance(household) == 0
    with pytest.raises(AlreadyReversed):
        ledger.reverse(journal.id, village_id=village.id, actor_id=admin.id, reason="again")
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        ledger.reverse(reversal.id, village_id=village.id, actor_id=admin.id, reason="undo")
    db.session.rollback()
    assert household_balance(household) == 0
    assert ledger.verify().ok


def test_a_reversal_of_spent_points_is_refused(village, household):
    journal = ledger.credit(village.id, household.id, 3, kind="inspection", memo="A", actor_id=None)
    ledger.adjust(village.id, household.id, -2, reason="spent", actor_id=None)
    db.session.commit()
    with pytest.raises(InsufficientPoints):
        ledger.reverse(journal.id, village_id=village.id, actor_id=None, reason="void")
    db.session.rollback()
    assert household_balance(household) == 1
    assert db.session.scalar(select(Journal.id).where(Journal.reverses_id == journal.id)) is None


def test_another_villages_journal_cannot_be_reversed(village, make_village, make_household):
    other = make_village()
    stranger = make_household(of=other, points=5)
    journal_id = db.session.scalar(select(Journal.id).where(Journal.village_id == other.id))
    with pytest.raises(NotFound):
        ledger.reverse(journal_id, village_id=village.id, actor_id=None, reason="x")
    db.session.rollback()
    assert household_balance(stranger) == 5


@pytest.mark.parametrize("table", ["journals", "transfers", "entries"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET village_id = village_id",
        "DELETE FROM {table}",
    ],
)
def test_ledger_tables_refuse_update_and_delete(app, village, household, table, statement):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement.format(table=table)))
        db.session.flush()
    db.session.rollback()
    assert household_balance(household) == 5
    assert ledger.verify().ok


def test_the_database_refuses_a_negative_household_balance(app, village, household):
    account = ledger.household_account(household.id)
    with pytest.raises(DBAPIError):
        db.session.execute(
            text("UPDATE accounts SET balance = -1 WHERE id = :id"), {"id": account.id}
        )
        db.session.flush()
    db.session.rollback()


def test_the_database_refuses_a_zero_transfer(app, village, household):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    db.session.commit()
    transfer = db.session.scalars(select(Transfer)).first()
    with pytest.raises(DBAPIError):
        db.session.execute(
            text(
                "INSERT INTO transfers (journal_id, village_id, debit_account_id, "
                "credit_account_id, amount) VALUES (:j, :v, :d, :c, 0)"
            ),
            {
                "j": transfer.journal_id,
                "v": village.id,
                "d": transfer.debit_account_id,
                "c": transfer.credit_account_id,
            },
        )
    db.session.rollback()


# verify: it passes on good data and names what is wrong on bad data.


def test_verify_passes_on_a_good_ledger(village, household, make_household):
    other = make_household(name="王建国")
    ledger.credit(village.id, household.id, 10, kind="inspection", memo="A", actor_id=None)
    mistake = ledger.credit(village.id, other.id, 2, kind="inspection", memo="C", actor_id=None)
    ledger.adjust(village.id, household.id, -3, reason="fix", actor_id=None)
    ledger.reverse(mistake.id, village_id=village.id, actor_id=None, reason="void")
    db.session.commit()
    report = ledger.verify()
    assert report.ok and report.problems == []
    assert report.transactions == 4
    assert report.postings == 8


def test_verify_names_an_account_whose_cached_balance_was_tampered_with(village, household):
    ledger.adjust(village.id, household.id, 5, reason="start", actor_id=None)
    db.session.commit()
    account = ledger.household_account(household.id)
    db.session.execute(
        text("UPDATE accounts SET balance = balance + 1 WHERE id = :id"), {"id": account.id}
    )
    db.session.commit()
    report = ledger.verify()
    assert not report.ok
    tampered = [p.to_dict() for p in report.problems if p.check == "account_balance"]
    assert tampered == [
        {
            "check": "account_balance",
            "account_id": account.id,
            "expected": 5,
            "actual": 6,
            "detail": tampered[0]["detail"],
        }
    ]
    assert f"account {account.id}" in tampered[0]["detail"]


def _without_triggers(statement: str, params: dict) -> None:
    """Run a statement that the append-only triggers would refuse (scratch data only)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for name in ("entries_no_delete", "entries_no_update"):
            db.session.execute(text(f"DROP TRIGGER {name}"))
    db.session.execute(text(statement), params)
    db.session.commit()


def test_verify_names_the_account_when_an_entry_is_removed(village, household):
    for amount in (5, 4, 3):
        ledger.adjust(village.id, household.id, amount, reason="in", actor_id=None)
    db.session.commit()
    account = ledger.household_account(household.id)
    _without_triggers(
        "DELETE FROM entries WHERE account_id = :id AND version = 2", {"id": account.id}
    )
    report = ledger.verify()
    assert not report.ok
    named = {(p.check, p.ids.get("account_id")) for p in report.problems}
    assert ("account_balance", account.id) in named
    assert ("entry_chain", account.id) in named
    assert ("balance", None) in named  # the transfer lost one of its two entries


def test_verify_catches_a_changed_entry_amount(village, household):
    ledger.adjust(village.id, household.id, 5, reason="in", actor_id=None)
    db.session.commit()
    account = ledger.household_account(household.id)
    _without_triggers(
        "UPDATE entries SET delta = 6, balance_after = 6 WHERE account_id = :id", {"id": account.id}
    )
    report = ledger.verify(village.id)
    assert {p.check for p in report.problems} >= {"account_balance", "balance"}


def test_verify_is_scoped_to_a_village(village, household, make_village, make_household):
    other = make_village()
    stranger = make_household(of=other, points=4)
    ledger.adjust(village.id, household.id, 5, reason="in", actor_id=None)
    db.session.commit()
    account = ledger.household_account(stranger.id)
    db.session.execute(text("UPDATE accounts SET balance = 9 WHERE id = :id"), {"id": account.id})
    db.session.commit()
    assert ledger.verify(village.id).ok
    assert not ledger.verify(other.id).ok
    assert not ledger.verify().ok


def test_entries_are_one_per_account_per_transfer(village, household):
    ledger.adjust(village.id, household.id, 5, reason="in", actor_id=None)
    db.session.commit()
    entries = db.session.scalars(select(Entry).order_by(Entry.delta)).all()
    assert [(e.delta, e.balance_after) for e in entries] == [(-5, -5), (5, 5)]
