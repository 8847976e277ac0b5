"""Fuzz the JSON API with schemathesis, over its own OpenAPI document.

Every operation of GET /api/v1/openapi.json is called with generated requests,
valid ones (positive) and ones that break the schema (negative), on a seeded
village, as an admin (or, where only another role can succeed, as that role) and
then, more briefly, as each other role. Whatever comes back must be documented: no
5xx, a documented status, a documented content type (errors are
application/problem+json) and a body that matches the documented schema. No
operation is left out: the uploads (multipart) and the files (PNG, SVG, JPEG, PDF,
CSV, XLSX) go through too, and for a body that is not JSON the checks are its status
and content type. The run is derandomized, so a failure comes back on the next run.
Every operation but those of NEVER_SUCCEED must succeed at least once, and not by the
luck of one draw: a request in four has every value aimed at the seed, and what one
operation uses up no other is pointed at.

Below it, one plain test for each bug the fuzzer found.
"""

import io
import itertools
import re
import time
import zlib
from dataclasses import replace

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import DataGenerationMethod, GenerationConfig
from schemathesis.checks import not_a_server_error
from schemathesis.exceptions import SkipTest
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import delete
from testsupport import PASSWORD, PROBLEM, assert_problem, bearer
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.appeals.services import file_appeal
from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER, LoginAttempt, User
from app.auth.services import issue_token
from app.cases.services import add_photo, report_case
from app.cases.stations import create_station
from app.catalogue.services import create_good
from app.db import db
from app.fairness.spotchecks import draw, items_of
from app.households.cards import card_payload
from app.households.changes import move_out
from app.households.models import Household
from app.households.services import reissue_card
from app.inspections.services import record_inspection
from app.ledger import approvals
from app.photos import store_photo
from app.redemptions.services import LineRequest, redeem_goods
from app.rules.services import current_rules, set_rules
from app.scope import Scope

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)
# Examples per operation: (roles, how generated, how many). Negative examples cost
# several times more to generate; the other roles share one pass, since a role is
# checked before the arguments are.
PASSES = [
    ((ADMIN,), DataGenerationMethod.positive, 25),
    ((ADMIN,), DataGenerationMethod.negative, 6),
    ((INSPECTOR, STOREKEEPER, HOUSEHOLD), DataGenerationMethod.positive, 10),
]
LOGOUT = ("DELETE", "/api/v1/auth/tokens/current")
# Operations that generated requests may never get a 2xx from, and why. Every other
# operation must succeed at least once, or the run proved little about it.
NEVER_SUCCEED = {
    "POST /api/v1/auth/tokens": "made-up logins, then 429 after five from one address",
    "POST /api/v1/households/import": "random bytes are no roster",
    "POST /api/v1/inspections/{inspection_id}/photo": "random bytes are no photo",
    "POST /api/v1/goods/{good_id}/picture": "random bytes are no picture",
    "POST /api/v1/cases/{case_id}/photos": "random bytes are no photo",
    "POST /api/v1/appeals/{appeal_id}/photo": "random bytes are no photo",
}
# Operations the admin may call but not succeed at, or not call at all: the passes the
# admin makes go as the role that can, or they would learn nothing but 403.
ACTS_AS = {
    "GET /api/v1/me": HOUSEHOLD,
    "POST /api/v1/me/password": HOUSEHOLD,
    "POST /api/v1/inspections/{inspection_id}/appeal": HOUSEHOLD,
    "POST /api/v1/appeals/{appeal_id}/photo": HOUSEHOLD,
    # Only the inspector who gave a grade changes its note, within minutes.
    "POST /api/v1/inspections/{inspection_id}/note": INSPECTOR,
}


