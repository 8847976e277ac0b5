"""Inspections recorded offline: inspected_at, its bounds, its day, rules and card (issue 17)."""

import gzip
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import brotli
import pytest
from sqlalchemy import update
from testsupport import (
    api_log_in,
    assert_problem,
    balance_of,
    bearer,
    csrf_token,
    inspection_journals,
    log_in,
    page_post,
)

from app.auth.services import end_page_sessions, set_grids
from app.db import db
from app.households.cards import card_payload
from app.households.services import reissue_card, update_household
from app.inspections.models import Inspection
from app.inspections.services import inspect_household, void_inspection
from app.ledger.services import adjust
from app.rules.models import RuleSet
from app.rules.services import current_rules, set_rules

pytestmark = pytest.mark.usefixtures("photo_folder")

SHANGHAI = ZoneInfo("Asia/Shanghai")


def ago(**delta) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_answer_echoes_inspected_at_and_adds_recorded_at(inspect, household):
    graded = ago(hours=5).astimezone(SHANGHAI)

    response = inspect(household, "A", inspected_at=stamp(graded))

    assert response.status_code == 201, response.json
    body = response.json
    assert parse(body["inspected_at"]) == graded
    recorded = parse(body["recorded_at"])
    assert abs(recorded - datetime.now(UTC)) < timedelta(minutes=1)
    assert body["balance"] == 3
    assert body["local_date"] == graded.date().isoformat()


def test_without_inspected_at_it_is_now(inspect, household):
    body = inspect(household, "A").json

    assert abs(parse(body["inspected_at"]) - parse(body["recorded_at"])) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("offset", "status", "code"),
    [
        (timedelta(minutes=10), 422, "validation_error"),
        (timedelta(minutes=2), 201, None),
        (-timedelta(hours=71), 201, None),
        (-timedelta(hours=73), 422, "too_late"),
    ],
)
def test_inspected_at_bounds(inspect, household, offset, status, code):
    response = inspect(household, "A", inspected_at=stamp(datetime.now(UTC) + offset))

    if code is None:
        assert response.status_code == status, response.json
        assert balance_of(household.id) == 3
    else:
        assert_problem(response, status, code)
        assert balance_of(household.id) == 0
        assert inspection_journals() == 0


def test_a_time_without_offset_is_refused(inspect, household):
    naive = ago(hours=1).replace(tzinfo=None).isoformat()

    response = inspect(household, "A", inspected_at=naive)

    body = assert_problem(response, 422, "validation_error")
    assert "inspected_at" in body["errors"]


def test_the_daily_limit_is_that_of_the_village_day_graded(inspect, household):
    now_local = datetime.now(SHANGHAI)
    yesterday_noon = datetime.combine(
        now_local.date() - timedelta(days=1), datetime.min.time().replace(hour=12), SHANGHAI
    )

    assert inspect(household, "A").status_code == 201  # today's slot
    queued = inspect(household, "B", inspected_at=stamp(yesterday_noon))
    again = inspect(household, "C", inspected_at=stamp(yesterday_noon + timedelta(hours=1)))

    assert queued.status_code == 201, queued.json
    assert queued.json["local_date"] == yesterday_noon.date().isoformat()
    assert_problem(again, 409, "already_inspected_today")
    assert balance_of(household.id) == 3 + 2


def test_the_rules_are_those_in_force_when_graded(inspect, put_rules, make_household, village):
    household, other = make_household(), make_household()
    assert put_rules({"grades": {"A": 5, "B": 2}, "daily_limit": 3}).status_code == 200
    # Version 2 came into force three hours ago; version 3 (below) comes now.
    db.session.execute(
        update(RuleSet)
        .where(RuleSet.village_id == village.id, RuleSet.version == 2)
        .values(created_at=ago(hours=3))
    )
    db.session.commit()
    assert put_rules({"grades": {"A": 9}, "daily_limit": 1}).status_code == 200

    old = inspect(household, "A", inspected_at=stamp(ago(hours=2)))
    older = inspect(household, "B", inspected_at=stamp(ago(hours=1)))
    now = inspect(other, "A")

    assert old.json["points"] == 5
    assert older.status_code == 201, older.json  # B existed then, and 3 a day
    assert older.json["points"] == 2
    assert now.json["points"] == 9
    assert balance_of(household.id) == 5 + 2


