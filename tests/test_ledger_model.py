"""A Hypothesis state machine drives the ledger against an exact model (LEDGER.md, test 1).

Credits and reversals go through the service layer, adjustments through the HTTP
API with Idempotency-Keys (fresh keys, replays of a key with the same body, and
reuses with another body). The model predicts every balance and every refusal;
a refusal must change nothing.
"""

import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from testsupport import bearer

from app.auth.models import ADMIN
from app.auth.services import create_user, issue_token
from app.db import db, run_write
from app.errors import AlreadyReversed, InsufficientPoints
from app.households.services import create_household
from app.ledger import services as ledger
from app.villages.services import create_grid, create_village

HOUSEHOLDS = 3


class LedgerMachine(RuleBasedStateMachine):
    app = None  # set by the test

    journals = Bundle("journals")
    keys = Bundle("keys")

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
        db.session.commit()
        self.balance = {h: 0 for h in self.households}
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

    @precondition(lambda self: any(self.balance.values()))
    @rule(journal=consumes(journals))
    def forget_a_journal(self, journal):
        """Let the bundle shrink so reversals also hit fresh journals."""

    @invariant()
    def balances_match_the_model(self):
        db.session.rollback()
        for household, expected in self.balance.items():
            assert ledger.household_account(household).balance == expected

    def teardown(self):
        db.session.rollback()
        report = ledger.verify(self.village_id)
        assert report.ok, report.problems


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
