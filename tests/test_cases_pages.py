"""Resident reports' pages (随手拍): report, follow, fix, confirm, and the admin's desk."""

import io
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from test_cases import pay_for_reports
from testsupport import csrf_token, log_in, page_post, png_bytes

from app.auth.models import HOUSEHOLD, STOREKEEPER
from app.cases import services, views
from app.cases.models import Case, CaseEvent, CasePhoto, Station
from app.cases.stations import create_station, station_token
from app.db import db, utcnow

pytestmark = pytest.mark.usefixtures("photo_folder")


@pytest.fixture
def station(village, grid):
    made = create_station(village.id, name="幸福路收集点", grid_id=grid.id)
    db.session.commit()
    return made


def photo_field(data: bytes | None = None, name: str = "photo.png"):
    return (io.BytesIO(png_bytes() if data is None else data), name, "image/png")


def send(client, path: str, data: dict, key: str | None = None):
    """Post a page form (multipart) with its CSRF token and a key."""
    fields = {"key": key or uuid.uuid4().hex, **data, "csrf_token": csrf_token(client)}
    return client.post(path, data=fields, content_type="multipart/form-data")


def words(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def cases_count() -> int:
    return db.session.scalar(select(func.count(Case.id))) or 0


def photos_of(case_id: int, stage: str) -> int:
    return (
        db.session.scalar(
            select(func.count(CasePhoto.id)).where(
                CasePhoto.case_id == case_id, CasePhoto.stage == stage
            )
        )
        or 0
    )


def a_case(reporter, village, **fields) -> Case:
    case = services.report_case(reporter, village.id, category="overflow", **fields)
    db.session.commit()
    return case


def act(user, case: Case, action: str, **fields) -> None:
    services.act(user, case.village_id, case.id, services.EventRequest(action=action, **fields))
    db.session.commit()


def fixed_case(resident, worker, village, note="已清理") -> Case:
    """A case the worker accepted and resolved with an after-photo."""
    case = a_case(resident, village, description="桶满了")
    act(worker, case, "accept")
    services.add_photo(worker, case, "after", png_bytes())
    act(worker, case, "resolve", note=note)
    return case


# The resident's report -------------------------------------------------------------------


def test_my_page_offers_the_report_button_and_my_reports(client, resident):
    log_in(client, "resident", english=True)

    page = client.get("/my").text

    assert 'href="/report"' in page
    assert 'href="/my/reports"' in page
    assert "Report a problem" in page


def test_the_report_page_shows_big_category_buttons_and_takes_a_photo(client, resident):
    log_in(client, "resident", english=True)

    page = client.get("/report")

    assert page.status_code == 200
    assert 'capture="environment"' in page.text
    assert 'accept="image/*"' in page.text
    for code in ("overflow", "mixed", "dumping", "broken_bin", "other"):
        assert f'data-category="{code}"' in page.text
    assert "Overflowing bin" in page.text
    assert "/static/img/cases/overflow." in page.text


def test_a_report_with_a_photo_is_sent_once_per_form_key(client, resident, household, worker):
    log_in(client, "resident", english=True)
    key = uuid.uuid4().hex
    form = {"category": "overflow", "description": "桶满了", "photo": photo_field()}

    first = send(client, "/report", form, key)
    again = send(client, "/report", {**form, "photo": photo_field()}, key)

    assert first.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    case = db.session.scalars(select(Case)).one()
    assert first.headers["Location"].endswith(f"/my/reports?sent={case.id}")
    assert case.reporter_household_id == household.id
    assert case.grid_id == household.grid_id
    assert case.assignee_id == worker.id
    assert photos_of(case.id, "before") == 1
    page = client.get(first.headers["Location"]).text
    assert "Sent. The grid worker has your report." in page
    assert "桶满了" in page


def test_a_report_without_a_category_or_with_a_bad_photo_is_refused_readably(client, resident):
    log_in(client, "resident", english=True)

    unknown = send(client, "/report", {"category": "fireworks"})
    not_a_photo = send(
        client, "/report", {"category": "overflow", "photo": photo_field(b"not an image")}
    )

    assert unknown.status_code == 422
    assert "Choose what the problem is." in unknown.text
    assert not_a_photo.status_code == 422
    assert "data-message" in not_a_photo.text
    assert cases_count() == 0


def test_the_report_pages_are_for_households(client, inspector):
    assert client.get("/report").status_code == 302  # to the login form
    log_in(client, "inspector", english=True)
    assert client.get("/report").status_code == 403
    assert client.get("/my/reports").status_code == 403


# At a collection point's QR ----------------------------------------------------------------


def test_anyone_at_a_collection_point_reports_with_no_reporter_once_per_key(
    client, station, worker
):
    token = station_token(station)

    page = client.get(f"/s/{token}")
    key = uuid.uuid4().hex
    form = {"category": "mixed", "photo": photo_field()}
    first = send(client, f"/s/{token}", form, key)
    again = send(client, f"/s/{token}", {**form, "photo": photo_field()}, key)

    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"  # its form key is this phone's alone
    assert "幸福路收集点" in page.text
    assert 'capture="environment"' in page.text
    assert first.status_code == 302
    assert again.headers["Location"] == first.headers["Location"]
    case = db.session.scalars(select(Case)).one()
    assert (case.reporter_id, case.reporter_household_id) == (None, None)
    assert (case.station_id, case.grid_id, case.assignee_id) == (
        station.id,
        station.grid_id,
        worker.id,
    )
    assert photos_of(case.id, "before") == 1
    thanks = client.get(first.headers["Location"]).text
    assert services.case_code(case) in thanks


def test_a_forged_or_replaced_collection_point_card_is_refused_readably(client, station):
    token = station_token(station)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    bad = client.get(f"/s/{forged}")
    posted = send(client, f"/s/{forged}", {"category": "mixed"})
    db.session.execute(update(Station).values(card_version=2))
    db.session.commit()
    replaced = client.get(f"/s/{token}")

    assert bad.status_code == 404
    assert "not a valid collection point card" in words(bad.text) or "收集点" in bad.text
    assert posted.status_code == 404
    assert replaced.status_code == 410
    assert cases_count() == 0


def test_a_collection_point_takes_a_limited_number_of_reports_an_hour(client, station, monkeypatch):
    monkeypatch.setattr(views, "STATION_REPORTS_PER_HOUR", 1)
    token = station_token(station)
    client.get("/lang/en")

    assert send(client, f"/s/{token}", {"category": "mixed"}).status_code == 302
    second = send(client, f"/s/{token}", {"category": "mixed"})

    assert second.status_code == 429
    assert "Too many reports from here just now" in second.text
    assert cases_count() == 1


# 我的上报 ------------------------------------------------------------------------------------


def test_my_reports_show_the_state_notes_after_photo_and_points(client, village, resident, worker):
    pay_for_reports(village, points=5)
    case = fixed_case(resident, worker, village, note="已清理干净")
    log_in(client, "resident", english=True)

    page = client.get("/my/reports").text

    assert "Fixed, waiting for confirmation" in page
    assert "已清理干净" in page
    assert 'data-photo="after"' in page
    after = db.session.scalar(
        select(CasePhoto.id).where(CasePhoto.case_id == case.id, CasePhoto.stage == "after")
    )
    assert client.get(f"/cases/{case.id}/photos/{after}").mimetype == "image/jpeg"
    key = uuid.uuid4().hex
    first = send(client, f"/my/reports/{case.id}", {"action": "confirm"}, key)
    again = send(client, f"/my/reports/{case.id}", {"action": "confirm"}, key)
    assert first.status_code == again.status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "closed"
    assert client.get("/my/reports").text.count("Earned 5 points") == 1
    assert (
        db.session.scalar(
            select(func.count(CaseEvent.id)).where(
                CaseEvent.case_id == case.id, CaseEvent.action == "confirm"
            )
        )
        == 1
    )


def test_not_fixed_needs_a_note_and_sends_the_case_back_with_a_photo(
    client, village, resident, worker
):
    case = fixed_case(resident, worker, village)
    log_in(client, "resident", english=True)

    no_note = send(client, f"/my/reports/{case.id}", {"action": "reopen"})
    db.session.expire_all()
    assert no_note.status_code == 422
    assert "Write a note." in no_note.text
    assert db.session.get(Case, case.id).state == "resolved"

    reopened = send(
        client,
        f"/my/reports/{case.id}",
        {"action": "reopen", "note": "还是满的", "photo": photo_field()},
    )
    db.session.expire_all()
    assert reopened.status_code == 302
    assert db.session.get(Case, case.id).state == "dispatched"
    assert photos_of(case.id, "before") == 1


def test_a_dispatched_report_can_be_withdrawn(client, village, resident):
    case = a_case(resident, village)
    log_in(client, "resident", english=True)

    assert "data-withdraw" in client.get("/my/reports").text
    response = send(client, f"/my/reports/{case.id}", {"action": "withdraw"})

    db.session.expire_all()
    assert response.status_code == 302
    assert db.session.get(Case, case.id).state == "withdrawn"


def test_a_household_never_sees_another_households_case(
    client, village, resident, make_household, make_user, grid
):
    other_household = make_household(name="李小红", address="马庄村2组 幸福路9号")
    other = make_user(HOUSEHOLD, household=other_household, username="neighbour")
    theirs = a_case(other, village, description="邻居的上报")
    photo = services.add_photo(other, theirs, "before", png_bytes())
    db.session.commit()
    log_in(client, "resident", english=True)

    page = client.get("/my/reports").text
    confirm = send(client, f"/my/reports/{theirs.id}", {"action": "withdraw"})

    assert "邻居的上报" not in page
    assert "You have not reported anything yet." in page
    assert confirm.status_code == 404
    assert client.get(f"/cases/{theirs.id}/photos/{photo.id}").status_code == 404
    db.session.expire_all()
    assert db.session.get(Case, theirs.id).state == "dispatched"


# The grid worker's 待办 -------------------------------------------------------------------


def test_the_inspector_page_links_the_to_do_list_with_its_count(client, village, resident, worker):
    a_case(resident, village)
    a_case(resident, village)
    log_in(client, "worker", english=True)

    page = client.get("/inspect").text

    assert re.search(r'href="/inspect/cases"[^>]*>\s*To do 2\s*<', page)


def test_the_to_do_list_shows_countdowns_overdue_and_supervised(
    client, village, resident, worker, admin
):
    late = a_case(resident, village, description="早就满了")
    soon = a_case(resident, village, description="刚满")
    db.session.execute(
        update(Case).where(Case.id == late.id).values(due_at=utcnow() - timedelta(hours=5))
    )
    db.session.commit()
    act(admin, soon, "supervise", note="尽快")
    log_in(client, "worker", english=True)

    page = client.get("/inspect/cases").text

    assert "Overdue by 5 hours" in page or "Overdue by 4 hours" in page
    assert "data-overdue" in page
    assert re.search(r"2[34] hours left", page)
    assert "data-supervised" in page


def test_the_worker_pages_never_show_an_anonymous_reporter(
    client, village, resident, household, worker
):
    hidden = a_case(resident, village, anonymous=True, description="匿名上报")
    shown = a_case(resident, village, description="实名上报")
    log_in(client, "worker", english=True)

    listing = client.get("/inspect/cases").text
    hidden_page = client.get(f"/inspect/cases/{hidden.id}").text
    shown_page = client.get(f"/inspect/cases/{shown.id}").text

    assert "匿名上报" in listing
    assert listing.count(household.name) == 1  # the named report's, never the anonymous one
    assert household.name not in hidden_page
    assert "resident" not in words(hidden_page)
    assert household.name in shown_page


def test_the_worker_accepts_and_resolves_with_the_after_photo_once(
    client, village, resident, worker
):
    case = a_case(resident, village)
    log_in(client, "worker", english=True)
    page = client.get(f"/inspect/cases/{case.id}").text
    assert 'data-form="accept"' in page and 'data-form="resolve"' not in page

    accepted = send(client, f"/inspect/cases/{case.id}", {"action": "accept"})
    no_photo = send(client, f"/inspect/cases/{case.id}", {"action": "resolve"})
    key = uuid.uuid4().hex
    form = {"action": "resolve", "note": "已清运", "photo": photo_field()}
    resolved = send(client, f"/inspect/cases/{case.id}", form, key)
    again = send(client, f"/inspect/cases/{case.id}", {**form, "photo": photo_field()}, key)

    assert accepted.status_code == 302
    assert no_photo.status_code == 422
    assert "Take the after-photo first." in no_photo.text
    assert resolved.status_code == 302
    assert again.headers["Location"] == resolved.headers["Location"]
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "resolved"
    assert photos_of(case.id, "after") == 1
    resolves = db.session.scalar(
        select(func.count(CaseEvent.id)).where(
            CaseEvent.case_id == case.id, CaseEvent.action == "resolve"
        )
    )
    assert resolves == 1


def test_a_refused_move_says_so_on_the_case_page(client, village, resident, worker):
    case = a_case(resident, village)
    act(worker, case, "accept")
    log_in(client, "worker", english=True)

    response = send(client, f"/inspect/cases/{case.id}", {"action": "accept"})

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    assert "This cannot be done in the case&#39;s present state" in page


def test_the_worker_marks_a_duplicate_of_a_nearby_open_case(client, village, resident, worker):
    first = a_case(resident, village, description="第一次")
    second = a_case(resident, village, description="第二次")
    log_in(client, "worker", english=True)

    page = client.get(f"/inspect/cases/{second.id}").text
    response = send(
        client,
        f"/inspect/cases/{second.id}",
        {"action": "mark_duplicate", "duplicate_of": str(first.id)},
    )

    assert f'<option value="{first.id}"' in page
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, second.id).state == "duplicate"
    assert db.session.get(Case, second.id).duplicate_of_id == first.id


