"""Credits written as a queue: a grade sent alone is a queue of one.

credit_queue() decides grades in order through app/inspections/credits.py and
writes them at once: post_many() posts the points, one INSERT the inspections.
Every grade goes through it: POST /api/v1/inspections and the /inspect page
(through services.inspect_household()) and POST /api/v1/inspections/batch.

The batch adds its items' keys (decide_all()): each item is answered as if it
came alone with its Idempotency-Key. A key seen before answers its first
outcome; the items with new keys are decided by credit_queue(), and their
outcomes kept with their keys in one INSERT. That INSERT fails (IntegrityError)
when another request kept one of the keys meanwhile: the caller rolls back and
decides each item alone, in a savepoint of its own, under its key
(decide_each()), which replays what the other request kept.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import SimpleNamespace
from typing import cast

from flask import Response, current_app, jsonify
from marshmallow import ValidationError
from sqlalchemy import Table

from app.auth.models import User
from app.db import insert_many, utcnow
from app.errors import DomainError, ValidationFailed
from app.inspections import credits
from app.inspections.credits import CreditDecision, CreditFacts
from app.inspections.models import Inspection, InspectionResult
from app.inspections.schemas import InspectionIn, InspectionOut
from app.ledger.services import Leg, post_many
from app.scope import Scope
from app.writes import (
    STORED_REFUSALS,
    StoredOutcome,
    decide_once,
    json_fingerprint,
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

Produce = Callable[[Scope, dict], InspectionResult]
Location = Callable[[InspectionResult], str]
Outcome = InspectionResult | DomainError


def credit_queue(
    inspector: User,
    asked: Sequence[dict],
    *,
    recorded_at: datetime | None = None,
    at: datetime | None = None,
    correction: bool = False,
) -> list[Outcome]:
    """Decide grades in order, each as if it came alone, and credit them at once.

    asked are grades as InspectionIn loads them. Each gets its inspection with the
    household's balance after it, or its refusal; one grade's refusal changes
    nothing for the others. recorded_at is when the server took them (default:
    now); at backdates them (see credits.find()). correction is a grade an admin
    corrects on an appeal (app/appeals): it keeps the inspected_at of the grade it
    replaces, however long ago that was, and is decided as any other.
    """
    recorded_at = recorded_at or utcnow()
    outcomes: list[Outcome | None] = (
        [None] * len(asked) if correction else list(credits.refuse_moments(asked, recorded_at))
    )
    open_items = [n for n, outcome in enumerate(outcomes) if outcome is None]
    village_id = cast(int, inspector.village_id)
    facts = credits.read_facts(
        village_id, credits.named_ids([asked[n] for n in open_items]), recorded_at
    )
    decisions: dict[int, CreditDecision] = {}
    for n in open_items:
        try:
            decisions[n] = credits.find(inspector, asked[n], facts, recorded_at, at)
        except DomainError as error:
            outcomes[n] = error
    slots = credits.read_slots(decisions.values())
    for n, decision in list(decisions.items()):  # in the order asked
        try:
            credits.take_slot(decision, slots)
        except DomainError as error:
            outcomes[n] = error
            del decisions[n]
    written = _write(inspector, list(decisions.values()), facts, at or recorded_at, recorded_at)
    for n, result in zip(decisions, written, strict=True):
        outcomes[n] = result
    return cast(list[Outcome], outcomes)


def _write(
    inspector: User,
    decisions: list[CreditDecision],
    facts: CreditFacts,
    posted_at: datetime,
    recorded_at: datetime,
) -> list[InspectionResult]:
    """Post the decisions' points, insert their inspections: each with its balance after."""
    if not decisions:
        return []
    journals: dict[int, tuple[int, int]] = {}  # decision's index -> journal id, balance
    paid = [n for n, d in enumerate(decisions) if cast(credits.Grade, d.chosen).points]
    if paid:
        legs = [
            (
                Leg(
                    cast(int, facts.issuance_id), decisions[n].account, _chosen(decisions[n]).points
                ),
                credits.credit_memo(_chosen(decisions[n])),
                inspector.id,
            )
            for n in paid
        ]
        posted = post_many(cast(int, inspector.village_id), "inspection", legs, at=posted_at)
        for n, journal in zip(paid, posted, strict=True):
            journals[n] = (journal.id, journal.balances[decisions[n].account])
    balances = _balances_after(decisions, journals, facts)
    rows = [
        _inspection_row(d, inspector, journals.get(n, (None, 0))[0], recorded_at)
        for n, d in enumerate(decisions)
    ]
    ids = insert_many(inspections, rows, ids=True)  # one statement for any queue
    return [
        InspectionResult(_written(inspection_id, row), d.household.code, balance)
        for d, row, inspection_id, balance in zip(decisions, rows, ids, balances, strict=True)
    ]


def _chosen(decision: CreditDecision) -> credits.Grade:
    return cast(credits.Grade, decision.chosen)


def _balances_after(
    decisions: list[CreditDecision], journals: dict[int, tuple[int, int]], facts: CreditFacts
) -> list[int]:
    """Each decision's household balance after it.

    A grade of no points shows the balance after the credits before it: each
    household's balance walks from its first posting back, or from what was read.
    """
    balances: dict[int, int] = {}
    for n in reversed(range(len(decisions))):
        if n in journals:
            balances[decisions[n].household.id] = journals[n][1] - _chosen(decisions[n]).points
    after = []
    for n, decision in enumerate(decisions):
        household_id = decision.household.id
        balances.setdefault(household_id, facts.accounts[household_id][1])
        if n in journals:
            balances[household_id] = journals[n][1]
        after.append(balances[household_id])
    return after


