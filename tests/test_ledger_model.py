"""A Hypothesis state machine drives the ledger against an exact model (LEDGER.md, test 1).

Credits and reversals go through the service layer, adjustments through the HTTP
API with Idempotency-Keys (fresh keys, replays of a key with the same body, and
reuses with another body); households split, merge, move out and back through the
API, and the nightly forfeit runs on a chosen day. Grades are appealed and upheld or
overturned (with or without a corrected grade), and adjustments over the approval
threshold wait to be approved or rejected by a second admin, all through the API
(issue 30). The model predicts every balance and every refusal; a refusal must change
nothing.
"""

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import update
from testsupport import bearer

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, User
from app.auth.services import create_user, issue_token
from app.db import db, run_write, utcnow
from app.errors import AlreadyReversed, InsufficientPoints
from app.households.changes import forfeit_due
from app.households.models import Household
from app.households.services import create_household
from app.inspections.services import record_inspection
from app.ledger import services as ledger
from app.office.services import create_village
from app.rules.fairness import FairnessRules
from app.rules.models import RuleSet
from app.rules.services import Grade, set_rules
from app.scope import village_today
from app.villages.services import create_grid

HOUSEHOLDS = 3
POINTS = {"A": 3, "B": 2, "C": 1, "D": 0}
APPROVAL_OVER = 30  # the adjustments of adjust_with_a_new_key stay below it