def test_the_to_do_pages_are_for_inspectors_and_admins(client, village, resident, make_user):
    case = a_case(resident, village)
    make_user(STOREKEEPER, username="storekeeper")
    log_in(client, "storekeeper", english=True)
    assert client.get("/inspect/cases").status_code == 403
    assert client.get(f"/inspect/cases/{case.id}").status_code == 403
    assert client.get("/admin/cases").status_code == 403


# The admin's desk ------------------------------------------------------------------------


def test_the_desk_shows_this_months_figures_with_their_denominators(
    admin_client, village, resident, worker
):
    case = fixed_case(resident, worker, village)
    open_case = a_case(resident, village, description="还没处理")
    db.session.execute(
        update(Case).where(Case.id == open_case.id).values(due_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()

    page = admin_client.get("/admin/cases").text
    overdue = admin_client.get("/admin/cases?overdue=1").text

    assert 'data-rate="completion">1/2<' in page
    assert "(50%)" in page
    assert 'data-rate="on_time">1/2<' in page
    assert 'data-rate="rework">0/1<' in page
    assert f'data-case="{case.id}"' in page and f'data-case="{open_case.id}"' in page
    assert f'data-case="{open_case.id}"' in overdue
    assert f'data-case="{case.id}"' not in overdue
    assert 'href="/admin/cases"' in admin_client.get("/admin/households").text


def test_the_admin_extends_supervises_transfers_and_invalidates(
    admin_client, village, resident, worker, grids
):
    case = a_case(resident, village)
    due = case.due_at
    path = f"/admin/cases/{case.id}"
    page = admin_client.get(path).text
    for name in ("transfer", "reassign", "extend", "mark_invalid", "supervise", "comment"):
        assert f'data-form="{name}"' in page

    assert send(admin_client, path, {"action": "extend", "hours": "24"}).status_code == 302
    assert send(admin_client, path, {"action": "supervise", "note": "督办"}).status_code == 302
    moved = send(admin_client, path, {"action": "transfer", "grid_id": str(grids[1].id)})
    too_long = send(admin_client, path, {"action": "extend", "hours": "400"})
    invalid = send(admin_client, path, {"action": "mark_invalid", "note": "重复刷单"})

    assert moved.status_code == 302
    assert too_long.status_code == 422
    assert "Extend by 1 to 360 hours in all." in too_long.text
    assert invalid.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Case, case.id)
    assert stored.due_at == due + timedelta(hours=24)
    assert stored.supervised
    assert stored.grid_id == grids[1].id
    assert stored.state == "invalid"


def test_the_admin_reopens_a_closed_case(admin_client, village, resident, worker):
    case = fixed_case(resident, worker, village)
    act(resident, case, "confirm")

    page = admin_client.get(f"/admin/cases/{case.id}").text
    response = send(admin_client, f"/admin/cases/{case.id}", {"action": "reopen", "note": "没扫净"})

    assert 'data-form="reopen"' in page
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Case, case.id).state == "dispatched"


