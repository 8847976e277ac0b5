"""Inspections and scoring rules through the JSON API, on SQLite and PostgreSQL."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select
from test_ledger_races import run_at_once

from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db
from app.households.cards import card_payload, make_token
from app.households.services import reissue_card, update_household
from app.inspections import services
from app.inspections.models import Inspection
from app.ledger import services as ledger
from app.ledger.models import Account, Journal

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}
INSPECTION_FIELDS = {
    "id",
    "household_id",
    "grade",
    "points",
    "transaction_id",
    "balance",
    "inspected_at",
}


def assert_problem(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert PROBLEM_FIELDS <= set(body)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code
    return body


def balance_of(household_id: int) -> int:
    return db.session.scalar(select(Account.balance).where(Account.household_id == household_id))


def inspection_journals() -> int:
    return db.session.scalar(select(func.count(Journal.id)).where(Journal.kind == "inspection"))


def inspection_rows(household_id: int) -> int:
    return db.session.scalar(
        select(func.count(Inspection.id)).where(Inspection.household_id == household_id)
    )


@pytest.fixture(autouse=True)
def photo_folder(app, tmp_path):
    """Keep uploaded photos in the test's own folder, never under instance/."""
    folder = tmp_path / "photos"
    app.config["PHOTO_FOLDER"] = str(folder)
    return folder


@pytest.fixture
def inspector(make_user):
    return make_user(INSPECTOR, username="inspector")


@pytest.fixture
def inspector_headers(inspector, token_for):
    return token_for(inspector)


@pytest.fixture
def inspect(client, inspector_headers):
    """Post an inspection (as the inspector unless told); return the response."""

    def post(household=None, grade="A", *, key=None, headers=None, **body):
        if household is not None:
            body.setdefault("household_id", household.id)
        extra = {"Idempotency-Key": key} if key is not None else {}
        return client.post(
            "/api/v1/inspections",
            json={"grade": grade, **body},
            headers={**(headers or inspector_headers), **extra},
        )

    return post


@pytest.fixture
def put_rules(client, admin_headers):
    def put(body, headers=None):
        return client.put("/api/v1/rules", json=body, headers=headers or admin_headers)

    return put