def test_before_any_rules_the_first_version_applies(inspect, household, village):
    # A grade given before the village's first rules were saved still has rules.
    db.session.execute(
        update(RuleSet).where(RuleSet.village_id == village.id).values(created_at=ago(hours=1))
    )
    db.session.commit()

    response = inspect(household, "A", inspected_at=stamp(ago(hours=2)))

    assert response.status_code == 201, response.json
    assert response.json["points"] == 3


def test_a_card_reissued_after_the_grade_still_counts(inspect, household, admin):
    old_card = card_payload(household)
    graded = ago(minutes=30)
    reissue_card(household, actor_id=admin.id, reason="丢失")
    db.session.commit()

    response = inspect(None, "A", payload=old_card, inspected_at=stamp(graded))

    assert response.status_code == 201, response.json
    assert response.json["household_id"] == household.id
    assert balance_of(household.id) == 3


def test_a_card_reissued_before_the_grade_is_revoked(inspect, household, admin):
    old_card = card_payload(household)
    reissue_card(household, actor_id=admin.id, reason="丢失")
    db.session.commit()

    later = inspect(None, "A", payload=old_card, inspected_at=stamp(datetime.now(UTC)))
    plain = inspect(None, "A", payload=old_card)

    assert_problem(later, 410, "revoked_qr")
    assert_problem(plain, 410, "revoked_qr")
    assert balance_of(household.id) == 0


def test_a_card_two_versions_old_counts_only_before_its_own_reissue(inspect, household, admin):
    first = card_payload(household)
    reissue_card(household, actor_id=admin.id, reason="丢失")
    db.session.commit()
    between = ago(seconds=0)
    reissue_card(household, actor_id=admin.id, reason="又丢失")
    db.session.commit()

    response = inspect(None, "A", payload=first, inspected_at=stamp(between))

    assert_problem(response, 410, "revoked_qr")


def test_a_queue_replayed_twice_credits_once(inspect, make_household):
    households = [make_household() for _ in range(3)]
    queue = [
        (f"tap-{i}", household, stamp(ago(hours=10, minutes=i)))
        for i, household in enumerate(households)
    ]

    first = [inspect(h, "A", key=key, inspected_at=at) for key, h, at in queue]
    second = [inspect(h, "A", key=key, inspected_at=at) for key, h, at in queue]

    assert [r.status_code for r in first] == [201, 201, 201]
    assert [r.status_code for r in second] == [201, 201, 201]
    assert all(r.headers.get("Idempotent-Replayed") == "true" for r in second)
    assert [r.json for r in second] == [r.json for r in first]
    assert inspection_journals() == 3
    assert [balance_of(h.id) for h in households] == [3, 3, 3]


def test_the_phones_queue_sent_as_a_batch_after_one_went_alone_credits_each_once(
    client, inspect, inspector_headers, make_household
):
    """As static/js/queue.js sends: the oldest grades in one batch, resent if the answer is lost."""
    households = [make_household() for _ in range(3)]
    items = [
        {"key": f"tap-{n}", "household_id": h.id, "grade": "A", "inspected_at": stamp(ago(hours=2))}
        for n, h in enumerate(households)
    ]
    # The first tap went alone (a grade page online) before its answer was lost.
    alone = inspect(households[0], "A", key="tap-0", inspected_at=items[0]["inspected_at"])
    assert alone.status_code == 201

    first = client.post(
        "/api/v1/inspections/batch", json={"items": items}, headers=inspector_headers
    )
    again = client.post(
        "/api/v1/inspections/batch", json={"items": items}, headers=inspector_headers
    )

    assert [i["status"] for i in first.json["items"]] == [201, 201, 201]
    assert first.json["items"][0]["inspection"] == alone.json
    assert again.json == first.json
    assert inspection_journals() == 3
    assert [balance_of(h.id) for h in households] == [3, 3, 3]