def test_the_admin_publishes_and_hides_a_photo(admin_client, village, resident):
    case = a_case(resident, village)
    photo = services.add_photo(resident, case, "before", png_bytes())
    db.session.commit()
    path = f"/admin/cases/{case.id}/photos/{photo.id}"

    key = uuid.uuid4().hex
    published = send(admin_client, path, {"public": "true"}, key)
    again = send(admin_client, path, {"public": "true"}, key)
    db.session.expire_all()
    assert published.status_code == again.status_code == 302
    assert db.session.get(CasePhoto, photo.id).public
    assert "data-public" in admin_client.get(f"/admin/cases/{case.id}").text

    send(admin_client, path, {"public": "false"})
    db.session.expire_all()
    assert not db.session.get(CasePhoto, photo.id).public


def test_the_reporter_reads_the_workers_notes_not_the_villages_dispatch(
    client, village, resident, worker, admin
):
    case = a_case(resident, village)
    act(admin, case, "supervise", note="内部督办：王网格员动作太慢")
    act(worker, case, "comment", note="明早清运")
    log_in(client, "resident", english=True)

    page = client.get("/my/reports").text

    assert "明早清运" in page
    assert "内部督办" not in page


def test_collection_points_are_added_listed_and_printed(admin_client, village, grid):
    key = uuid.uuid4().hex
    west = {"name": "西头收集点", "grid_id": grid.id, "key": key}
    first = page_post(admin_client, "/admin/stations", {"name": "东头收集点", "grid_id": grid.id})
    page_post(admin_client, "/admin/stations", west)
    page_post(admin_client, "/admin/stations", west)
    taken = page_post(admin_client, "/admin/stations", {"name": "东头收集点", "grid_id": grid.id})

    assert first.status_code == 302
    assert taken.status_code == 422
    assert "Give the collection point a name of its own." in taken.text
    stations = db.session.scalars(select(Station).order_by(Station.number)).all()
    assert [s.name for s in stations] == ["东头收集点", "西头收集点"]
    page = admin_client.get("/admin/stations").text
    assert "东头收集点" in page and f"/admin/stations/{stations[0].id}/qr.png" in page
    qr = admin_client.get(f"/admin/stations/{stations[0].id}/qr.png")
    assert qr.mimetype == "image/png" and qr.data.startswith(b"\x89PNG")
    cards = admin_client.get("/admin/stations/cards").text
    assert cards.count("data-station-card") == 2
