"""Cases under races, with real connections on both databases: one state, one event a move.

Each test lets several callers act on one case at once (run_at_once) and then reads
what they left: the case's state, its events (each starts where the one before
ended), the journals of kind `report` and the household's balance.
"""

import io
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from test_cases import event, fixed, pay_for_reports, report
from testsupport import balance_of, csrf_token, log_in, png_bytes, run_at_once

from app.auth.models import INSPECTOR, UserGrid
from app.cases.models import Case, CaseEvent, CasePhoto
from app.db import db, utcnow
from app.ledger import services as ledger
from app.ledger.models import Journal

pytestmark = pytest.mark.usefixtures("photo_folder")


def events_of(case_id: int) -> list[CaseEvent]:
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    return list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
    )


def assert_one_history(case_id: int) -> list[str]:
    """The events chain (each starts where the one before ended) and end in the case's state."""
    events = events_of(case_id)
    for before, after in zip(events, events[1:], strict=False):
        assert after.from_state == before.to_state, [(e.action, e.from_state) for e in events]
    case = db.session.get(Case, case_id)
    assert case is not None and events[-1].to_state == case.state
    return [e.action for e in events]


def refusal(response) -> str | None:
    """The problem's code of a refused request; None for a success."""
    return response.json["code"] if response.status_code >= 400 else None


def report_journals(case_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count(Journal.id)).where(
                Journal.kind == "report", Journal.business_key == f"report:{case_id}"
            )
        )
        or 0
    )


@pytest.fixture
def second_worker(make_user, grid):
    """Another inspector of 东一网格: two people who may accept the same case."""
    user = make_user(INSPECTOR, username="worker2")
    db.session.add(UserGrid(user_id=user.id, grid_id=grid.id))
    db.session.commit()
    return user


def test_two_workers_accepting_at_once_one_wins_one_is_refused(
    app, client, resident_headers, worker_headers, second_worker, token_for
):
    case = report(client, resident_headers).json
    both = [worker_headers, token_for(second_worker)]

    def accept(index):
        response = event(app.test_client(), both[index], case["id"], "accept")
        return response.status_code, refusal(response)

    outcomes = Counter(run_at_once(app, 2, accept))
    assert outcomes == {(201, None): 1, (409, "invalid_transition"): 1}
    assert assert_one_history(case["id"]) == ["report", "accept"]
    assert db.session.get(Case, case["id"]).state == "accepted"


def test_two_workers_accepting_on_their_pages_at_once_accept_it_once(
    app, village, resident, worker, second_worker
):
    """The page reads the case before it writes: the lock must still see the other's accept."""
    from app.cases import services

    case = services.report_case(resident, village.id, category="overflow")
    db.session.commit()
    browsers = [app.test_client(), app.test_client()]
    log_in(browsers[0], "worker")
    log_in(browsers[1], "worker2")
    forms = [
        {"action": "accept", "key": uuid.uuid4().hex, "csrf_token": csrf_token(b)} for b in browsers
    ]

    def accept(index):
        response = browsers[index].post(f"/inspect/cases/{case.id}", data=forms[index])
        return response.status_code, response.headers.get("Location", "")

    results = run_at_once(app, 2, accept)
    assert [status for status, _ in results] == [302, 302]
    assert sorted("refused=invalid_transition" in where for _, where in results) == [False, True]
    assert assert_one_history(case.id) == ["report", "accept"]


def test_two_workers_resolving_on_their_pages_at_once_resolve_it_once(
    app, village, resident, worker, second_worker
):
    """Each page keeps its after-photo before it resolves: the loser keeps neither."""
    from app.cases import services

    case = services.report_case(resident, village.id, category="overflow")
    services.act(worker, village.id, case.id, services.EventRequest(action="accept"))
    db.session.commit()
    browsers = [app.test_client(), app.test_client()]
    log_in(browsers[0], "worker")
    log_in(browsers[1], "worker2")
    forms = [
        {
            "action": "resolve",
            "note": "已清运",
            "key": uuid.uuid4().hex,
            "csrf_token": csrf_token(one),
        }
        for one in browsers
    ]

    def resolve(index):
        data = {**forms[index], "photo": (io.BytesIO(png_bytes()), "after.png", "image/png")}
        response = browsers[index].post(
            f"/inspect/cases/{case.id}", data=data, content_type="multipart/form-data"
        )
        return response.status_code, response.headers.get("Location", "")

    results = run_at_once(app, 2, resolve)
    assert [status for status, _ in results] == [302, 302]
    assert sorted("refused=invalid_transition" in where for _, where in results) == [False, True]
    assert assert_one_history(case.id) == ["report", "accept", "resolve"]
    after = db.session.scalar(
        select(func.count(CasePhoto.id)).where(
            CasePhoto.case_id == case.id, CasePhoto.stage == "after"
        )
    )
    assert after == 1


