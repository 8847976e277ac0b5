"""When points expire: the policy a village's rules keep (app/ledger/expiry.py posts it).

- `end_of_next_year`: points earned in year Y expire on 1 January of Y + 2, village
  time ("2026 年获得的积分在 2027 年 12 月 31 日后清零").
- `idle_months`: the whole balance expires N months after the household's last credit
  or redemption (its last entry that is not an expiry).
"""

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.db import db
from app.errors import ValidationFailed
from app.rules.models import RuleSet

NONE = "none"
END_OF_NEXT_YEAR = "end_of_next_year"
IDLE_MONTHS = "idle_months"
POLICIES = (NONE, END_OF_NEXT_YEAR, IDLE_MONTHS)
MAX_IDLE_MONTHS = 120


@dataclass(frozen=True)
class ExpiryPolicy:
    """How a village's points expire: never, at the end of the next year, or when idle."""

    policy: str = NONE
    months: int | None = None

    def to_dict(self) -> dict:
        """Return the policy as the rules' JSON shows it."""
        if self.policy == IDLE_MONTHS:
            return {"policy": self.policy, "months": self.months}
        return {"policy": self.policy}


NO_EXPIRY = ExpiryPolicy()


def make_policy(policy: str = NONE, months: int | None = None) -> ExpiryPolicy:
    """Return a checked policy; months only (and always) for idle_months."""
    if policy not in POLICIES:
        raise ValidationFailed(
            f"The expiry policy is one of {', '.join(POLICIES)}.",
            errors={"expiry": [f"One of: {', '.join(POLICIES)}."]},
        )
    if policy != IDLE_MONTHS:
        return ExpiryPolicy(policy)
    if not isinstance(months, int) or not 1 <= months <= MAX_IDLE_MONTHS:
        raise ValidationFailed(
            f"Idle months are 1 to {MAX_IDLE_MONTHS}.",
            errors={"expiry": [f"months: 1 to {MAX_IDLE_MONTHS}."]},
        )
    return ExpiryPolicy(policy, months)


def parse_policy(stored: str | None) -> ExpiryPolicy:
    """Return the policy stored in a rules version (none when the column is empty)."""
    if not stored:
        return NO_EXPIRY
    data = json.loads(stored)
    return ExpiryPolicy(data.get("policy", NONE), data.get("months"))


def dump_policy(policy: ExpiryPolicy) -> str | None:
    """Return the policy as stored in a rules version."""
    return None if policy.policy == NONE else json.dumps(policy.to_dict())


def policy_in_force(village_id: int, moment: datetime | None = None) -> ExpiryPolicy:
    """Return the village's expiry policy in the rules in force at a moment (now)."""
    query = select(RuleSet.expiry).where(RuleSet.village_id == village_id)
    if moment is not None:
        query = query.where(RuleSet.created_at <= moment)
    stored = db.session.scalar(query.order_by(RuleSet.version.desc()).limit(1))
    return parse_policy(stored)