def test_the_roster_names_the_village_and_each_cards_version(client, household, inspector_headers):
    """The phone reads a scanned card against these before it skips the server's card check."""
    roster = client.get("/api/v1/roster", headers=inspector_headers)
    assert roster.status_code == 200
    assert roster.json["village_id"] == household.village_id
    assert [(h["id"], h["card_version"]) for h in roster.json["items"]] == [(household.id, 1)]


def test_a_revoked_phone_token_no_longer_reads_the_roster(client, inspector_headers):
    """Logging out on the phone revokes its token (static/js/logout.js)."""
    assert (
        client.delete("/api/v1/auth/tokens/current", headers=inspector_headers).status_code == 204
    )
    assert_problem(client.get("/api/v1/roster", headers=inspector_headers), 401, "unauthorized")


def page_token_of(app, username: str) -> dict[str, str]:
    """Log a phone's page in and ask for the token its queue is sent with (inspect.js)."""
    phone = app.test_client()
    log_in(phone, username)
    answer = phone.post("/inspect/token", headers={"X-CSRFToken": csrf_token(phone)})
    assert answer.status_code == 200, answer.text
    return bearer(answer.json["token"])


def test_a_page_token_ends_when_its_user_logs_out_on_another_device(app, client, inspector):
    """A shared phone that was not logged out keeps a token: it dies with the session."""
    phone = page_token_of(app, "inspector")
    password_token = bearer(api_log_in(client, "inspector").json["token"])
    assert client.get("/api/v1/roster", headers=phone).status_code == 200

    other_device = app.test_client()
    log_in(other_device, "inspector")
    assert page_post(other_device, "/logout").status_code == 302

    assert_problem(client.get("/api/v1/roster", headers=phone), 401, "unauthorized")
    # A token from a login with the password is no page session's: it stays.
    assert client.get("/api/v1/roster", headers=password_token).status_code == 200
    # The next page session gets a token that works.
    assert client.get("/api/v1/roster", headers=page_token_of(app, "inspector")).status_code == 200


def test_a_page_token_ends_when_the_admin_disables_the_login(app, client, inspector, admin_headers):
    phone = page_token_of(app, "inspector")
    answer = client.patch(
        f"/api/v1/users/{inspector.id}",
        json={"active": False},
        headers={**admin_headers, "Idempotency-Key": "disable-inspector"},
    )
    assert answer.status_code == 200, answer.text
    client.patch(
        f"/api/v1/users/{inspector.id}",
        json={"active": True},
        headers={**admin_headers, "Idempotency-Key": "enable-inspector"},
    )
    # Enabled again, the phone's old token stays dead.
    assert_problem(client.get("/api/v1/roster", headers=phone), 401, "unauthorized")


def test_a_page_token_ends_when_the_session_version_is_raised(app, client, inspector):
    phone = page_token_of(app, "inspector")
    end_page_sessions(inspector.id)
    db.session.commit()
    assert_problem(client.get("/api/v1/roster", headers=phone), 401, "unauthorized")


def roster_etag(client, headers) -> str:
    answer = client.get("/api/v1/roster", headers=headers)
    assert answer.status_code == 200
    assert answer.headers["ETag"].startswith('W/"')
    return answer.headers["ETag"]


