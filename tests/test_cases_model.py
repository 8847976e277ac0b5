"""A Hypothesis state machine drives cases against a model of the transition table.

Random actions by random roles (the reporter, the grid's worker, another grid's
worker, an admin, the township) go through the HTTP API; the model, written from
API.md's table and not from the code, predicts each answer: every allowed move
lands, every refused one answers the documented status and code and changes
nothing. Events are append-only, one per move; the points paid for reports match
the model; the ledger verifies at the end.
"""

import io
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from test_cases import pay_for_reports
from testsupport import PASSWORD, balance_of, bearer, png_bytes

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, UserGrid
from app.auth.services import create_user, issue_token
from app.cases import clock
from app.cases.models import Case, CaseEvent
from app.db import db, run_write, utcnow
from app.households.services import create_household
from app.ledger import services as ledger
from app.office.services import create_village
from app.scope import local_date, village_zone
from app.townships.services import create_township, create_township_user, move_village
from app.villages.services import create_grid

POINTS, DAILY_CAP = 3, 2
MAX_EXTENSION = 15 * 24
ROLES = ("reporter", "worker", "other", "admin", "township")
ACTIONS = (
    "accept",
    "resolve",
    "confirm",
    "reopen",
    "withdraw",
    "mark_duplicate",
    "mark_invalid",
    "transfer",
    "reassign",
    "extend",
    "comment",
    "supervise",
)
WORKING = ("dispatched", "accepted")
OPEN = WORKING


@dataclass
class Model:
    """What the table says a case is: its state and what the moves wrote on it."""

    id: int
    day: object
    state: str = "dispatched"
    grid: str = "A"
    assignee: str | None = "worker"  # the only inspector of grid A
    has_after: bool = False
    paid: bool = False
    reversed: bool = False
    reopened: int = 0
    extended: int = 0
    supervised: bool = False
    events: list[str] = field(default_factory=lambda: ["report"])


def works_grid(role: str, grid: str) -> bool:
    return (role, grid) in (("worker", "A"), ("other", "B"))


def is_worker(role: str, case: Model) -> bool:
    if role == "admin":
        return True
    return role in ("worker", "other") and (case.assignee == role or works_grid(role, case.grid))


WHO = {
    "accept": is_worker,
    "resolve": is_worker,
    "confirm": lambda role, case: role == "reporter",
    "reopen": lambda role, case: role in ("reporter", "admin"),
    "withdraw": lambda role, case: role == "reporter",
    "mark_duplicate": lambda role, case: role == "admin" or works_grid(role, case.grid),
    "mark_invalid": lambda role, case: role == "admin",
    "transfer": lambda role, case: role == "admin",
    "reassign": lambda role, case: role == "admin",
    "extend": lambda role, case: role == "admin",
    "comment": lambda role, case: True,  # everyone here may see the case
    "supervise": lambda role, case: role in ("admin", "township"),
}
SOURCES = {
    "accept": ("dispatched",),
    "resolve": ("accepted",),
    "confirm": ("resolved",),
    "reopen": ("resolved", "closed"),
    "withdraw": ("dispatched",),
    "mark_duplicate": OPEN,
    "mark_invalid": (*OPEN, "resolved"),
    "transfer": OPEN,
    "reassign": WORKING,
    "extend": WORKING,
    "comment": None,
    "supervise": WORKING,
}
TARGET = {
    "accept": "accepted",
    "resolve": "resolved",
    "confirm": "closed",
    "reopen": "dispatched",
    "withdraw": "withdrawn",
    "mark_duplicate": "duplicate",
    "mark_invalid": "invalid",
    "transfer": "dispatched",
}


