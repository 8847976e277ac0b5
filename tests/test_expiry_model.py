"""Expiry against a lot-by-lot model: oldest first, each policy, three simulated years.

The code keeps no lots: it says what is left of the points earned up to a moment is
max(0, earned up to then - all taken since the start). A model that does keep lots,
and spends and expires them one by one, must agree with it, and with the ledger
after random credits, spending and expiry runs on both databases.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.checks import verify_all
from app.db import db, run_write
from app.households.services import create_household
from app.ledger import services as ledger
from app.ledger.expiry import add_months, expire, left_of_earned, year_end_expiry
from app.ledger.models import Journal, JournalKind, Transfer
from app.office.services import create_village
from app.rules.expiry import END_OF_NEXT_YEAR, IDLE_MONTHS, ExpiryPolicy
from app.rules.services import current_rules, set_rules
from app.scope import day_start, zone
from app.villages.services import create_grid

START = date(2026, 1, 1)
# Three years, and the morning the first two years' points expire by end_of_next_year.
END = date(2029, 1, 1)
HOUSEHOLDS = 2


@dataclass
class Lots:
    """One household's points as dated lots, spent and expired oldest first."""

    lots: list[list] = field(default_factory=list)  # [day, points left]
    last_active: date | None = None

    @property
    def balance(self) -> int:
        return sum(points for _, points in self.lots)

    def earn(self, day: date, points: int) -> None:
        self.lots.append([day, points])
        self.last_active = day

    def take(self, points: int) -> None:
        for lot in self.lots:
            used = min(lot[1], points)
            lot[1] -= used
            points -= used
        self.lots = [lot for lot in self.lots if lot[1]]

    def spend(self, day: date, points: int) -> None:
        self.take(points)
        self.last_active = day

    def left_of_earned_before(self, cut: date) -> int:
        return sum(points for day, points in self.lots if day < cut)

    def expire(self, policy: ExpiryPolicy, day: date) -> dict[date, int]:
        """Expire every lot due on or before the day; return the points per expiry date."""
        expired: dict[date, int] = {}
        if policy.policy == END_OF_NEXT_YEAR:
            for lot in self.lots:
                on = year_end_expiry(lot[0].year)
                if on <= day and lot[1]:
                    expired[on] = expired.get(on, 0) + lot[1]
                    lot[1] = 0
            self.lots = [lot for lot in self.lots if lot[1]]
        elif policy.policy == IDLE_MONTHS and self.last_active is not None:
            assert policy.months is not None
            on = add_months(self.last_active, policy.months)
            if on <= day and self.balance:
                expired[on] = self.balance
                self.lots = []
        return expired


# (days later, what, points): "earn", "spend" (at most what is there) or "cut" (a moment
# at which to ask the model what is left of everything earned before it).
steps = st.lists(
    st.tuples(st.integers(0, 200), st.sampled_from(["earn", "spend", "cut"]), st.integers(1, 50)),
    max_size=40,
)


@given(steps)
def test_what_is_left_of_the_oldest_points_needs_no_lots(events):
    lots = Lots()
    earned: list[tuple[date, int]] = []
    taken = 0
    day = START
    for gap, what, points in events:
        day += timedelta(days=gap)
        if what == "earn":
            lots.earn(day, points)
            earned.append((day, points))
        elif what == "spend":
            points = min(points, lots.balance)
            lots.spend(day, points)
            taken += points
        else:
            cut = day - timedelta(days=points * 7)
            earned_before = sum(p for d, p in earned if d < cut)
            assert left_of_earned(earned_before, taken) == lots.left_of_earned_before(cut)
    assert lots.balance == sum(p for _, p in earned) - taken


@given(st.dates(date(2020, 1, 1), date(2040, 12, 31)), st.integers(1, 120))
def test_months_later_is_the_same_day_or_the_months_last(day, months):
    later = add_months(day, months)
    assert (later.year - day.year) * 12 + later.month - day.month == months
    assert later.day == day.day or (later + timedelta(days=1)).month != later.month


# About 25 steps of up to 90 days: most runs reach the third year.
events = st.lists(
    st.tuples(
        st.integers(0, 90),
        st.sampled_from(["earn", "earn", "spend", "expire"]),
        st.integers(0, HOUSEHOLDS - 1),
        st.integers(1, 40),
    ),
    min_size=15,
    max_size=35,
)
policies = st.sampled_from(
    [ExpiryPolicy(END_OF_NEXT_YEAR), ExpiryPolicy(IDLE_MONTHS, 3), ExpiryPolicy(IDLE_MONTHS, 12)]
)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(policy=policies, events=events)
def test_the_ledger_expires_what_the_lots_say(app, policy, events):
    code = "E" + uuid.uuid4().hex[:8].upper()
    village = create_village("期满村", code)
    grid = create_grid(village.id, "一组")
    households = [create_household(village, grid, f"户{i}", "地址").id for i in range(HOUSEHOLDS)]
    rules = current_rules(village.id)
    set_rules(village.id, list(rules.grades), rules.daily_limit, actor_id=None, expiry=policy)
    db.session.commit()
    timezone = zone(village.timezone)
    village_id = village.id
    model = {household: Lots() for household in households}
    expected: dict[tuple[int, date], int] = {}

    def run_expiry(day: date) -> None:
        expire(village_id, day, chunk=1)
        for household, lots in model.items():
            for on, points in lots.expire(policy, day).items():
                expected[(household, on)] = expected.get((household, on), 0) + points

    day = START
    for gap, what, who, points in events:
        day += timedelta(days=gap)
        if day > END:
            break
        household, lots = households[who], model[households[who]]
        moment = day_start(timezone, day) + timedelta(hours=12)
        if what == "earn":
            run_write(
                lambda h=household, p=points, m=moment: ledger.adjust(
                    village_id, h, p, reason="earned", actor_id=None, at=m
                )
            )
            lots.earn(day, points)
        elif what == "spend" and lots.balance:
            points = min(points, lots.balance)
            run_write(
                lambda h=household, p=points, m=moment: ledger.adjust(
                    village_id, h, -p, reason="spent", actor_id=None, at=m
                )
            )
            lots.spend(day, points)
        elif what == "expire":
            run_expiry(day)
    run_expiry(END)

    db.session.rollback()
    for household in households:
        assert ledger.household_balance(household) == model[household].balance
    posted = {
        (int(key.split(":")[1]), date.fromisoformat(key.split(":")[2])): amount
        for key, amount in db.session.execute(
            select(Journal.business_key, Transfer.amount)
            .join(Transfer, Transfer.journal_id == Journal.id)
            .where(Journal.village_id == village_id, Journal.kind == JournalKind.EXPIRY.value)
        )
    }
    assert posted == expected
    report = verify_all(village_id)
    assert report.ok, report.problems