def test_a_reporter_confirming_while_the_clock_closes_leaves_one_close_and_one_reward(
    app, client, runner, village, resident_headers, worker_headers, household
):
    pay_for_reports(village, points=3, confirm_days=3)
    case = report(client, resident_headers).json
    fixed(client, worker_headers, case["id"])
    later = (utcnow() + timedelta(days=4)).isoformat()

    def race(index):
        if index % 2:
            return runner.invoke(args=["cases", "tick", "--at", later]).exit_code
        response = event(app.test_client(), resident_headers, case["id"], "confirm")
        return response.status_code, refusal(response)

    results = run_at_once(app, 4, race)
    assert results[1] == results[3] == 0
    confirms = Counter(results[0::2])
    assert set(confirms) <= {(201, None), (409, "invalid_transition")}
    history = assert_one_history(case["id"])
    closes = [a for a in history if a in ("confirm", "auto_confirm")]
    assert len(closes) == 1
    assert confirms[(201, None)] == closes.count("confirm")
    stored = db.session.get(Case, case["id"])
    assert stored.state == "closed" and stored.auto_confirmed == (closes == ["auto_confirm"])
    assert report_journals(case["id"]) == 1
    assert balance_of(household, fresh=True) == 3
    assert ledger.verify().ok


def test_an_admin_reopening_while_the_reporter_confirms_leaves_one_clean_history(
    app, client, village, resident_headers, worker_headers, admin_headers, household
):
    """An admin reopens a closed case: after the confirmation, or refused before it."""
    pay_for_reports(village, points=2)
    case = report(client, resident_headers).json
    fixed(client, worker_headers, case["id"])
    callers = [
        (resident_headers, "confirm", {}),
        (admin_headers, "reopen", {"note": "复查未清理"}),
    ]

    def race(index):
        headers, action, body = callers[index]
        response = event(app.test_client(), headers, case["id"], action, **body)
        return response.status_code, refusal(response), response.json.get("state")

    confirm, reopen = run_at_once(app, 2, race)
    assert confirm == (201, None, "closed")
    history = assert_one_history(case["id"])
    stored = db.session.get(Case, case["id"])
    if reopen[0] == 201:
        assert reopen[2] == "dispatched"
        assert history == ["report", "accept", "resolve", "confirm", "reopen"]
        assert stored.state == "dispatched" and stored.reopened == 1
    else:
        assert reopen[:2] == (409, "invalid_transition")
        assert history == ["report", "accept", "resolve", "confirm"]
        assert stored.state == "closed" and stored.reopened == 0
    assert report_journals(case["id"]) == 1
    assert balance_of(household, fresh=True) == 2


def test_a_reporter_and_an_admin_reopening_at_once_send_it_back_once(
    app, client, village, resident_headers, worker_headers, admin_headers
):
    case = report(client, resident_headers).json
    fixed(client, worker_headers, case["id"])
    callers = [resident_headers, admin_headers, resident_headers]

    def reopen(index):
        response = event(app.test_client(), callers[index], case["id"], "reopen", note="还是满的")
        return response.status_code, refusal(response)

    outcomes = Counter(run_at_once(app, 3, reopen))
    assert outcomes[(201, None)] == 1
    assert outcomes[(409, "invalid_transition")] == 2
    assert assert_one_history(case["id"]).count("reopen") == 1
    assert db.session.get(Case, case["id"]).reopened == 1


def test_a_double_tap_of_confirm_with_one_key_is_one_event(
    app, client, village, resident_headers, worker_headers, household
):
    pay_for_reports(village, points=5)
    case = report(client, resident_headers).json
    fixed(client, worker_headers, case["id"])
    key = f"confirm-{uuid.uuid4().hex}"

    def tap(_index):
        response = event(app.test_client(), resident_headers, case["id"], "confirm", key=key)
        return response.status_code, response.json["state"]

    assert set(run_at_once(app, 4, tap)) == {(201, "closed")}
    assert assert_one_history(case["id"]).count("confirm") == 1
    assert report_journals(case["id"]) == 1
    assert balance_of(household, fresh=True) == 5


def test_a_report_is_paid_once_whatever_confirms_ticks_and_retries_race(
    app, client, runner, village, resident_headers, worker_headers, household
):
    """Several cases, each closed by confirmations, keyed retries and ticks at once."""
    pay_for_reports(village, points=4, daily_cap=5)
    ids = []
    for _ in range(3):
        case = report(client, resident_headers).json
        fixed(client, worker_headers, case["id"])
        ids.append(case["id"])
    later = (utcnow() + timedelta(days=4)).isoformat()

    def race(index):
        if index == 0:
            return runner.invoke(args=["cases", "tick", "--at", later]).exit_code
        case_id = ids[index % len(ids)]
        key = f"pay-{case_id}" if index % 2 else None
        return event(app.test_client(), resident_headers, case_id, "confirm", key=key).status_code

    results = run_at_once(app, 7, race)
    assert results[0] == 0 and set(results[1:]) <= {201, 409}
    for case_id in ids:
        history = assert_one_history(case_id)
        assert sum(a in ("confirm", "auto_confirm") for a in history) == 1
        assert report_journals(case_id) == 1
    assert balance_of(household, fresh=True) == 12
    assert ledger.verify().ok