def test_an_unchanged_roster_answers_304_with_no_body(client, household, inspector_headers):
    etag = roster_etag(client, inspector_headers)
    again = client.get("/api/v1/roster", headers={**inspector_headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    # The fetched time is not part of it: the roster asked a second later is the same.
    assert roster_etag(client, inspector_headers) == etag
    # Compressed, it keeps its (weak) ETag: brotli and gzip copies are the same roster.
    squeezed = {**inspector_headers, "If-None-Match": etag, "Accept-Encoding": "br"}
    assert client.get("/api/v1/roster", headers=squeezed).status_code == 304
    squeezed = {**inspector_headers, "Accept-Encoding": "br"}
    assert client.get("/api/v1/roster", headers=squeezed).headers["ETag"] == etag


def rename(household, **_):
    update_household(household, {"name": "马秀兰"})


def move_address(household, **_):
    update_household(household, {"address": "马庄村2组 幸福路9号"})


def move_away(household, **_):
    update_household(household, {"status": "moved"})


def move_to_another_grid(household, make_grid, **_):
    update_household(household, {"grid_id": make_grid().id})


def add_a_household(household, make_household, **_):
    make_household(name="新来户")


def reissue(household, **_):
    reissue_card(household, actor_id=None, reason="丢失")


def grade(household, inspector, **_):
    inspect_household(household, inspector, "A")


def spend(household, **_):
    adjust(household.village_id, household.id, 5, reason="开户", actor_id=None)


def new_rules(household, **_):
    rules = current_rules(household.village_id)
    set_rules(household.village_id, list(rules.grades), rules.daily_limit + 1, actor_id=None)


def assign_grid(household, inspector, make_grid, **_):
    set_grids(inspector, [make_grid().id], actor_id=None)


def a_new_day(household, monkeypatch, **_):
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    monkeypatch.setattr("app.scope.utcnow", lambda: tomorrow)


@pytest.mark.parametrize(
    "change",
    [
        rename,
        move_address,
        move_away,
        move_to_another_grid,
        add_a_household,
        reissue,
        grade,
        spend,
        new_rules,
        assign_grid,
        a_new_day,
    ],
)
def test_every_change_that_alters_the_roster_changes_its_etag(
    client,
    household,
    inspector,
    inspector_headers,
    admin,
    make_grid,
    make_household,
    monkeypatch,
    change,
):
    before = client.get("/api/v1/roster", headers=inspector_headers)
    change(
        db.session.merge(household),
        inspector=inspector,
        admin=admin,
        make_grid=make_grid,
        make_household=make_household,
        monkeypatch=monkeypatch,
    )
    db.session.commit()
    etag = before.headers["ETag"]
    after = client.get("/api/v1/roster", headers={**inspector_headers, "If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert {**after.json, "fetched_at": None} != {**before.json, "fetched_at": None}


def test_pages_and_json_go_compressed_to_a_browser_that_takes_it(
    client, household, inspector_headers
):
    for encoding, decompress in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        answer = client.get(
            "/api/v1/roster", headers={**inspector_headers, "Accept-Encoding": encoding}
        )
        assert answer.headers["Content-Encoding"] == encoding
        assert json.loads(decompress(answer.data))["items"][0]["name"] == household.name
        page = client.get("/login", headers={"Accept-Encoding": f"{encoding}, deflate"})
        assert page.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in page.headers["Vary"]
        assert "<form" in decompress(page.data).decode()
    # Nothing for a client that takes no compression.
    assert "Content-Encoding" not in client.get("/login").headers


def test_the_service_worker_answers_304_when_it_has_not_changed(client):
    first = client.get("/sw.js")
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get("/sw.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # The QR decoder is not precached: only kept when a page without a native one asks.
    assets = json.loads(re.search(r"var ASSETS = (\[.*?\]);", first.text).group(1))
    on_demand = json.loads(re.search(r"var ON_DEMAND = (\[.*?\]);", first.text).group(1))
    assert not [url for url in assets if "jsQR" in url]
    assert [url for url in on_demand if "jsQR" in url]


def test_a_voided_grade_changes_the_roster_etag(
    client, household, inspector, admin, inspector_headers
):
    """A void that posts nothing (a grade of 0 points) still changes the day's last grade."""
    result = inspect_household(household, inspector, "C")
    db.session.commit()
    etag = roster_etag(client, inspector_headers)
    void_inspection(
        db.session.get_one(Inspection, result.inspection.id), actor=admin, reason="评错了"
    )
    db.session.commit()
    after = client.get("/api/v1/roster", headers={**inspector_headers, "If-None-Match": etag})
    assert after.status_code == 200
    assert after.json["items"][0]["last_inspected_on"] is None