def jpeg_with_exif(size=(64, 48), color=(30, 160, 60)) -> bytes:
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "SecretSoftware 1.0"  # Software
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def png_bytes(size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, (200, 10, 10, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def upload(
    client,
    inspection_id,
    data,
    headers,
    *,
    filename="photo.jpg",
    content_type="image/jpeg",
    key=None,
):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/inspections/{inspection_id}/photo",
        data={"photo": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
        headers={**headers, **extra},
    )


# Crediting by grade ------------------------------------------------------------------------


@pytest.mark.parametrize(("grade", "points"), [("A", 3), ("B", 2), ("C", 1), ("D", 0)])
def test_each_default_grade_credits_its_points(inspect, make_household, grade, points):
    household = make_household(points=4)

    response = inspect(household, grade)

    assert response.status_code == 201, response.json
    body = response.json
    assert INSPECTION_FIELDS <= set(body)
    assert body["household_id"] == household.id
    assert body["grade"] == grade
    assert body["points"] == points
    assert body["balance"] == 4 + points
    assert re.search(r"(Z|[+-]\d\d:\d\d)$", body["inspected_at"])
    assert response.headers["Location"].endswith(f"/api/v1/inspections/{body['id']}")
    assert balance_of(household.id) == 4 + points
    if points:
        assert isinstance(body["transaction_id"], int)
    else:
        assert body["transaction_id"] is None
    assert inspection_journals() == (1 if points else 0)


def test_a_zero_point_grade_is_recorded_and_listed(client, inspect, household, inspector_headers):
    created = inspect(household, "D").json

    listed = client.get(
        f"/api/v1/inspections?household_id={household.id}", headers=inspector_headers
    )

    assert listed.status_code == 200
    assert [item["id"] for item in listed.json["items"]] == [created["id"]]
    assert listed.json["items"][0]["transaction_id"] is None
    assert listed.json["items"][0]["points"] == 0
    assert ledger.verify().ok


def test_the_credit_shows_in_the_households_ledger(client, inspect, household, admin_headers):
    created = inspect(household, "A").json

    entries = client.get(f"/api/v1/households/{household.id}/ledger", headers=admin_headers).json[
        "items"
    ]

    assert [(e["transaction_id"], e["kind"], e["amount"], e["balance_after"]) for e in entries] == [
        (created["transaction_id"], "inspection", 3, 3)
    ]


def test_one_inspection_is_read_back(client, inspect, household, inspector_headers):
    created = inspect(household, "B", note="分类较好").json

    shown = client.get(f"/api/v1/inspections/{created['id']}", headers=inspector_headers)

    assert shown.status_code == 200
    assert shown.json["note"] == "分类较好"
    assert {k: shown.json[k] for k in INSPECTION_FIELDS} == {
        k: created[k] for k in INSPECTION_FIELDS
    }


def test_admin_may_inspect_too(inspect, household, admin_headers):
    response = inspect(household, "A", headers=admin_headers)

    assert response.status_code == 201
    assert response.json["balance"] == 3


@pytest.mark.parametrize("role", [STOREKEEPER, HOUSEHOLD])
def test_other_roles_may_not_inspect(inspect, make_user, token_for, household, role):
    user = make_user(role, household=household if role == HOUSEHOLD else None)

    assert_problem(inspect(household, headers=token_for(user)), 403)
    assert balance_of(household.id) == 0


def test_inspection_without_a_token_is_401(client, household):
    response = client.post("/api/v1/inspections", json={"household_id": household.id, "grade": "A"})

    assert_problem(response, 401, "unauthorized")


# The scanned card ----------------------------------------------------------------------


def test_inspection_by_the_full_card_url(inspect, household):
    payload = card_payload(household)
    assert payload.startswith("http://greenpoints.test/q/")

    response = inspect(grade="A", payload=payload)

    assert response.status_code == 201
    assert response.json["household_id"] == household.id
    assert balance_of(household.id) == 3


def test_inspection_by_the_bare_card_token(inspect, household):
    response = inspect(grade="B", payload=make_token(household))

    assert response.status_code == 201
    assert response.json["household_id"] == household.id


@pytest.mark.parametrize(
    "payload",
    ["hello", "http://greenpoints.test/q/" + "A" * 27, "https://evil.example/q/not-a-token"],
)
def test_a_forged_or_garbled_card_is_422_invalid_qr(inspect, household, payload):
    assert_problem(inspect(grade="A", payload=payload), 422, "invalid_qr")
    assert inspection_rows(household.id) == 0


def test_a_card_of_another_village_is_422_invalid_qr(inspect, make_village, make_household):
    elsewhere = make_household(of=make_village("李家村", "LJ"))

    assert_problem(inspect(grade="A", payload=card_payload(elsewhere)), 422, "invalid_qr")
    assert balance_of(elsewhere.id) == 0


def test_a_household_of_another_village_by_id_is_404(inspect, make_village, make_household):
    elsewhere = make_household(of=make_village("李家村", "LJ"))

    body = assert_problem(inspect(elsewhere, "A"), 404, "not_found")

    assert "李家村" not in str(body)
    assert balance_of(elsewhere.id) == 0


def test_a_reissued_card_is_410_revoked_qr(inspect, household):
    old = card_payload(household)
    reissue_card(household, actor_id=None, reason="丢失")
    db.session.commit()

    assert_problem(inspect(grade="A", payload=old), 410, "revoked_qr")
    assert inspect(grade="A", payload=card_payload(household)).status_code == 201


def test_an_unknown_household_is_404(inspect):
    response = inspect(grade="A", household_id=999_999)

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize("which", ["both", "neither"])
def test_household_id_and_payload_are_one_or_the_other(inspect, household, which):
    body = (
        {"household_id": household.id, "payload": card_payload(household)}
        if which == "both"
        else {}
    )

    problem = assert_problem(inspect(grade="A", **body), 422, "validation_error")

    assert problem["errors"]
    assert balance_of(household.id) == 0


@pytest.mark.parametrize("grade", ["E", "", "a", "优", "ABCDEFGHIJ"])
def test_a_bad_grade_is_422_naming_the_grade(inspect, household, grade):
    problem = assert_problem(inspect(household, grade), 422, "validation_error")

    assert "grade" in problem["errors"]
    assert inspection_rows(household.id) == 0


def test_a_missing_grade_is_422(client, household, inspector_headers):
    response = client.post(
        "/api/v1/inspections", json={"household_id": household.id}, headers=inspector_headers
    )

    assert "grade" in assert_problem(response, 422, "validation_error")["errors"]


# Refusals: conflict of interest, moved away, the daily limit ---------------------------------


def test_an_inspector_may_not_inspect_their_own_household(inspect, make_user, token_for, household):
    neighbour = make_user(INSPECTOR, household=household)

    response = inspect(household, "A", headers=token_for(neighbour))

    assert_problem(response, 403, "conflict_of_interest")
    assert balance_of(household.id) == 0
    assert inspection_rows(household.id) == 0
    # Another inspector may.
    assert inspect(household, "A").status_code == 201


def test_conflict_of_interest_also_holds_for_the_card_payload(
    inspect, make_user, token_for, household
):
    neighbour = make_user(INSPECTOR, household=household)

    response = inspect(grade="A", payload=card_payload(household), headers=token_for(neighbour))

    assert_problem(response, 403, "conflict_of_interest")


def test_a_household_that_moved_away_is_409_household_inactive(inspect, household):
    update_household(household, {"status": "moved"})
    db.session.commit()

    assert_problem(inspect(household, "A"), 409, "household_inactive")
    assert_problem(inspect(grade="A", payload=card_payload(household)), 409, "household_inactive")
    assert balance_of(household.id) == 0
    assert inspection_rows(household.id) == 0


def test_a_second_inspection_the_same_day_is_409(inspect, make_user, token_for, household):
    assert inspect(household, "A").status_code == 201
    other = token_for(make_user(INSPECTOR))

    for headers in (None, other):
        assert_problem(inspect(household, "B", headers=headers), 409, "already_inspected_today")
    assert_problem(inspect(household, "D"), 409, "already_inspected_today")
    assert balance_of(household.id) == 3
    assert inspection_rows(household.id) == 1
    assert inspection_journals() == 1


def test_the_limit_is_per_household(inspect, make_household):
    first = make_household()
    second = make_household(name="王建国")

    assert inspect(first, "A").status_code == 201
    assert inspect(second, "A").status_code == 201


def test_daily_limit_two_allows_exactly_two(inspect, put_rules, household):
    assert (
        put_rules({"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "daily_limit": 2}).status_code == 200
    )

    assert inspect(household, "A").status_code == 201
    assert inspect(household, "B").status_code == 201
    assert_problem(inspect(household, "C"), 409, "already_inspected_today")
    assert balance_of(household.id) == 5
    assert inspection_rows(household.id) == 2


def test_a_zero_point_grade_still_counts_against_the_limit(inspect, household):
    assert inspect(household, "D").status_code == 201

    assert_problem(inspect(household, "A"), 409, "already_inspected_today")
    assert balance_of(household.id) == 0


def test_the_limit_holds_in_the_database(household, inspector):
    """A second row for the same household, day and slot is refused by the schema itself."""
    services.record_inspection(household, inspector, "A")
    db.session.commit()
    first = db.session.scalars(select(Inspection)).one()
    duplicate = Inspection(
        village_id=first.village_id,
        household_id=first.household_id,
        grid_id=first.grid_id,
        inspector_id=first.inspector_id,
        grade="A",
        points=3,
        local_date=first.local_date,
        slot=first.slot,
        rules_id=first.rules_id,
    )
    db.session.add(duplicate)
    with pytest.raises(Exception, match="(?i)unique"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("daily_limit", [1, 2])
def test_inspectors_racing_at_one_door_credit_at_most_the_limit(
    app, client, make_user, token_for, make_household, put_rules, daily_limit
):
    if daily_limit != 1:
        assert (
            put_rules(
                {"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "daily_limit": daily_limit}
            ).status_code
            == 200
        )
    household = make_household(points=1)
    household_id = household.id
    workers = 8
    grades = ["A", "B", "C", "A", "B", "C", "A", "B"]
    value = {"A": 3, "B": 2, "C": 1}
    headers = [token_for(make_user(INSPECTOR)) for _ in range(workers)]

    def send(index):
        response = app.test_client().post(
            "/api/v1/inspections",
            headers=headers[index],
            json={"household_id": household_id, "grade": grades[index]},
        )
        body = response.json
        return response.status_code, body.get("code"), body.get("points")

    results = run_at_once(app, workers, send)

    assert all(status < 500 for status, *_ in results), results
    succeeded = [r for r in results if r[0] == 201]
    refused = [r for r in results if r[0] != 201]
    assert len(succeeded) == daily_limit, results
    assert set(refused) <= {(409, "already_inspected_today", None)}, results
    assert [value[grades[i]] for i, r in enumerate(results) if r[0] == 201] == [
        points for *_, points in succeeded
    ]
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 1 + sum(points for *_, points in succeeded)
    assert inspection_rows(household_id) == daily_limit
    assert inspection_journals() == daily_limit
    assert ledger.verify().ok


# Idempotency ---------------------------------------------------------------------------


def test_a_replay_returns_the_first_answer_and_credits_once(inspect, household):
    first = inspect(household, "A", key="door-1", note="好")
    again = inspect(household, "A", key="door-1", note="好")

    assert first.status_code == again.status_code == 201
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Location"] == first.headers["Location"]
    assert balance_of(household.id) == 3
    assert inspection_journals() == 1
    assert inspection_rows(household.id) == 1


def test_the_same_key_with_another_grade_is_422_idempotency_conflict(inspect, household):
    assert inspect(household, "A", key="door-2").status_code == 201

    assert_problem(inspect(household, "B", key="door-2"), 422, "idempotency_conflict")
    assert balance_of(household.id) == 3


def test_a_refusal_is_replayed_under_its_key(inspect, household):
    assert inspect(household, "A").status_code == 201
    first = inspect(household, "B", key="door-3")

    again = inspect(household, "B", key="door-3")

    assert_problem(first, 409, "already_inspected_today")
    assert again.status_code == 409
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_validation_failure_is_not_stored_under_its_key(inspect, household):
    assert_problem(inspect(household, "Z", key="door-4"), 422, "validation_error")
    # Nothing was stored, so the corrected request is no idempotency_conflict.
    response = inspect(household, "A", key="door-4")

    assert response.status_code == 201


def test_the_same_key_from_many_connections_inspects_once(
    app, make_household, inspector, token_for
):
    household = make_household()
    household_id = household.id
    headers = {**token_for(inspector), "Idempotency-Key": "same-door-same-moment"}
    workers = 8

    def send(_index):
        response = app.test_client().post(
            "/api/v1/inspections",
            headers=headers,
            json={"household_id": household_id, "grade": "A"},
        )
        return (
            response.status_code,
            response.get_data(as_text=True),
            response.headers.get("Idempotent-Replayed"),
        )

    results = run_at_once(app, workers, send)

    assert {(status, text) for status, text, _ in results} == {(201, results[0][1])}, results
    assert sum(1 for *_, replayed in results if replayed is None) == 1
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 3
    assert inspection_rows(household_id) == 1
    assert inspection_journals() == 1
    assert ledger.verify().ok


# Voiding ------------------------------------------------------------------------------


def void(client, inspection_id, headers, reason="误判", key=None):
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(
        f"/api/v1/inspections/{inspection_id}/void",
        json={"reason": reason},
        headers={**headers, **extra},
    )


def test_admin_voids_an_inspection_and_the_points_go_back(
    client, inspect, household, admin_headers
):
    created = inspect(household, "A").json

    response = void(client, created["id"], admin_headers)

    assert response.status_code == 200, response.json
    assert response.json["voided"] is True
    assert response.json["void_reason"] == "误判"
    assert response.json["balance"] == 0
    assert balance_of(household.id) == 0
    entries = client.get(f"/api/v1/households/{household.id}/ledger", headers=admin_headers).json[
        "items"
    ]
    assert [e["amount"] for e in entries] == [-3, 3]
    assert ledger.verify().ok


def test_after_a_void_the_household_can_be_graded_again_the_same_day(
    client, inspect, household, admin_headers
):
    wrong = inspect(household, "A").json
    assert inspect(household, "B").status_code == 409  # the daily limit holds
    void(client, wrong["id"], admin_headers)
    scanned = client.post(
        "/api/v1/scan", json={"payload": card_payload(household)}, headers=admin_headers
    )
    assert scanned.json["inspected_today"] is False

    regraded = inspect(household, "B")

    assert regraded.status_code == 201, regraded.json
    assert regraded.json["balance"] == 2
    assert inspect(household, "C").status_code == 409  # and it holds again
    assert ledger.verify().ok


def test_voiding_twice_is_409_already_reversed(client, inspect, household, admin_headers):
    created = inspect(household, "A").json
    assert void(client, created["id"], admin_headers).status_code == 200

    assert_problem(void(client, created["id"], admin_headers), 409, "already_reversed")
    assert balance_of(household.id) == 0


def test_voiding_a_zero_point_inspection_works_once(client, inspect, household, admin_headers):
    created = inspect(household, "D").json

    assert void(client, created["id"], admin_headers).status_code == 200
    assert_problem(void(client, created["id"], admin_headers), 409, "already_reversed")
    assert balance_of(household.id) == 0
    assert ledger.verify().ok


def test_voiding_spent_points_is_409_insufficient_points(client, inspect, household, admin_headers):
    created = inspect(household, "A").json
    spent = client.post(
        "/api/v1/adjustments",
        headers=admin_headers,
        json={"household_id": household.id, "amount": -2, "reason": "兑换"},
    )
    assert spent.status_code == 201

    assert_problem(void(client, created["id"], admin_headers), 409, "insufficient_points")

    assert balance_of(household.id) == 1
    shown = client.get(f"/api/v1/inspections/{created['id']}", headers=admin_headers).json
    assert shown["voided"] is False
    assert ledger.verify().ok


@pytest.mark.parametrize("grade", ["A", "D"])
def test_admins_voiding_at_once_void_it_once(
    app, client, inspect, household, make_user, token_for, grade
):
    created = inspect(household, grade).json
    inspection_id, household_id = created["id"], household.id
    headers = [token_for(make_user(ADMIN)) for _ in range(4)]

    def send(index):
        response = app.test_client().post(
            f"/api/v1/inspections/{inspection_id}/void",
            json={"reason": "race"},
            headers=headers[index],
        )
        return response.status_code, response.json.get("code")

    results = run_at_once(app, len(headers), send)

    assert sorted(results, key=str) == sorted(
        [(200, None)] + [(409, "already_reversed")] * 3, key=str
    ), results
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 0
    assert ledger.verify().ok


def test_an_inspector_may_not_void(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json

    assert_problem(void(client, created["id"], inspector_headers), 403)
    assert balance_of(household.id) == 3


def test_voiding_an_unknown_inspection_is_404(client, admin_headers):
    assert_problem(void(client, 999_999, admin_headers), 404, "not_found")


def test_voiding_needs_a_reason(client, inspect, household, admin_headers):
    created = inspect(household, "A").json

    response = client.post(
        f"/api/v1/inspections/{created['id']}/void", json={}, headers=admin_headers
    )

    assert "reason" in assert_problem(response, 422, "validation_error")["errors"]
    assert balance_of(household.id) == 3


def test_a_void_replay_answers_the_same(client, inspect, household, admin_headers):
    created = inspect(household, "A").json

    first = void(client, created["id"], admin_headers, key="void-1")
    again = void(client, created["id"], admin_headers, key="void-1")

    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert balance_of(household.id) == 0


def test_another_villages_admin_may_not_void(
    client, inspect, household, make_village, make_user, token_for
):
    created = inspect(household, "A").json
    stranger = make_user(ADMIN, of=make_village("李家村", "LJ"))

    assert_problem(void(client, created["id"], token_for(stranger)), 404)
    assert balance_of(household.id) == 3


# Rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [ADMIN, INSPECTOR, STOREKEEPER])
def test_staff_read_the_default_rules(client, make_user, token_for, role):
    response = client.get("/api/v1/rules", headers=token_for(make_user(role)))

    assert response.status_code == 200
    body = response.json
    assert body["grades"] == {"A": 3, "B": 2, "C": 1, "D": 0}
    assert body["daily_limit"] == 1
    assert body["labels"] == {"A": "优", "B": "良", "C": "中", "D": "差"}
    assert body["version"] == 1


def test_a_household_user_may_not_read_the_rules(client, resident, token_for):
    assert_problem(client.get("/api/v1/rules", headers=token_for(resident)), 403)


def test_admin_changes_the_rules_and_the_history_shows_who(client, put_rules, admin, admin_headers):
    response = put_rules(
        {
            "grades": {"A": 5, "B": 3, "C": 1, "D": 0},
            "daily_limit": 2,
            "labels": {"A": "优秀", "B": "良", "C": "中", "D": "差"},
        }
    )

    assert response.status_code == 200, response.json
    assert response.json["version"] == 2
    assert response.json["grades"] == {"A": 5, "B": 3, "C": 1, "D": 0}
    assert response.json["labels"]["A"] == "优秀"
    now = client.get("/api/v1/rules", headers=admin_headers).json
    assert now["version"] == 2 and now["daily_limit"] == 2
    history = client.get("/api/v1/rules/history", headers=admin_headers)
    assert history.status_code == 200
    items = history.json["items"]
    assert [item["version"] for item in items] == [2, 1]
    assert items[0]["updated_by"] == admin.id
    assert items[1]["updated_by"] is None  # the village's defaults
    assert items[1]["grades"] == {"A": 3, "B": 2, "C": 1, "D": 0}
    assert all(re.search(r"(Z|[+-]\d\d:\d\d)$", item["updated_at"]) for item in items)


def test_admins_changing_the_rules_at_once_each_get_a_version(
    app, client, make_user, token_for, admin_headers
):
    headers = [token_for(make_user(ADMIN)) for _ in range(4)]

    def send(index):
        response = app.test_client().put(
            "/api/v1/rules", headers=headers[index], json={"grades": {"A": 3 + index, "D": 0}}
        )
        return response.status_code, response.json.get("version")

    results = run_at_once(app, len(headers), send)

    assert all(status == 200 for status, _ in results), results
    assert sorted(version for _, version in results) == [2, 3, 4, 5]
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    history = client.get("/api/v1/rules/history", headers=admin_headers).json["items"]
    assert [item["version"] for item in history] == [5, 4, 3, 2, 1]


def test_rules_without_labels_fall_back_to_the_grade_name(put_rules):
    response = put_rules({"grades": {"GOOD": 2, "BAD": 0}})

    assert response.status_code == 200
    assert response.json["labels"] == {"GOOD": "GOOD", "BAD": "BAD"}
    assert response.json["daily_limit"] == 1


def test_an_inspector_may_not_change_the_rules_or_read_their_history(
    client, put_rules, inspector_headers, admin_headers
):
    response = put_rules({"grades": {"A": 100}}, headers=inspector_headers)

    assert_problem(response, 403)
    assert_problem(client.get("/api/v1/rules/history", headers=inspector_headers), 403)
    assert client.get("/api/v1/rules", headers=admin_headers).json["version"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grades": {"A": -1, "B": 2}}, "grades"),
        ({"grades": {}}, "grades"),
        ({"grades": {"A": 3}, "daily_limit": 0}, "daily_limit"),
        ({"grades": {"A": 3}, "labels": {"B": "良"}}, "labels"),
        ({"grades": {"A": 2.5}}, "grades"),
        ({"grades": {"A": "3"}}, "grades"),
        ({"grades": {"a b": 3}}, "grades"),
        ({"daily_limit": 1}, "grades"),
        ({"grades": {"A": 3}, "daily_limit": -2}, "daily_limit"),
    ],
)
def test_bad_rules_are_422_and_change_nothing(client, put_rules, admin_headers, body, field):
    problem = assert_problem(put_rules(body), 422, "validation_error")

    assert field in problem["errors"]
    assert client.get("/api/v1/rules", headers=admin_headers).json["version"] == 1


def test_a_rules_change_applies_only_to_later_inspections(
    client, inspect, put_rules, make_household, inspector_headers
):
    before = make_household()
    after = make_household(name="王建国")
    earlier = inspect(before, "A").json
    assert earlier["points"] == 3

    assert put_rules({"grades": {"A": 5, "B": 2, "C": 1, "D": 0}}).status_code == 200
    later = inspect(after, "A")

    assert later.status_code == 201
    assert later.json["points"] == 5
    assert balance_of(after.id) == 5
    assert balance_of(before.id) == 3
    kept = client.get(f"/api/v1/inspections/{earlier['id']}", headers=inspector_headers).json
    assert kept["points"] == 3
    assert ledger.verify().ok


def test_a_grade_dropped_from_the_rules_is_refused(inspect, put_rules, household):
    assert put_rules({"grades": {"GOOD": 2, "BAD": 0}}).status_code == 200

    assert "grade" in assert_problem(inspect(household, "A"), 422)["errors"]
    assert inspect(household, "GOOD").json["points"] == 2


# Listing ------------------------------------------------------------------------------


@pytest.fixture
def at(monkeypatch):
    """Make the inspection service see a chosen moment as now."""

    def move(moment: datetime) -> None:
        monkeypatch.setattr(services, "utcnow", lambda: moment)

    return move


def test_the_list_filters_by_grid_inspector_household_and_date(
    client, village, make_grid, make_household, make_user, token_for, inspect, at, admin_headers
):
    east, west = make_grid("东"), make_grid("西")
    first = make_household(in_grid=east)
    second = make_household(in_grid=east, name="王建国")
    third = make_household(in_grid=west, name="李华")
    alice, bob = make_user(INSPECTOR), make_user(INSPECTOR)
    alice_headers, bob_headers = token_for(alice), token_for(bob)
    today = services.village_today(village.id)
    yesterday = today - timedelta(days=1)

    at(datetime.now(UTC) - timedelta(days=1))
    old = inspect(first, "B", headers=alice_headers).json
    at(datetime.now(UTC))
    a = inspect(first, "A", headers=alice_headers).json
    b = inspect(second, "C", headers=bob_headers).json
    c = inspect(third, "A", headers=alice_headers).json

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/v1/inspections?{query}", headers=admin_headers)
        assert response.status_code == 200, response.json
        return [item["id"] for item in response.json["items"]]

    assert ids("") == [c["id"], b["id"], a["id"], old["id"]]
    assert ids(f"date={today.isoformat()}") == [c["id"], b["id"], a["id"]]
    assert ids(f"date={yesterday.isoformat()}") == [old["id"]]
    assert ids(f"from={yesterday.isoformat()}&to={yesterday.isoformat()}") == [old["id"]]
    assert ids(f"from={today.isoformat()}") == [c["id"], b["id"], a["id"]]
    assert ids(f"to={yesterday.isoformat()}") == [old["id"]]
    assert ids(f"grid_id={east.id}") == [b["id"], a["id"], old["id"]]
    assert ids(f"grid_id={west.id}") == [c["id"]]
    assert ids(f"inspector_id={bob.id}") == [b["id"]]
    assert ids(f"inspector_id={alice.id}&date={today.isoformat()}") == [c["id"], a["id"]]
    assert ids(f"household_id={first.id}") == [a["id"], old["id"]]
    assert ids(f"household_id={first.id}&grid_id={west.id}") == []
    listed = client.get("/api/v1/inspections", headers=admin_headers).json
    assert listed["total"] == 4
    assert {"local_date"} <= set(listed["items"][0])


def test_the_date_is_the_villages_local_date(
    client, village, household, inspect, at, admin_headers
):
    # 17:30 UTC on 1 May is 01:30 on 2 May in Asia/Shanghai.
    at(datetime(2024, 5, 1, 17, 30, tzinfo=UTC))
    created = inspect(household, "A").json

    def ids(day: str) -> list[int]:
        return [
            i["id"]
            for i in client.get(f"/api/v1/inspections?date={day}", headers=admin_headers).json[
                "items"
            ]
        ]

    assert ids("2024-05-02") == [created["id"]]
    assert ids("2024-05-01") == []
    # The next local day is a new day for the limit.
    at(datetime(2024, 5, 2, 16, 30, tzinfo=UTC))  # 00:30 on 3 May locally
    assert inspect(household, "A").status_code == 201
    at(datetime(2024, 5, 2, 15, 30, tzinfo=UTC))  # 23:30 on 2 May locally
    assert_problem(inspect(household, "A"), 409, "already_inspected_today")


def test_the_day_follows_the_villages_own_time_zone(
    client, make_village, make_household, make_user, token_for, at
):
    london = make_village("伦敦村", "LDN", timezone="Europe/London")
    household = make_household(of=london)
    headers = token_for(make_user(INSPECTOR, of=london))
    admin = token_for(make_user(ADMIN, of=london))
    # 17:30 UTC on 1 May is 18:30 on 1 May in London (and already 2 May in Shanghai).
    at(datetime(2024, 5, 1, 17, 30, tzinfo=UTC))
    created = client.post(
        "/api/v1/inspections", headers=headers, json={"household_id": household.id, "grade": "A"}
    ).json

    assert created["local_date"] == "2024-05-01"
    listed = client.get("/api/v1/inspections?date=2024-05-01", headers=admin).json["items"]
    assert [item["id"] for item in listed] == [created["id"]]


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER, ADMIN])
def test_staff_may_list_inspections(client, make_user, token_for, role):
    response = client.get("/api/v1/inspections", headers=token_for(make_user(role)))

    assert response.status_code == 200
    assert response.json["items"] == []


def test_a_household_user_may_not_list_inspections(client, inspect, household, resident, token_for):
    inspect(household, "A")

    response = client.get("/api/v1/inspections", headers=token_for(resident))

    assert "items" not in assert_problem(response, 403)


@pytest.mark.parametrize(
    "query", ["date=2024-13-01", "date=yesterday", "grid_id=abc", "from=1.5.2024"]
)
def test_a_bad_list_query_is_422(client, admin_headers, query):
    response = client.get(f"/api/v1/inspections?{query}", headers=admin_headers)

    assert_problem(response, 422, "validation_error")


def test_another_villages_inspections_stay_hidden(
    client, inspect, household, make_village, make_user, token_for
):
    created = inspect(household, "A").json
    stranger = token_for(make_user(ADMIN, of=make_village("李家村", "LJ")))

    assert client.get("/api/v1/inspections", headers=stranger).json["items"] == []
    assert_problem(client.get(f"/api/v1/inspections/{created['id']}", headers=stranger), 404)


# Photos -------------------------------------------------------------------------------


def test_a_jpeg_is_stored_re_encoded_without_its_exif(
    client, inspect, household, inspector_headers, photo_folder
):
    original = jpeg_with_exif()
    assert Image.open(io.BytesIO(original)).getexif()[0x010F] == "SecretCam"
    created = inspect(household, "A").json

    response = upload(client, created["id"], original, inspector_headers)

    assert response.status_code == 200, response.json
    assert response.json["has_photo"] is True
    shown = client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers)
    assert shown.status_code == 200
    assert shown.mimetype == "image/jpeg"
    data = shown.get_data()
    assert data != original
    assert b"SecretCam" not in data and b"SecretSoftware" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert image.size == (64, 48)
        exif = image.getexif()
        assert 0x010F not in exif and 0x0131 not in exif
    stored = list(photo_folder.iterdir())
    assert len(stored) == 1 and b"SecretCam" not in stored[0].read_bytes()


def test_a_png_is_accepted_and_served_as_jpeg(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json

    response = upload(
        client,
        created["id"],
        png_bytes(),
        inspector_headers,
        filename="photo.png",
        content_type="image/png",
    )

    assert response.status_code == 200, response.json
    shown = client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers)
    assert shown.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(shown.get_data())) as image:
        assert image.format == "JPEG"
        assert image.size == (40, 30)


def test_a_large_photo_is_scaled_down(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json
    buffer = io.BytesIO()
    Image.new("RGB", (3200, 1200), (0, 0, 0)).save(buffer, "JPEG")

    assert upload(client, created["id"], buffer.getvalue(), inspector_headers).status_code == 200
    shown = client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers)
    with Image.open(io.BytesIO(shown.get_data())) as image:
        assert max(image.size) <= 1600


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (b"this is not a photo at all\n" * 10, "photo.jpg", "image/jpeg"),
        (b"", "photo.jpg", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "photo.gif", "image/gif"),
        (jpeg_with_exif()[:200], "cut.jpg", "image/jpeg"),
    ],
)
def test_a_file_that_is_not_a_jpeg_or_png_is_422(
    client, inspect, household, inspector_headers, photo_folder, data, filename, content_type
):
    created = inspect(household, "A").json

    response = upload(
        client, created["id"], data, inspector_headers, filename=filename, content_type=content_type
    )

    assert "photo" in assert_problem(response, 422, "validation_error")["errors"]
    assert not photo_folder.exists() or not any(photo_folder.iterdir())
    assert_problem(
        client.get(f"/api/v1/inspections/{created['id']}/photo", headers=inspector_headers), 404
    )