def _inspection_row(
    decision: CreditDecision, inspector: User, journal_id: int | None, recorded_at: datetime
) -> dict:
    chosen = _chosen(decision)
    return {
        "village_id": decision.household.village_id,
        "household_id": decision.household.id,
        "grid_id": decision.household.grid_id,
        "inspector_id": inspector.id,
        "grade": chosen.grade,
        "points": chosen.points,
        "note": decision.note,
        "local_date": decision.day,
        "slot": decision.slot,
        "rules_id": decision.rules.id,
        "journal_id": journal_id,
        "created_at": decision.moment,
        "recorded_at": recorded_at,
    }


def _written(inspection_id: int, row: dict) -> Inspection:
    """An inspection just inserted, as its answer reads it.

    Not an ORM object: making 100 of those cost more than the rest of their answers.
    """
    return cast(
        Inspection,
        SimpleNamespace(id=inspection_id, photo=None, voided_at=None, void_reason=None, **row),
    )


# The batch: its items' keys ------------------------------------------------------------


@dataclass
class _Item:
    """One queued inspection: as sent, as loaded, and its outcome once decided."""

    key: str
    body: dict
    digest: str
    data: dict | None = None
    outcome: StoredOutcome | None = None
    # The item before it in the queue with the same key, which answers for it.
    earlier: "_Item | None" = None
    # A credit's inspection as its answer shows it (its outcome's body, not parsed again).
    inspection_json: dict | None = None


def _items(scope: Scope, path: str, sent: list[dict]) -> list[_Item]:
    items = []
    for raw in sent:
        body = {name: value for name, value in raw.items() if name != "key"}
        item = _Item(raw["key"], body, json_fingerprint("POST", path, scope.user_id, body))
        try:
            item.data = _ITEM_IN.load(body)
        except ValidationError as error:
            item.outcome = StoredOutcome.of(
                problem_response(
                    ValidationFailed(
                        "The request did not pass validation.", errors=error.normalized_messages()
                    )
                )
            )
        items.append(item)
    return items


def answer(key: str, outcome: StoredOutcome, inspection_json: dict | None = None) -> dict:
    """An item's outcome as the batch shows it: its status and body."""
    body = inspection_json if inspection_json is not None else json.loads(outcome.body)
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
    """Decide each item alone through produce() (the single request), in its savepoint."""
    outcomes = []
    for item in _items(scope, path, sent):
        if item.outcome is None:
            made = partial(_created_by, produce, scope, cast(dict, item.data), location)
            try:
                item.outcome = StoredOutcome.of(
                    decide_once(scope.village_id, item.key, item.digest, made)
                )
            except DomainError as error:
                item.outcome = StoredOutcome.of(problem_response(error))
        outcomes.append(answer(item.key, item.outcome))
    return outcomes


def decide_all(scope: Scope, path: str, sent: list[dict], location: Location) -> list[dict]:
    """Answer the queue's items under their keys; decide those with new keys at once.

    Raises IntegrityError when another request kept one of the keys meanwhile; the
    caller rolls back and uses decide_each().
    """
    items = _items(scope, path, sent)
    new = _new_keys(scope.village_id, [item for item in items if item.outcome is None])
    outcomes = credit_queue(scope.user, [cast(dict, item.data) for item in new])
    created = [o for o in outcomes if isinstance(o, InspectionResult)]
    shown = iter(_ITEM_OUT.dump(created, many=True))
    for item, outcome in zip(new, outcomes, strict=True):
        if isinstance(outcome, DomainError):
            item.outcome = StoredOutcome.of(problem_response(outcome))
            continue
        item.inspection_json = next(shown)
        item.outcome = StoredOutcome(201, _json_body(item.inspection_json), location(outcome))
    store_all(
        scope.village_id,
        [
            (item.key, item.digest, cast(StoredOutcome, item.outcome))
            for item in new
            if cast(StoredOutcome, item.outcome).status_code in STORED_REFUSALS | {201}
        ],
    )
    answers = []
    for item in items:
        first = item.earlier or item
        answers.append(answer(item.key, cast(StoredOutcome, first.outcome), first.inspection_json))
    return answers


def _new_keys(village_id: int, loaded: list[_Item]) -> list[_Item]:
    """Answer the items whose key was seen before; return those to decide, in order.

    A key kept by an earlier request replays its outcome; a key sent again in the
    queue answers as the item before it. Either way another request under the key
    is refused (idempotency_conflict).
    """
    seen = stored_outcomes(village_id, {item.key for item in loaded})
    first: dict[str, _Item] = {}
    new = []
    for item in loaded:
        try:
            if item.key in seen:
                item.outcome = StoredOutcome.of(replayed(seen[item.key], item.digest))
            elif item.key in first:
                same_request(first[item.key].digest, item.digest)
                item.earlier = first[item.key]
            else:
                first[item.key] = item
                new.append(item)
        except DomainError as error:
            item.outcome = StoredOutcome.of(problem_response(error))
    return new