class Seed:
    """What the fuzzer may point at: ids that exist, a valid and a revoked card."""

    def __init__(self) -> None:
        self.ids: dict[str, list[int]] = {}
        # Rows an operation uses up (voids, decides, merges, moves out, counts down ...),
        # by operation: there its parameters always point at them, and no other operation
        # is pointed at them, so that nothing else spends them first.
        self.own: dict[str, dict[str, list[int]]] = {}
        self.cards: list[int | str] = []
        self.tokens: dict[str, str] = {}
        self.users: dict[str, int] = {}
        self.spare_user = 0

    def card(self, which: int | str) -> str:
        """Return a household's card as it is now (the fuzzer reissues them), or a revoked one."""
        if isinstance(which, str):
            return which
        return card_payload(db.session.get_one(Household, which))

    def headers(self, role: str, *, fresh: bool = False) -> dict[str, str]:
        """Return the role's Authorization header; fresh: with a token of its own."""
        token = self.tokens[role]
        if fresh:
            token = issue_token(db.session.get_one(User, self.users[role])).token
            db.session.commit()
        return bearer(token)


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (30, 160, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def seed(app, tmp_path, village, grid, make_grid, make_household, make_user) -> Seed:
    app.config["PHOTO_FOLDER"] = str(tmp_path / "photos")
    grids = [grid, make_grid("西二网格")]
    households = [
        make_household(in_grid=grids[i % 2], name=f"住户{i}", address=f"幸福路{i}号", points=500)
        # More doors than the batch endpoint can use up before a single inspection is tried.
        for i in range(8)
    ]
    users = {role: make_user(role, username=role) for role in (ADMIN, INSPECTOR, STOREKEEPER)}
    # The resident lives at the last door: its grade of today is seeded below, and the
    # fuzzer tries the first doors most.
    users[HOUSEHOLD] = make_user(HOUSEHOLD, household=households[-1], username="resident")
    spare = make_user(INSPECTOR, username="spare")
    goods = [
        create_good(village.id, name="肥皂", unit="块", price_points=5, stock=100),
        create_good(village.id, name="毛巾", unit="条", price_points=20, stock=100),
    ]
    # Counted and written off: a stocktake of 0 would leave the shop nothing to sell.
    counted = create_good(village.id, name="扫帚", unit="把", price_points=10, stock=100)
    goods[0].picture = store_photo(jpeg(), field="picture")
    db.session.flush()
    redemption = redeem_goods(
        households[1], users[STOREKEEPER], [LineRequest(goods[0].id, 2)]
    ).redemption
    station = create_station(village.id, name="东头收集点", grid_id=grids[0].id)
    db.session.flush()
    cases = [report_case(users[HOUSEHOLD], village.id, category="overflow") for _ in range(3)]
    case_photo = add_photo(users[HOUSEHOLD], cases[0], "before", jpeg())
    revoked = card_payload(households[2])
    reissue_card(households[2], actor_id=users[ADMIN].id, reason="丢失")
    db.session.commit()

    seed = Seed()
    seed.ids = {
        "grid_id": [g.id for g in grids],
        "household_id": [h.id for h in households],
        "good_id": [g.id for g in goods],
        "redemption_id": [redemption.id],
        "inspector_id": [users[INSPECTOR].id],
        "user_id": [spare.id],
        "station_id": [station.id],
        "case_id": [c.id for c in cases],
        "duplicate_of": [c.id for c in cases],
        "photo_id": [case_photo.id],
        "assignee_id": [users[INSPECTOR].id],
    }
    seed.own = {
        "POST /api/v1/goods/{good_id}/stocktake": {"good_id": [counted.id]},
        "POST /api/v1/goods/{good_id}/writeoff": {"good_id": [counted.id]},
        # Always the right current password: five wrong ones would count as failed logins
        # and answer 429 for the rest of the run (tests/test_households_logins.py).
        "POST /api/v1/me/password": {"current_password": [PASSWORD]},
    }
    seed_grades(seed, village, users, households[-1], make_household, make_user)
    seed_adjustments(seed, village, households[1], make_user)
    seed_household_changes(seed, village, users[ADMIN], make_household)
    seed.cards = [households[0].id, households[1].id, revoked]
    seed.tokens = {role: issue_token(user).token for role, user in users.items()}
    seed.users = {role: user.id for role, user in users.items()}
    seed.spare_user = spare.id
    db.session.commit()
    return seed


def seed_grades(
    seed: Seed, village, users: dict[str, User], resident_home, make_household, make_user
) -> None:
    """Today's grades: one with a photo the void spends, the resident's own (noted by its
    inspector, appealed), one under an open appeal with a photo; a spot check of them.

    The first and the third are of households of their own: the doors above keep their
    daily slot for the inspections the fuzzer makes.
    """
    inspector = users[INSPECTOR]
    voided = record_inspection(make_household(name="作废户", address="幸福路9号"), inspector, "A")
    voided.photo = store_photo(jpeg())
    graded = record_inspection(resident_home, inspector, "B", note="整洁")
    appellant = make_household(name="申诉户", address="幸福路10号")
    appealed = record_inspection(appellant, inspector, "C")
    resident = make_user(HOUSEHOLD, household=appellant, username="appellant")
    appeal = file_appeal(resident, appealed.id, "我家分类是对的")
    appeal.photo = store_photo(jpeg())
    check = draw(Scope(users[ADMIN], village.id), Scope(inspector, village.id).today(), size=2)
    db.session.commit()
    seed.ids |= {"inspection_id": [voided.id], "appeal_id": [appeal.id], "check_id": [check.id]}
    seed.own |= {
        "POST /api/v1/appeals/{appeal_id}/decide": {"appeal_id": [appeal.id]},
        "POST /api/v1/spot-checks/{check_id}/items/{item_id}": {
            "check_id": [check.id],
            "item_id": [item.id for item in items_of(check.id)],
        },
        "POST /api/v1/inspections/{inspection_id}/void": {"inspection_id": [voided.id]},
        "POST /api/v1/inspections/{inspection_id}/note": {"inspection_id": [graded.id]},
        "POST /api/v1/inspections/{inspection_id}/appeal": {"inspection_id": [graded.id]},
    }


def seed_adjustments(seed: Seed, village, household, make_user) -> None:
    """Maker-checker on (an adjustment of over 100 points waits for another admin) and two
    adjustments the maker asked for: one for the fuzzer's admin to approve, one to reject."""
    maker = make_user(ADMIN, username="maker")
    rules = current_rules(village.id)
    fairness = replace(rules.fairness, adjustment_approval_over=100)
    set_rules(
        village.id, list(rules.grades), rules.daily_limit, actor_id=maker.id, fairness=fairness
    )
    assert approvals.needs_approval(village.id, 200)
    approve, reject = (
        approvals.request(village.id, household.id, 200, reason="补录纸质记录", actor_id=maker.id)
        for _ in range(2)
    )
    db.session.commit()
    seed.own |= {
        "POST /api/v1/adjustments/{adjustment_id}/approve": {"adjustment_id": [approve.id]},
        "POST /api/v1/adjustments/{adjustment_id}/reject": {"adjustment_id": [reject.id]},
    }


def seed_household_changes(seed: Seed, village, admin: User, make_household) -> None:
    """Households of their own for the operations that close one or open it again: two
    that merge, one that moves out, one that moved out today."""
    merging, into, leaving, moved = (
        make_household(name=name, address=f"幸福路{n}号", points=50)
        for n, name in enumerate(("合户甲", "合户乙", "迁出户", "已迁出户"), start=11)
    )
    move_out(village.id, moved.id, {"on": Scope(admin, village.id).today()}, actor_id=admin.id)
    db.session.commit()
    seed.own |= {
        "POST /api/v1/households/{household_id}/merge": {
            "household_id": [merging.id],
            "into": [into.id],
        },
        "POST /api/v1/households/{household_id}/move-out": {"household_id": [leaving.id]},
        "POST /api/v1/households/{household_id}/move-back": {"household_id": [moved.id]},
    }


FRESH = itertools.count(1)
# Values the schema cannot say (a grade of the rules in force, a sane basket, text with
# no control character, the seeded logins' password, a name nobody has taken), for the
# fuzzer to use now and then so that requests get past validation.
USUAL = {
    "grade": st.sampled_from(["A", "B", "C", "D"]),
    "grades": st.just({"A": 3, "B": 2, "C": 1, "D": 0}),
    "labels": st.just({"A": "优"}),
    "quantity": st.integers(1, 3),
    "category": st.sampled_from(["overflow", "mixed", "dumping", "broken_bin", "other"]),
    "points": st.integers(0, 50),
    "name": st.builds(lambda: f"测试{next(FRESH)}"),
    "address": st.builds(lambda: f"幸福路{next(FRESH)}号"),
    "reason": st.sampled_from(["补录纸质记录", "复核后改判"]),
    "note": st.sampled_from(["整洁", "有混投"]),
    "description": st.just("垃圾桶满了"),
    "current_password": st.just(PASSWORD),
    "new_password": st.just(PASSWORD),  # unchanged, for the next one
    "password": st.just(PASSWORD),
    # The generated ones ("0", "00000000") are taken by the first login made.
    "username": st.builds(lambda: f"fuzz-{next(FRESH)}"),
}
# An Idempotency-Key is the village's, whatever the operation: the generated ones ("0",
# "00") would be spent by the first operation that sends them and refused to every later
# one (idempotency_conflict). Each operation's valid keys get a prefix of its own.
KEY = re.compile(r"[\x21-\x7e]{1,56}")


def aim(seed: Seed, data: st.DataObject, case) -> None:
    """Point some generated values at seeded objects and usual values, to get past 4xx."""
    own = seed.own.get(case.operation.verbose_name, {})
    # One request in four has every value aimed that can be, to get through; the others
    # each by chance, to fail in every way.
    everything = data.draw(st.integers(0, 3)) == 0

    def swap(mapping: dict | None) -> None:
        if not isinstance(mapping, dict):
            return
        for name, value in list(mapping.items()):
            if name == "lines" and isinstance(value, list):
                del value[3:]  # a long basket nearly always names a good that is not there
                for line in value:
                    swap(line)
            elif name == "grades":
                # Rules without the usual grades would refuse every inspection after them.
                mapping[name] = data.draw(USUAL[name])
            elif name == "cases" and isinstance(value, dict):
                # Nor may they take away the usual report categories (left out: kept).
                del mapping[name]
            elif name == "items" and isinstance(value, list):
                # A batch may not use up every seeded door's daily slot.
                del value[3:]
                for item in value:
                    swap(item)
            elif name == "inspected_at" and (everything or data.draw(st.integers(0, 3))):
                del mapping[name]  # mostly now: a random moment is nearly always out of bounds
            elif name in own:
                mapping[name] = data.draw(st.sampled_from(own[name]))
            elif not (everything or data.draw(st.booleans())):
                continue
            elif name in seed.ids:
                mapping[name] = data.draw(st.sampled_from(seed.ids[name]))
            elif name in USUAL:
                mapping[name] = data.draw(USUAL[name])
            elif name == "payload":
                mapping[name] = seed.card(data.draw(st.sampled_from(seed.cards)))

    swap(case.path_parameters)
    swap(case.query)
    swap(case.body)
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and KEY.fullmatch(key):
        prefix = zlib.crc32(case.operation.verbose_name.encode())
        case.headers["Idempotency-Key"] = f"{prefix:08x}{key}"
    # Disabling a seeded user would turn the rest of the run into 401s.
    if case.path_parameters and case.path_parameters.get("user_id") in seed.users.values():
        case.path_parameters["user_id"] = seed.spare_user
    # Taking a seeded good off sale, or pricing it past every balance, would leave no
    # redemption that can succeed, and marking a seeded household moved away no door to
    # grade or serve: only the goods and households the fuzzer made change those.
    if case.method.upper() == "PATCH" and case.path_parameters and isinstance(case.body, dict):
        if case.path_parameters.get("good_id") in seed.ids["good_id"]:
            case.body.pop("active", None)
            case.body.pop("price_points", None)
        if case.path_parameters.get("household_id") in seed.ids["household_id"]:
            case.body.pop("status", None)


def fuzz_operation(
    seed: Seed,
    operation,
    roles: tuple[str, ...],
    method: DataGenerationMethod,
    examples: int,
    statuses: set[int],
) -> None:
    """Call the operation with generated requests; raise the first that breaks a check."""
    strategy = operation.as_strategy(data_generation_method=method)
    # Logging out revokes the token it carries: give each of its calls a new one.
    logout = (operation.method.upper(), operation.path) == LOGOUT

    @given(data=st.data())
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(data) -> None:
        case = data.draw(strategy)
        # schemathesis 3 cannot encode a multipart body that is not an object (it
        # crashes on a bare number or list): those uploads are refused before they go.
        assume(case.media_type != "multipart/form-data" or isinstance(case.body, dict))
        aim(seed, data, case)
        role = data.draw(st.sampled_from(roles))
        response = case.call(headers=seed.headers(role, fresh=logout))
        db.session.rollback()  # let the next request see what this one committed
        statuses.add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as error:
            raise AssertionError(f"as {role}: {error}") from None

    run()


@pytest.mark.slow
def test_every_operation_answers_as_documented(app, client, seed):
    raw = client.get("/api/v1/openapi.json").json
    schema = schemathesis.openapi.from_dict(
        raw,
        app=app,
        # The bearer token is ours to send, not the fuzzer's to invent.
        generation_config=GenerationConfig(with_security_parameters=False),
    )
    failures = []
    statuses: dict[str, set[int]] = {}
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        answered = statuses.setdefault(operation.verbose_name, set())
        # Each operation starts with no failed logins from this address: the made-up
        # logins of POST /auth/tokens would otherwise keep a password change at 429.
        db.session.execute(delete(LoginAttempt))
        db.session.commit()
        for roles, method, examples in PASSES:
            if roles == (ADMIN,) and operation.verbose_name in ACTS_AS:
                roles = (ACTS_AS[operation.verbose_name],)
            try:
                fuzz_operation(seed, operation, roles, method, examples, answered)
            except SkipTest:
                # Nothing to break: no parameters and no body (GET /api/v1/me, ...).
                assert method == DataGenerationMethod.negative
            except Exception as error:  # collect them all, then fail once
                failures.append(f"{operation.verbose_name} ({method.name}) {error}")
    elapsed = time.monotonic() - started
    print(f"fuzzed {app.config['TEST_BACKEND']} in {elapsed:.0f} s")
    assert not failures, "\n\n".join(failures)
    never = {name for name, seen in statuses.items() if not any(200 <= s < 300 for s in seen)}
    unexpected = never - set(NEVER_SUCCEED)
    assert not unexpected, {name: statuses[name] for name in unexpected}


# What the fuzzer found ------------------------------------------------------------------


@pytest.mark.parametrize("household_id", ["0", "2147483648", "9" * 30, "9" * 5000])
def test_an_id_no_row_can_have_is_404(client, admin_headers, household, household_id):
    path = f"/api/v1/households/{household_id}"

    assert_problem(client.get(path, headers=admin_headers), 404, "not_found")
    # Not 405, although the path's GET rule had matched before the id was refused.
    response = client.patch(path, json={"name": "新名字"}, headers=admin_headers)
    assert_problem(response, 404, "not_found")


def test_a_ledger_page_past_32_bits_is_422_not_an_overflow(client, admin_headers, household):
    response = client.get(
        f"/api/v1/households/{household.id}/ledger?before_version={2**63}", headers=admin_headers
    )

    body = assert_problem(response, 422, "validation_error")
    assert "before_version" in body["errors"]


@pytest.mark.parametrize("path", ["/api/v1/reports/summary", "/api/v1/reports/exports/ledger.csv"])
@pytest.mark.parametrize("query", ["to=0001-01-01", "from=9999-12-31&to=9999-12-31"])
def test_a_report_day_at_the_end_of_the_calendar_is_422(client, admin_headers, path, query):
    response = client.get(f"{path}?{query}", headers=admin_headers)

    assert_problem(response, 422, "validation_error")


UNREADABLE_JSON = {
    "nested ten thousand deep": "[" * 10_000 + "]" * 10_000,
    "an integer of 5000 digits": '{"name": ' + "9" * 5000 + "}",
    "an unpaired surrogate": '{"name": "\\ud800"}',
}


@pytest.mark.parametrize("body", UNREADABLE_JSON.values(), ids=UNREADABLE_JSON)
@pytest.mark.parametrize("key", [None, "fuzz-1"], ids=["plain", "idempotent"])
def test_json_that_cannot_be_read_or_stored_is_400(client, admin_headers, body, key):
    headers = {**admin_headers, **({"Idempotency-Key": key} if key else {})}

    response = client.post(
        "/api/v1/grids", data=body, headers=headers, content_type="application/json"
    )

    body = assert_problem(response, 400, "validation_error")
    assert body["errors"] == {"_schema": ["Invalid JSON body."]}
    assert client.get("/api/v1/grids", headers=admin_headers).json["items"] == []


def test_a_body_over_the_limit_is_413_for_json(app, client, admin_headers):
    name = "x" * app.config["MAX_CONTENT_LENGTH"]

    response = client.post("/api/v1/grids", json={"name": name}, headers=admin_headers)

    assert_problem(response, 413, "payload_too_large")


def test_a_body_over_the_limit_is_413_for_an_upload(app, client, admin_headers):
    roster = FileStorage(io.BytesIO(b"x" * app.config["MAX_CONTENT_LENGTH"]), "roster.csv")
    # Encoded here, in memory: the test client would spool it to a file nobody closes.
    boundary, body = encode_multipart({"file": roster})

    response = client.post(
        "/api/v1/households/import",
        data=body,
        headers=admin_headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )

    assert_problem(response, 413, "payload_too_large")


def test_every_error_is_documented_as_problem_json(client):
    spec = client.get("/api/v1/openapi.json").json
    responses = spec["components"]["responses"]

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            documented = operation["responses"]
            assert "default" not in documented, (method, path)
            assert "503" in documented, (method, path)
            for status, response in documented.items():
                if int(status) < 400:
                    continue
                response = (
                    responses[response["$ref"].split("/")[-1]] if "$ref" in response else response
                )
                assert list(response["content"]) == [PROBLEM], (method, path, status)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("post", "/api/v1/inspections", {"401", "403", "404", "409", "410", "413", "422"}),
        ("post", "/api/v1/redemptions", {"401", "403", "404", "409", "410", "413", "422"}),
        ("post", "/api/v1/adjustments", {"401", "403", "404", "409", "413", "422"}),
        ("get", "/api/v1/households/cards.pdf", {"401", "403", "404", "422"}),
        ("get", "/api/v1/households/{household_id}", {"401", "403", "404"}),
    ],
)
def test_errors_an_operation_answers_are_documented(client, method, path, statuses):
    spec = client.get("/api/v1/openapi.json").json

    assert statuses <= set(spec["paths"][path][method]["responses"])


def test_out_of_stock_problem_fields_are_documented(client):
    problem = client.get("/api/v1/openapi.json").json["components"]["schemas"]["Problem"]

    assert {"good_id", "available"} <= set(problem["properties"])


@pytest.mark.parametrize("schema", ["InspectionIn", "RedemptionIn"])
def test_a_household_is_named_by_exactly_one_of_id_and_card(client, schema):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]

    assert schemas[schema]["oneOf"] == [
        {"required": ["household_id"]},
        {"required": ["payload"]},
    ]
