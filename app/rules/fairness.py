"""A village's fairness rules: how long a grade may be appealed, and which adjustments wait.

Kept as one JSON column of the village's versioned rules (rule_sets.fairness), so a
change is versioned and audited with the rest; none stored means the defaults.
"""

import json
from dataclasses import asdict, dataclass, replace

from app.errors import ValidationFailed

MAX_APPEAL_DAYS = 90
MAX_AMOUNT = 1_000_000_000  # the ledger's largest transfer (app/ledger/services.py)


@dataclass(frozen=True)
class FairnessRules:
    # A household may appeal a grade for this many days after it was given.
    appeal_days: int = 7
    # An adjustment of more points than this (either way) waits for a second admin;
    # None: no adjustment waits.
    adjustment_approval_over: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_FAIRNESS = FairnessRules()


def make_fairness(before: FairnessRules, data: dict) -> FairnessRules:
    """The rules before, with what data gives (a key left out keeps its value)."""
    errors: dict[str, list[str]] = {}
    days = data.get("appeal_days", before.appeal_days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_APPEAL_DAYS:
        errors["appeal_days"] = [f"A whole number from 1 to {MAX_APPEAL_DAYS}."]
    over = data.get("adjustment_approval_over", before.adjustment_approval_over)
    if over is not None and (
        isinstance(over, bool) or not isinstance(over, int) or not 0 <= over <= MAX_AMOUNT
    ):
        errors["adjustment_approval_over"] = [f"Null, or a whole number from 0 to {MAX_AMOUNT}."]
    if errors:
        raise ValidationFailed("The fairness rules are not valid.", errors=errors)
    return replace(before, appeal_days=days, adjustment_approval_over=over)


def dump_fairness(rules: FairnessRules) -> str | None:
    return None if rules == DEFAULT_FAIRNESS else json.dumps(rules.to_dict())


def parse_fairness(text: str | None) -> FairnessRules:
    return make_fairness(DEFAULT_FAIRNESS, json.loads(text)) if text else DEFAULT_FAIRNESS
