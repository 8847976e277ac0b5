"""A queue of inspections sent at once (POST /api/v1/inspections/batch).

Each item is decided as if it came alone with its Idempotency-Key. Two ways give
the same outcomes:

- decide_all(), the usual way: everything the queue decides on is read at once,
  each item is decided in order in Python by the same rules as a single credit
  (check_inspectable(), choose_slot()), and what it writes goes in a few
  statements (post_many(), one INSERT of the inspections, one of the keys). It
  reads without locks, so a slot or a key taken meanwhile by another request
  fails an INSERT (IntegrityError): the caller rolls back and decides again the
  other way.
- decide_each(): each item through the single request's path, in a savepoint of
  its own (decide_once()).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from types import SimpleNamespace
from typing import cast

from flask import Response, current_app, jsonify
from marshmallow import ValidationError
from sqlalchemy import Table

from app.db import insert_many, utcnow
from app.errors import DomainError, InvalidQr, NotFound, ValidationFailed
from app.households.cards import household_by_ref, read_token
from app.households.models import Household
from app.inspections import services
from app.inspections.models import Inspection
from app.inspections.schemas import InspectionIn, InspectionOut
from app.ledger.services import Leg, post_many
from app.scope import Scope, local_date
from app.writes import (
    STORED_REFUSALS,
    Kept,
    decide_once,
    json_fingerprint,
    kept,
    problem_response,
    replayed,
    same_request,
    store_all,
    stored_outcomes,
)

inspections = cast(Table, Inspection.__table__)

# Made once: a marshmallow schema is costly to make, and a batch has up to 100 items.
_ITEM_IN = InspectionIn()
_ITEM_OUT = InspectionOut()

Produce = Callable[[Scope, dict], services.InspectionResult]
Location = Callable[[services.InspectionResult], str]


@dataclass
class _Credit:
    """A credit decided and not yet written."""

    household: Household
    account: int
    rules: services.Rules
    day: date
    moment: datetime
    chosen: services.Grade | None = None
    slot: int = 0
    journal_id: int | None = None
    balance: int = 0


@dataclass
class _Item:
    """One queued inspection: as sent, as loaded, and its outcome once decided."""

    key: str
    body: dict
    digest: str
    data: dict | None = None
    answer: Kept | None = None
    credit: _Credit | None = None
    refusal: DomainError | None = None
    same_as: "_Item | None" = None  # the item before it with the same key
    shown: dict | None = None  # a credit's inspection as its answer shows it


def _items(scope: Scope, path: str, sent: list[dict]) -> list[_Item]:
    items = []
    for raw in sent:
        body = {name: value for name, value in raw.items() if name != "key"}
        item = _Item(raw["key"], body, json_fingerprint("POST", path, scope.user_id, body))
        try:
            item.data = _ITEM_IN.load(body)
        except ValidationError as error:
            item.answer = kept(
                problem_response(
                    ValidationFailed(
                        "The request did not pass validation.", errors=error.normalized_messages()
                    )
                )
            )
        items.append(item)
    return items


def answer(key: str, outcome: Kept, shown: dict | None = None) -> dict:
    """An item's outcome as the batch shows it: its status and body (shown, if dumped)."""
    body = shown if shown is not None else json.loads(outcome.body)
    if outcome.status_code < 300:
        return {"key": key, "status": outcome.status_code, "inspection": body}
    return {"key": key, "status": outcome.status_code, "problem": body}


def _created_by(produce: Produce, scope: Scope, data: dict, location: Location) -> Response:
    """The 201 a single request would have got."""
    result = produce(scope, data)
    response = jsonify(_ITEM_OUT.dump(result))
    response.status_code = 201
    response.headers["Location"] = location(result)
    return response


def _json_body(shown: dict) -> str:
    """The body jsonify() makes of shown (what a single request's 201 carries and keeps).

    Written without a Response: a queue makes up to 100. Flask's rule: indented in
    debug mode unless the app asked for compact JSON, else compact.
    """
    provider = current_app.json
    compact = getattr(provider, "compact", None)
    if compact is False or (compact is None and current_app.debug):
        return provider.dumps(shown, indent=2) + "\n"
    return provider.dumps(shown, separators=(",", ":")) + "\n"