class CasesMachine(RuleBasedStateMachine):
    app = None  # set by the test

    cases = Bundle("cases")

    def __init__(self):
        super().__init__()
        self.client = self.app.test_client()
        code = "C" + uuid.uuid4().hex[:8].upper()
        village = create_village("模型村", code)
        grid_a, grid_b = create_grid(village.id, "一组"), create_grid(village.id, "二组")
        household = create_household(village, grid_a, "户甲", "地址")
        users = {
            "reporter": create_user(village, f"r-{code}", PASSWORD, HOUSEHOLD, household=household),
            "worker": create_user(village, f"w-{code}", PASSWORD, INSPECTOR),
            "other": create_user(village, f"o-{code}", PASSWORD, INSPECTOR),
            "admin": create_user(village, f"a-{code}", PASSWORD, ADMIN),
        }
        db.session.add(UserGrid(user_id=users["worker"].id, grid_id=grid_a.id))
        db.session.add(UserGrid(user_id=users["other"].id, grid_id=grid_b.id))
        township = create_township("模型街道", "T" + code[1:])
        move_village(village, township)
        users["township"] = create_township_user(township, f"t-{code}", PASSWORD)
        db.session.flush()
        self.headers = {role: bearer(issue_token(user).token) for role, user in users.items()}
        self.user_ids = {role: user.id for role, user in users.items()}
        self.grid_ids = {"A": grid_a.id, "B": grid_b.id}
        self.village_id, self.household_id = village.id, household.id
        db.session.commit()
        pay_for_reports(SimpleNamespace(id=village.id), points=POINTS, daily_cap=DAILY_CAP)
        self.zone = village_zone(village.id)
        self.model: dict[int, Model] = {}
        self.balance = 0

    # The moves ------------------------------------------------------------------------------

    @rule(target=cases)
    def report(self):
        response = self.client.post(
            "/api/v1/cases", json={"category": "overflow"}, headers=self.headers["reporter"]
        )
        assert response.status_code == 201, response.json
        shown = response.json
        assert shown["state"] == "dispatched"
        assert shown["assignee_id"] == self.user_ids["worker"]
        created = db.session.get(Case, shown["id"])
        assert created is not None
        day = local_date(created.created_at, self.zone)
        self.model[shown["id"]] = Model(id=shown["id"], day=day)
        return shown["id"]

    @rule(case_id=cases)
    def photograph_the_fix(self, case_id):
        response = self.client.post(
            f"/api/v1/cases/{case_id}/photos",
            data={"file": (io.BytesIO(png_bytes()), "after.png"), "stage": "after"},
            headers=self.headers["admin"],
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.json
        self.model[case_id].has_after = True

    @rule(
        case_id=cases,
        role=st.sampled_from(ROLES),
        name=st.sampled_from(ACTIONS),
        note=st.sampled_from([None, "看看"]),
        other=st.booleans(),
        grid=st.sampled_from(["A", "B"]),
        assignee=st.sampled_from(["worker", "other", "admin"]),
        hours=st.sampled_from([1, 24, 200]),
    )
    def act(self, case_id, role, name, note, other, grid, assignee, hours):
        case = self.model[case_id]
        body: dict = {"action": name}
        if note is not None:
            body["note"] = note
        if name == "mark_duplicate":
            others = [i for i in self.model if i != case_id]
            body["duplicate_of"] = others[0] if other and others else case_id
        if name == "transfer":
            body["grid_id"] = self.grid_ids[grid]
        if name == "reassign":
            body["assignee_id"] = self.user_ids[assignee]
        if name == "extend":
            body["hours"] = hours
        response = self.client.post(
            f"/api/v1/cases/{case_id}/events", json=body, headers=self.headers[role]
        )
        expected = self.expect(case, role, name, body)
        if expected is not None:
            status, code = expected
            assert response.status_code == status, (role, name, case, response.json)
            assert response.json["code"] == code, (role, name, case, response.json)
            return
        assert response.status_code == 201, (role, name, case, response.json)
        self.land(case, role, name, body)
        assert response.json["state"] == case.state

    @precondition(lambda self: any(c.state == "resolved" for c in self.model.values()))
    @rule()
    def the_clock_closes_what_nobody_confirmed(self):
        at = utcnow() + timedelta(days=4)
        due = [pair for pair in run_write(lambda: clock.due_to_close(at)) if pair[1] in self.model]
        assert {case_id for _, case_id in due} == {
            c.id for c in self.model.values() if c.state == "resolved"
        }
        for village_id, case_id in due:
            assert run_write(lambda v=village_id, c=case_id: clock.auto_confirm(v, c, at))
            case = self.model[case_id]
            case.state = "closed"
            case.events.append("auto_confirm")
            self.pay(case)

    # The model ------------------------------------------------------------------------------

    def expect(self, case: Model, role: str, name: str, body: dict) -> tuple[int, str] | None:
        """The refusal the table predicts (status, code); None: the move lands."""
        if role == "township" and name != "supervise":
            return 403, "read_only"
        if not WHO[name](role, case):
            return 403, "forbidden"
        sources = SOURCES[name]
        if sources is not None and case.state not in sources:
            return 409, "invalid_transition"
        if name == "resolve" and not case.has_after:
            return 422, "photo_required"
        if name == "reopen" and role == "reporter":
            if case.state != "resolved":
                return 409, "invalid_transition"
            if "note" not in body:
                return 422, "validation_error"
        if name == "reopen" and role == "admin" and case.state != "closed":
            return 409, "invalid_transition"
        if name == "mark_duplicate" and body["duplicate_of"] == case.id:
            return 422, "validation_error"
        if name == "extend" and case.extended + body["hours"] > MAX_EXTENSION:
            return 422, "validation_error"
        if name == "comment" and "note" not in body:
            return 422, "validation_error"
        return None

    def land(self, case: Model, role: str, name: str, body: dict) -> None:
        case.events.append(name)
        case.state = TARGET.get(name, case.state)
        if name == "confirm":
            self.pay(case)
        elif name == "reopen":
            case.reopened += 1
        elif name == "mark_invalid" and case.paid and not case.reversed:
            case.reversed = True
            self.balance -= POINTS
        elif name == "transfer":
            grid = next(g for g, i in self.grid_ids.items() if i == body["grid_id"])
            case.grid = grid
            case.assignee = "worker" if grid == "A" else "other"
        elif name == "reassign":
            case.assignee = next(r for r, i in self.user_ids.items() if i == body["assignee_id"])
        elif name == "extend":
            case.extended += body["hours"]
        elif name == "supervise":
            case.supervised = True

    def pay(self, case: Model) -> None:
        """Once a case, at most DAILY_CAP cases a household a village day."""
        if case.paid:
            return
        paid_that_day = sum(1 for c in self.model.values() if c.paid and c.day == case.day)
        if paid_that_day < DAILY_CAP:
            case.paid = True
            self.balance += POINTS

    # What must hold after every step ----------------------------------------------------------

    @invariant()
    def the_cases_and_their_events_are_what_the_model_says(self):
        db.session.rollback()
        stored = {
            case.id: case
            for case in db.session.scalars(select(Case).where(Case.village_id == self.village_id))
        }
        events: dict[int, list[CaseEvent]] = {}
        for row in db.session.scalars(
            select(CaseEvent).where(CaseEvent.village_id == self.village_id).order_by(CaseEvent.id)
        ):
            events.setdefault(row.case_id, []).append(row)
        assert set(stored) == set(self.model)
        for case in self.model.values():
            got = stored[case.id]
            assert got.state == case.state
            assert got.grid_id == self.grid_ids[case.grid]
            assert got.assignee_id == (self.user_ids[case.assignee] if case.assignee else None)
            assert got.reopened == case.reopened
            assert got.extended_hours == case.extended
            assert got.supervised == case.supervised
            assert (got.reward_journal_id is not None) == case.paid
            # One event a move, in the order taken, each starting where the one before ended.
            chain = events[case.id]
            assert [e.action for e in chain] == case.events
            for before, after in zip(chain, chain[1:], strict=False):
                assert after.from_state == before.to_state
            assert chain[-1].to_state == case.state

    @invariant()
    def the_points_match(self):
        assert balance_of(self.household_id, fresh=True) == self.balance

    def teardown(self):
        db.session.rollback()
        report = ledger.verify(self.village_id)
        assert report.ok, report.problems


@pytest.mark.slow
def test_cases_follow_the_transition_table_under_random_roles(app):
    CasesMachine.app = app
    run_state_machine_as_test(
        CasesMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
