"""A second pair of eyes on large adjustments (maker-checker).

When the village's rules set adjustment_approval_over, an adjustment of more points
than that (either way) is kept as pending and moves nothing; another admin approves
it, which posts it through services.adjust() like any adjustment, or rejects it
with a reason. Each step is audited. A decision claims the pending row with one
conditional UPDATE, so of two taps (or two admins) at once only one decides.
"""

from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update

from app.audit.services import (
    ADJUSTMENT_APPROVED,
    ADJUSTMENT_REJECTED,
    ADJUSTMENT_REQUESTED,
    record,
)
from app.db import db, utcnow
from app.errors import AlreadyDecided, NotFound, SamePerson
from app.ledger.models import ADJUSTMENT, APPROVED, PENDING, REJECTED, PendingAdjustment
from app.ledger.services import Posted, adjust, posting_accounts
from app.rules.services import current_rules

pending_adjustments = cast(Table, PendingAdjustment.__table__)


def needs_approval(village_id: int, amount: int) -> bool:
    """Tell whether the rules make an adjustment of amount wait for a second admin."""
    over = current_rules(village_id).fairness.adjustment_approval_over
    return over is not None and abs(amount) > over


def request(
    village_id: int, household_id: int, amount: int, *, reason: str, actor_id: int
) -> PendingAdjustment:
    """Keep an adjustment as pending: nothing moves until another admin approves it."""
    posting_accounts(village_id, household_id, ADJUSTMENT)  # the household is the village's
    pending = PendingAdjustment(
        village_id=village_id,
        household_id=household_id,
        amount=amount,
        reason=reason,
        state=PENDING,
        requested_by=actor_id,
    )
    db.session.add(pending)
    db.session.flush()
    record(
        village_id,
        actor_id,
        ADJUSTMENT_REQUESTED,
        "household",
        household_id,
        {"adjustment_id": pending.id, "amount": amount},
        reason,
    )
    return pending


def get_pending(village_id: int, adjustment_id: int) -> PendingAdjustment:
    pending = db.session.get(PendingAdjustment, adjustment_id)
    if pending is None or pending.village_id != village_id:
        raise NotFound("No such adjustment.")
    return pending


def _claim(
    pending: PendingAdjustment, actor_id: int, state: str, reject_reason: str | None = None
) -> datetime:
    """Decide a pending adjustment once: a second decision finds it decided."""
    if pending.requested_by == actor_id:
        raise SamePerson("Another admin must approve or reject this adjustment.")
    now = utcnow()
    claimed = db.session.execute(
        update(pending_adjustments)
        .where(pending_adjustments.c.id == pending.id, pending_adjustments.c.state == PENDING)
        .values(state=state, decided_by=actor_id, decided_at=now, reject_reason=reject_reason)
        .returning(pending_adjustments.c.id)
    ).scalar_one_or_none()
    if claimed is None:
        raise AlreadyDecided("This adjustment was already decided.")
    return now


def approve(village_id: int, adjustment_id: int, *, actor_id: int) -> Posted:
    """Post a pending adjustment, by an admin other than the one who asked for it."""
    pending = get_pending(village_id, adjustment_id)
    with db.session.begin_nested():  # a refusal (not enough points) leaves it pending
        _claim(pending, actor_id, APPROVED)
        posted = adjust(
            village_id,
            pending.household_id,
            pending.amount,
            reason=pending.reason,
            actor_id=actor_id,
        )
        db.session.execute(
            update(pending_adjustments)
            .where(pending_adjustments.c.id == pending.id)
            .values(journal_id=posted.id)
        )
        record(
            village_id,
            actor_id,
            ADJUSTMENT_APPROVED,
            "household",
            pending.household_id,
            {
                "adjustment_id": pending.id,
                "amount": pending.amount,
                "transaction_id": posted.id,
                "requested_by": pending.requested_by,
            },
            pending.reason,
        )
    db.session.refresh(pending)
    return posted


def reject(village_id: int, adjustment_id: int, *, actor_id: int, reason: str) -> PendingAdjustment:
    """Refuse a pending adjustment, with a reason: nothing moves."""
    pending = get_pending(village_id, adjustment_id)
    _claim(pending, actor_id, REJECTED, reason)
    record(
        village_id,
        actor_id,
        ADJUSTMENT_REJECTED,
        "household",
        pending.household_id,
        {
            "adjustment_id": pending.id,
            "amount": pending.amount,
            "requested_by": pending.requested_by,
        },
        reason,
    )
    db.session.refresh(pending)
    return pending


def list_adjustments(
    village_id: int, state: str | None, limit: int = 100
) -> list[PendingAdjustment]:
    """The village's adjustments that waited (or wait) for a second admin, newest first."""
    query = select(PendingAdjustment).where(PendingAdjustment.village_id == village_id)
    if state is not None:
        query = query.where(PendingAdjustment.state == state)
    return list(db.session.scalars(query.order_by(PendingAdjustment.id.desc()).limit(limit)))