class LedgerMachine(RuleBasedStateMachine):
    app = None  # set by the test

    journals = Bundle("journals")
    keys = Bundle("keys")
    appeals = Bundle("appeals")
    pendings = Bundle("pendings")

    def __init__(self):
        super().__init__()
        self.client = self.app.test_client()
        code = "H" + uuid.uuid4().hex[:8].upper()
        village = create_village("模型村", code)
        grid = create_grid(village.id, "一组")
        self.village_id = village.id
        self.households = [
            create_household(village, grid, f"户{i}", "地址").id for i in range(HOUSEHOLDS)
        ]
        admin = create_user(village, f"admin-{code}", "password-123", ADMIN)
        self.headers = bearer(issue_token(admin).token)
        checker = create_user(village, f"checker-{code}", "password-123", ADMIN)
        self.checker = bearer(issue_token(checker).token)
        self.inspector_id = create_user(village, f"insp-{code}", "password-123", INSPECTOR).id
        self.residents = {
            h: bearer(
                issue_token(
                    create_user(
                        village,
                        f"home{n}-{code}",
                        "password-123",
                        HOUSEHOLD,
                        household=db.session.get(Household, h),
                    )
                ).token
            )
            for n, h in enumerate(self.households)
        }
        rules = set_rules(
            village.id,
            [Grade(g, p, g) for g, p in POINTS.items()],
            10,
            actor_id=None,
            fairness=FairnessRules(appeal_days=7, adjustment_approval_over=APPROVAL_OVER),
        )
        # In force on the past days the grades are backdated to (a corrected grade is
        # decided by the rules of its moment): ten grades a day.
        db.session.execute(
            update(RuleSet)
            .where(RuleSet.id == rules.id)
            .values(created_at=utcnow() - timedelta(days=30))
        )
        db.session.commit()
        self.grid_id = grid.id
        self.today = village_today(village.id)
        self.grades = 0
        # appeal id -> (household, points of the grade); decided appeals
        self.appealed: dict[int, tuple[int, int]] = {}
        self.decided: set[int] = set()
        # pending adjustment id -> (household, amount); decided ones
        self.pending: dict[int, tuple[int, int]] = {}
        self.pending_decided: set[int] = set()
        self.balance = {h: 0 for h in self.households}
        # Households over time: status, the forfeit date of those moved out, those forfeited.
        self.status = {h: "active" for h in self.households}
        self.forfeit_on: dict[int, object] = {}
        self.forfeited: set[int] = set()
        # journal id -> (household, points it gave the household), for reversals
        self.movement: dict[int, tuple[int, int]] = {}
        self.reversed: set[int] = set()
        # key -> (body, status, response text)
        self.outcomes: dict[str, tuple[dict, int, str]] = {}

    @rule(target=journals, who=st.integers(0, HOUSEHOLDS - 1), points=st.integers(1, 20))
    def credit(self, who, points):
        household = self.households[who]
        journal_id = run_write(
            lambda: (
                ledger.credit(
                    self.village_id,
                    household,
                    points,
                    kind="inspection",
                    memo="grade",
                    actor_id=None,
                ).id
            )
        )
        self.balance[household] += points
        self.movement[journal_id] = (household, points)
        return journal_id

    @rule(journal=journals)
    def reverse(self, journal):
        household, points = self.movement[journal]
        try:
            run_write(
                lambda: ledger.reverse(
                    journal, village_id=self.village_id, actor_id=None, reason="model"
                )
            )
        except AlreadyReversed:
            assert journal in self.reversed
            return
        except InsufficientPoints:
            assert journal not in self.reversed
            assert self.balance[household] - points < 0
            return
        assert journal not in self.reversed
        assert self.balance[household] - points >= 0
        self.reversed.add(journal)
        self.balance[household] -= points

    @rule(target=keys, who=st.integers(0, HOUSEHOLDS - 1), amount=st.integers(-25, 25).filter(bool))
    def adjust_with_a_new_key(self, who, amount):
        key = uuid.uuid4().hex
        body = {"household_id": self.households[who], "amount": amount, "reason": "model"}
        response = self.client.post(
            "/api/v1/adjustments", json=body, headers={**self.headers, "Idempotency-Key": key}
        )
        household = self.households[who]
        if self.balance[household] + amount < 0:
            assert response.status_code == 409, response.json
            assert response.json["code"] == "insufficient_points"
        else:
            assert response.status_code == 201, response.json
            assert response.json["balance"] == self.balance[household] + amount
            self.balance[household] += amount
            self.movement[response.json["transaction_id"]] = (household, amount)
        assert "Idempotent-Replayed" not in response.headers
        self.outcomes[key] = (body, response.status_code, response.get_data(as_text=True))
        return key

    @rule(key=keys)
    def replay_the_same_request(self, key):
        body, status, text = self.outcomes[key]
        response = self.client.post(
            "/api/v1/adjustments", json=body, headers={**self.headers, "Idempotency-Key": key}
        )
        assert response.status_code == status
        assert response.get_data(as_text=True) == text
        assert response.headers["Idempotent-Replayed"] == "true"

    @rule(key=keys, change=st.integers(1, 5))
    def reuse_a_key_with_another_body(self, key, change):
        body, _, _ = self.outcomes[key]
        other = {**body, "amount": body["amount"] + change}
        response = self.client.post(
            "/api/v1/adjustments", json=other, headers={**self.headers, "Idempotency-Key": key}
        )
        assert response.status_code == 422
        assert response.json["code"] == "idempotency_conflict"

    @rule(target=appeals, who=st.integers(0, HOUSEHOLDS - 1), grade=st.sampled_from("ABCD"))
    def grade_and_appeal(self, who, grade):
        """A grade (on one of the last five days, ten a day at most), then its appeal.

        Only an active household is graded (a moved or merged one is refused: the
        household model's rules cover that).
        """
        household = self.households[who]
        if self.status[household] != "active":
            return multiple()
        self.grades += 1
        at = utcnow() - timedelta(days=self.grades % 5, minutes=self.grades)

        def grade_it():
            return record_inspection(
                db.session.get_one(Household, household),
                db.session.get_one(User, self.inspector_id),
                grade,
                at=at,
            ).id

        inspection_id = run_write(grade_it)
        self.balance[household] += POINTS[grade]
        response = self.client.post(
            f"/api/v1/inspections/{inspection_id}/appeal",
            json={"reason": "model"},
            headers=self.residents[household],
        )
        assert response.status_code == 201, response.json
        self.appealed[response.json["id"]] = (household, POINTS[grade])
        return response.json["id"]

    @rule(
        appeal=appeals,
        decision=st.sampled_from(["upheld", "overturned"]),
        corrected=st.sampled_from([None, "A", "B", "C", "D"]),
    )
    def decide_an_appeal(self, appeal, decision, corrected):
        household, points = self.appealed[appeal]
        body = {"decision": decision, "note": "model"}
        # A corrected grade is credited as a grade of its moment: the model corrects only
        # a household still active (a moved or merged one's grades are refused elsewhere).
        if (
            decision == "overturned"
            and corrected is not None
            and self.status[household] == "active"
        ):
            body["grade"] = corrected
        response = self.client.post(
            f"/api/v1/appeals/{appeal}/decide", json=body, headers=self.headers
        )
        if appeal in self.decided:
            assert response.status_code == 409, response.json
            return
        if decision == "upheld":
            assert response.status_code == 200, response.json
        elif self.balance[household] - points < 0:
            assert response.status_code == 409, response.json
            assert response.json["code"] == "insufficient_points"
            return  # the appeal stays open, the grade stands
        else:
            assert response.status_code == 200, response.json
            corrected = body.get("grade")
            self.balance[household] += POINTS.get(corrected or "", 0) - points
        self.decided.add(appeal)

    @rule(
        target=pendings,
        who=st.integers(0, HOUSEHOLDS - 1),
        amount=st.integers(APPROVAL_OVER + 1, 60) | st.integers(-60, -APPROVAL_OVER - 1),
    )
    def ask_for_a_large_adjustment(self, who, amount):
        household = self.households[who]
        body = {"household_id": household, "amount": amount, "reason": "model"}
        response = self.client.post("/api/v1/adjustments", json=body, headers=self.headers)
        assert response.status_code == 202, response.json
        assert response.json["state"] == "pending"
        self.pending[response.json["id"]] = (household, amount)
        return response.json["id"]

    @rule(pending=pendings, approve=st.booleans())
    def decide_an_adjustment(self, pending, approve):
        household, amount = self.pending[pending]
        if approve:
            response = self.client.post(
                f"/api/v1/adjustments/{pending}/approve", headers=self.checker
            )
        else:
            response = self.client.post(
                f"/api/v1/adjustments/{pending}/reject",
                json={"reason": "model"},
                headers=self.checker,
            )
        if pending in self.pending_decided:
            assert response.status_code == 409, response.json
            return
        if approve and self.balance[household] + amount < 0:
            assert response.status_code == 409, response.json
            assert response.json["code"] == "insufficient_points"
            return  # it stays pending
        assert response.status_code == (201 if approve else 200), response.json
        if approve:
            self.balance[household] += amount
            self.movement[response.json["transaction_id"]] = (household, amount)
        self.pending_decided.add(pending)

    @precondition(lambda self: any(self.balance.values()))
    @rule(journal=consumes(journals))
    def forget_a_journal(self, journal):
        """Let the bundle shrink so reversals also hit fresh journals."""

    def pick(self, index: int) -> int:
        households = sorted(self.balance)
        return households[index % len(households)]

    def post_change(self, household: int, what: str, body: dict):
        return self.client.post(
            f"/api/v1/households/{household}/{what}", json=body, headers=self.headers
        )

    @rule(who=st.integers(0, 20), points=st.integers(0, 30))
    def split(self, who, points):
        household = self.pick(who)
        body = {"name": "分户", "address": "地址", "grid_id": self.grid_id, "points": points}
        response = self.post_change(household, "split", body)
        if self.status[household] != "active":
            assert response.status_code == 409 and response.json["code"] == "household_inactive"
        elif points > self.balance[household]:
            assert response.status_code == 409 and response.json["code"] == "insufficient_points"
        else:
            assert response.status_code == 201, response.json
            new = response.json["id"]
            assert response.json["balance"] == points
            self.balance[household] -= points
            self.balance[new] = points
            self.status[new] = "active"

    @rule(who=st.integers(0, 20), into=st.integers(0, 20))
    def merge(self, who, into):
        household, survivor = self.pick(who), self.pick(into)
        response = self.post_change(household, "merge", {"into": survivor})
        if household == survivor:
            assert response.status_code == 422
        elif "active" != self.status[household] or "active" != self.status[survivor]:
            assert response.status_code == 409 and response.json["code"] == "household_inactive"
        else:
            assert response.status_code == 200, response.json
            self.balance[survivor] += self.balance[household]
            self.balance[household] = 0
            self.status[household] = "merged"

    @rule(who=st.integers(0, 20), ago=st.integers(0, 40), days=st.integers(0, 30))
    def move_out(self, who, ago, days):
        household = self.pick(who)
        on = self.today - timedelta(days=ago)
        body = {"on": on.isoformat(), "forfeit_after_days": days}
        response = self.post_change(household, "move-out", body)
        if self.status[household] != "active":
            assert response.status_code == 409 and response.json["code"] == "household_inactive"
        else:
            assert response.status_code == 200, response.json
            self.status[household] = "moved_out"
            self.forfeit_on[household] = on + timedelta(days=days)
            self.forfeited.discard(household)

    @rule(who=st.integers(0, 20))
    def move_back(self, who):
        household = self.pick(who)
        response = self.post_change(household, "move-back", {})
        if self.status[household] != "moved_out":
            assert response.status_code == 409 and response.json["code"] == "household_inactive"
        elif household in self.forfeited or self.forfeit_on[household] <= self.today:
            assert response.status_code == 409 and response.json["code"] == "forfeit_passed"
        else:
            assert response.status_code == 200, response.json
            self.status[household] = "active"

    @rule(later=st.integers(0, 40))
    def nightly_forfeit(self, later):
        at = self.today + timedelta(days=later)
        db.session.rollback()
        done = forfeit_due(self.village_id, at)
        expected = {
            h: self.balance[h]
            for h, status in self.status.items()
            if status == "moved_out"
            and h not in self.forfeited
            and self.forfeit_on[h] <= at
            and self.balance[h] > 0
        }
        assert {f.household_id: f.points for f in done} == expected
        for household in expected:
            self.balance[household] = 0
            self.forfeited.add(household)

    @invariant()
    def balances_match_the_model(self):
        db.session.rollback()
        for household, expected in self.balance.items():
            assert ledger.household_account(household).balance == expected

    def teardown(self):
        db.session.rollback()
        report = ledger.verify(self.village_id)
        assert report.ok, report.problems


@pytest.mark.slow
def test_the_ledger_agrees_with_an_exact_model(app):
    LedgerMachine.app = app
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