def test_a_gif_is_refused_even_when_real(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "GIF")

    response = upload(
        client,
        created["id"],
        buffer.getvalue(),
        inspector_headers,
        filename="photo.gif",
        content_type="image/gif",
    )

    assert_problem(response, 422, "validation_error")


def test_a_photo_too_large_is_refused(app, client, inspect, household, inspector_headers):
    app.config["MAX_PHOTO_BYTES"] = 1000
    created = inspect(household, "A").json
    buffer = io.BytesIO()
    Image.effect_noise((200, 200), 80).convert("RGB").save(buffer, "JPEG", quality=95)
    assert len(buffer.getvalue()) > 1000

    response = upload(client, created["id"], buffer.getvalue(), inspector_headers)

    assert response.status_code in (413, 422)
    assert response.json["code"] in ("payload_too_large", "validation_error")


def test_the_upload_needs_the_photo_field(client, inspect, household, inspector_headers):
    created = inspect(household, "A").json

    response = client.post(
        f"/api/v1/inspections/{created['id']}/photo",
        data={"picture": (io.BytesIO(png_bytes()), "p.png", "image/png")},
        content_type="multipart/form-data",
        headers=inspector_headers,
    )

    assert "photo" in assert_problem(response, 422, "validation_error")["errors"]


def test_another_inspector_may_not_add_a_photo_to_my_inspection(
    client, inspect, household, make_user, token_for, admin_headers
):
    created = inspect(household, "A").json
    other = token_for(make_user(INSPECTOR))

    assert_problem(upload(client, created["id"], jpeg_with_exif(), other), 403)
    assert_problem(
        client.get(f"/api/v1/inspections/{created['id']}/photo", headers=admin_headers), 404
    )
    # The admin may.
    assert upload(client, created["id"], jpeg_with_exif(), admin_headers).status_code == 200