def decide_each(
    scope: Scope, path: str, sent: list[dict], produce: Produce, location: Location
) -> list[dict]:
    """Decide each item through produce() (the single request's path), in its savepoint."""
    outcomes = []
    for item in _items(scope, path, sent):
        if item.answer is None:
            made = partial(_created_by, produce, scope, cast(dict, item.data), location)
            try:
                item.answer = kept(decide_once(scope.village_id, item.key, item.digest, made))
            except DomainError as error:
                item.answer = kept(problem_response(error))
        outcomes.append(answer(item.key, item.answer))
    return outcomes


def decide_all(scope: Scope, path: str, sent: list[dict], location: Location) -> list[dict]:
    """Decide the queue's items in order from one read, and write them at once.

    Raises IntegrityError when another request took a slot or a key meanwhile; the
    caller rolls back and uses decide_each().
    """
    recorded_at = utcnow()
    items = _items(scope, path, sent)
    loaded = [item for item in items if item.answer is None]
    seen = stored_outcomes(scope.village_id, {item.key for item in loaded})
    # A moment out of bounds is refused before the reads all items share: one of
    # no UTC form (the year 1, the year 9999) would fail them for every item.
    for item in loaded:
        if item.key not in seen:
            try:
                _check_moment(cast(dict, item.data))
            except DomainError as error:
                item.refusal = error
    moments = [
        cast(dict, item.data).get("inspected_at") or recorded_at
        for item in loaded
        if item.key not in seen and item.refusal is None
    ]
    known = services.read_round(
        scope.village_id, _household_ids(loaded), min(moments, default=recorded_at)
    )

    # Who each item names, on what day and by which rules: what needs no order.
    for item in loaded:
        if item.key not in seen and item.refusal is None:
            try:
                item.credit = _find(scope, item, known, recorded_at)
            except DomainError as error:
                item.refusal = error
    slots = services.slots_of(
        {(i.credit.household.id, i.credit.day) for i in loaded if i.credit is not None}
    )

    # In order, as if each came alone: a key seen before answers its first outcome.
    first: dict[str, _Item] = {}
    for item in loaded:
        if item.key in seen or item.key in first:
            item.credit = None
            try:
                if item.key in seen:
                    item.answer = kept(replayed(seen[item.key], item.digest))
                else:
                    same_request(first[item.key].digest, item.digest)
                    item.same_as = first[item.key]
            except DomainError as error:
                item.answer = kept(problem_response(error))
            continue
        try:
            if item.refusal is not None:
                raise item.refusal
            _choose(cast(_Credit, item.credit), cast(dict, item.data)["grade"], slots)
        except DomainError as error:
            item.answer, item.credit = kept(problem_response(error)), None
            if error.status in STORED_REFUSALS:
                first[item.key] = item
            continue
        first[item.key] = item

    _write(scope, [i for i in loaded if i.credit is not None], known, recorded_at, location)
    store_all(
        scope.village_id,
        [(item.key, item.digest, cast(Kept, item.answer)) for item in first.values()],
    )
    outcomes = []
    for item in items:
        shows = item.same_as or item  # a key sent again in the queue answers as its first
        outcomes.append(answer(item.key, cast(Kept, shows.answer), shows.shown))
    return outcomes


def _household_ids(items: list[_Item]) -> set[int]:
    """The households the items name, by id or by a card that reads (checked later)."""
    ids = set()
    for item in items:
        data = cast(dict, item.data)
        if data.get("payload") is None:
            ids.add(data["household_id"])
            continue
        try:
            ids.add(read_token(data["payload"])[1])
        except InvalidQr:
            pass
    return ids


def _check_moment(data: dict) -> None:
    """Refuse an item graded too long ago or ahead of the clock, as the single request does."""
    if data.get("inspected_at") is not None:
        services.check_inspected_at(data["inspected_at"])