def multipart(
    boundary: str, data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg"
) -> tuple[bytes, str]:
    """One multipart/form-data body with the photo field, under a chosen boundary."""
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
        f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    return (
        body + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def test_a_photo_upload_replays_under_its_key(
    client, inspect, household, inspector_headers, photo_folder
):
    created = inspect(household, "A").json
    body, content_type = multipart("fixed-boundary", jpeg_with_exif())

    def send(data, kind):
        return client.post(
            f"/api/v1/inspections/{created['id']}/photo",
            data=data,
            headers={**inspector_headers, "Idempotency-Key": "photo-1", "Content-Type": kind},
        )

    first, again = send(body, content_type), send(body, content_type)

    assert first.status_code == again.status_code == 200, first.json
    assert again.get_data() == first.get_data()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(list(photo_folder.iterdir())) == 1
    other_body, other_type = multipart("fixed-boundary", png_bytes(), "p.png", "image/png")
    assert_problem(send(other_body, other_type), 422, "idempotency_conflict")


def test_a_resent_photo_form_replays_whatever_its_multipart_boundary(
    client, inspect, household, inspector_headers, photo_folder
):
    """A phone that rebuilds the same form for a retry picks a new boundary; the request is
    the same (same field, file name and bytes), so it must be replayed, not refused."""
    created = inspect(household, "A").json
    photo = jpeg_with_exif()

    def send(boundary):
        data, kind = multipart(boundary, photo)
        return client.post(
            f"/api/v1/inspections/{created['id']}/photo",
            data=data,
            headers={**inspector_headers, "Idempotency-Key": "photo-2", "Content-Type": kind},
        )

    first, again = send("boundary-one"), send("boundary-two")

    assert first.status_code == 200
    assert again.status_code == 200, again.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(list(photo_folder.iterdir())) == 1


def test_a_household_user_may_not_see_photos(
    client, inspect, household, inspector_headers, resident, token_for
):
    created = inspect(household, "A").json
    upload(client, created["id"], jpeg_with_exif(), inspector_headers)

    assert_problem(
        client.get(f"/api/v1/inspections/{created['id']}/photo", headers=token_for(resident)), 403
    )


# Scanning -----------------------------------------------------------------------------


def test_scan_tells_whether_the_household_was_inspected_today(
    client, inspect, household, inspector_headers
):
    def scan():
        response = client.post(
            "/api/v1/scan", json={"payload": card_payload(household)}, headers=inspector_headers
        )
        assert response.status_code == 200, response.json
        return response.json

    assert scan()["inspected_today"] is False
    inspect(household, "B")

    scanned = scan()
    assert scanned["inspected_today"] is True
    assert scanned["household"]["id"] == household.id
    assert scanned["household"]["balance"] == 2


def test_every_inspection_endpoint_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    assert {"post", "get"} <= set(paths["/api/v1/inspections"])
    assert "post" in paths["/api/v1/inspections/{inspection_id}/void"]
    assert {"post", "get"} <= set(paths["/api/v1/inspections/{inspection_id}/photo"])
    assert {"get", "put"} <= set(paths["/api/v1/rules"])
    assert "get" in paths["/api/v1/rules/history"]