def _find(scope: Scope, item: _Item, known: services.Round, recorded_at: datetime) -> _Credit:
    """Find the item's household, day and rules as the single request would, or refuse."""
    data = cast(dict, item.data)
    inspected_at = data.get("inspected_at")
    if inspected_at is None or data.get("payload") is None:
        household = household_by_ref(scope.village_id, data)
    else:
        household = services.household_at(scope.village_id, data, inspected_at)
    services.check_inspectable(household, scope.user)
    moment = inspected_at or recorded_at
    rules = known.rules_at(moment)
    if rules is None:
        raise NotFound("The village has no rules yet.")
    if household.id not in known.accounts:  # pragma: no cover - every household has one
        raise NotFound("No such household.")
    account = known.accounts[household.id][0]
    return _Credit(household, account, rules, local_date(moment, known.zone), moment)


def _choose(credit: _Credit, grade: str, slots: dict[tuple[int, date], tuple[int, int]]) -> None:
    """Take the credit's slot of its day by its rules, counting the items before it."""
    pair = (credit.household.id, credit.day)
    counted, highest = slots[pair]
    credit.chosen, credit.slot = services.choose_slot(credit.rules, grade, counted, highest)
    slots[pair] = (counted + 1, credit.slot)


def _write(
    scope: Scope,
    items: list[_Item],
    known: services.Round,
    recorded_at: datetime,
    location: Location,
) -> None:
    """Post the credits' points, insert their inspections, and make each its 201."""
    credits = [cast(_Credit, item.credit) for item in items]
    paid = [credit for credit in credits if cast(services.Grade, credit.chosen).points]
    if paid:
        issuance = cast(int, known.issuance_id)
        legs = [
            (
                Leg(issuance, credit.account, cast(services.Grade, credit.chosen).points),
                services.credit_memo(cast(services.Grade, credit.chosen)),
                scope.user_id,
            )
            for credit in paid
        ]
        for credit, journal in zip(
            paid, post_many(scope.village_id, "inspection", legs, at=recorded_at), strict=True
        ):
            credit.journal_id, credit.balance = journal.id, journal.balances[credit.account]
    # A grade of no points shows the balance after the credits before it: each
    # household's balance walks from its first posting back, or from what was read.
    balances: dict[int, int] = {}
    for credit in reversed(credits):
        household_id = credit.household.id
        if credit.journal_id is not None:
            balances[household_id] = credit.balance - cast(services.Grade, credit.chosen).points
    for credit in credits:
        household_id = credit.household.id
        balances.setdefault(household_id, known.accounts[household_id][1])
        if credit.journal_id is not None:
            balances[household_id] = credit.balance
        credit.balance = balances[household_id]

    rows = []
    for item, credit in zip(items, credits, strict=True):
        row = services.inspection_row(
            credit.household,
            scope.user,
            cast(services.Grade, credit.chosen),
            credit.rules,
            cast(dict, item.data).get("note"),
            credit.day,
            credit.moment,
            recorded_at,
        )
        row["journal_id"], row["slot"] = credit.journal_id, credit.slot
        rows.append(row)
    if not rows:
        return
    ids = insert_many(inspections, rows, ids=True)
    results = [
        services.InspectionResult(
            _written(inspection_id, row), credit.household.code, credit.balance
        )
        for credit, row, inspection_id in zip(credits, rows, ids, strict=True)
    ]
    for item, result, shown in zip(items, results, _ITEM_OUT.dump(results, many=True), strict=True):
        item.answer, item.shown = Kept(201, _json_body(shown), location(result)), shown


def _written(inspection_id: int, row: dict) -> Inspection:
    """An inspection just inserted, as its answer reads it.

    Not an ORM object: making 100 of those cost more than the rest of their answers.
    """
    return cast(
        Inspection,
        SimpleNamespace(id=inspection_id, photo=None, voided_at=None, void_reason=None, **row),
    )
