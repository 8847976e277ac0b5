"""The inspector's pages through a logged-in browser session (Flask test client)."""

import gzip
import html
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image
from sqlalchemy import select
from testsupport import (
    KEY,
    PASSWORD,
    balance_of,
    csrf_token,
    inspection_rows,
    key_of,
    log_in,
    run_at_once,
)

from app.auth.models import HOUSEHOLD, INSPECTOR, STOREKEEPER, UserGrid
from app.db import db
from app.households.cards import card_payload, make_token
from app.households.services import reissue_card, update_household
from app.inspections import services
from app.inspections.models import Inspection
from app.ledger import services as ledger

pytestmark = pytest.mark.usefixtures("photo_folder")


@pytest.fixture
def inspector_phone(client, inspector):
    """The inspector's phone: logged in, pages in English (the texts asserted below)."""
    log_in(client, "inspector", english=True)
    return client


def grade_form(inspector_phone, household, grade="A", *, key=None, note="", photo=None):
    """Open the grade page, then post its form with the chosen grade."""
    if key is None:
        key = key_of(inspector_phone.get(f"/inspect/household/{household.id}"))
    data = {"key": key, "grade": grade, "note": note}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo), "photo.jpg", "image/jpeg")
    return inspector_phone.post(
        f"/inspect/household/{household.id}",
        data={**data, "csrf_token": csrf_token(inspector_phone)},
        content_type="multipart/form-data",
    )


# The scanner page -----------------------------------------------------------------------


def words(page: str) -> str:
    """A page's text as a reader sees it: without its tags."""
    return re.sub(r"<[^>]+>", "", page)


def test_the_scanner_page_renders_for_an_inspector(inspector_phone):
    response = inspector_phone.get("/inspect")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "Scan a card" in response.text
    assert "data-start" in response.text
    assert 'capture="environment"' in response.text
    assert 'type="file"' in response.text
    assert "static/js/scanner." in response.text


def test_the_scanner_page_renders_in_chinese_by_default(client, inspector):
    log_in(client, "inspector")

    response = client.get("/inspect")

    assert response.status_code == 200
    assert 'lang="zh' in response.text
    assert "static/js/scanner." in response.text


def offline_texts(client, part: str) -> dict:
    """The texts the offline panel of /inspect hands its script, from the script it names.

    They are one script for every page (/inspect/texts.js), named by language and content,
    kept by the phone instead of travelling inside each page.
    """
    log_in(client, "inspector")
    found = re.search(r'src="(/inspect/texts\.js\?[^"]*)"', client.get("/inspect").text)
    assert found, "the offline panel names no script of texts"
    script = client.get(html.unescape(found.group(1)))
    assert script.status_code == 200
    assert "immutable" in script.headers["Cache-Control"]
    body = script.text.removeprefix("window.GPTexts = ").rstrip().removesuffix(";")
    return json.loads(body)[part]


def test_the_offline_queue_names_refusals_in_the_pages_language(client, inspector):
    refusals = offline_texts(client, "refusals")

    assert refusals["household_inactive"] == "该户已迁出。"
    assert refusals["revoked_qr"] and "card" not in refusals["revoked_qr"]


def test_the_page_hands_the_queue_its_key_prefix_and_refusal_codes(client, inspector):
    log_in(client, "inspector")
    page = client.get("/inspect").text

    assert 'data-page-key-prefix="page:"' in page
    found = re.search(r'data-queue-outcomes="([^"]*)"', page)
    assert found, "the offline panel names no queue outcomes"
    assert json.loads(html.unescape(found.group(1))) == {
        "already_inspected_today": "already",
        "revoked_qr": "revoked",
        "too_late": "toolate",
        "idempotency_conflict": "sent",
    }


def test_the_offline_queue_speaks_the_pages_language(client, inspector):
    texts = offline_texts(client, "msgs")

    assert texts["credited"] == "{who}：已记 {points} 分，余额 {balance}"
    assert texts["queued"] == "已保存，待上传 ({n})"
    assert texts["wrong"] == "密码错误。"


def test_the_scanner_page_sends_anonymous_users_to_the_login(client):
    response = client.get("/inspect")

    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/inspect"]


def test_logging_in_from_there_comes_back_to_the_scanner(client, inspector):
    response = client.post(
        "/login?next=/inspect",
        data={"username": "inspector", "password": PASSWORD, "csrf_token": csrf_token(client)},
    )

    assert response.headers["Location"] == "/inspect"


@pytest.mark.parametrize("role", [STOREKEEPER, HOUSEHOLD])
def test_other_roles_may_not_open_the_scanner(client, make_user, household, role):
    make_user(role, username="someone", household=household if role == HOUSEHOLD else None)
    log_in(client, "someone")

    response = client.get("/inspect")

    assert response.status_code == 403
    assert response.mimetype == "text/html"


def test_an_admin_may_open_the_scanner(client, admin):
    log_in(client, "admin")

    assert client.get("/inspect").status_code == 200


def test_the_static_files_of_the_page_are_served(inspector_phone):
    for path in ("/static/js/scanner.js", "/static/js/once.js", "/static/css/app.css"):
        response = inspector_phone.get(path)
        try:
            assert response.status_code == 200, path
        finally:
            response.close()


def test_the_pages_own_html_js_and_css_stay_small(inspector_phone, make_household):
    for n in range(5):
        make_household(name=f"住户{n}")
    total = 0
    for path in ("/inspect", "/static/css/app.css", "/static/js/scanner.js", "/static/js/once.js"):
        response = inspector_phone.get(path)
        try:
            assert response.status_code == 200, path
            total += len(gzip.compress(response.get_data(), compresslevel=9))
        finally:
            response.close()

    assert total < 60_000


# Scanned cards ----------------------------------------------------------------------------


def test_a_scanned_card_opens_the_households_grade_page(inspector_phone, household):
    response = inspector_phone.get(
        "/inspect/card", query_string={"payload": card_payload(household)}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/inspect/household/{household.id}"


def test_a_bare_card_token_works_too(inspector_phone, household):
    response = inspector_phone.get("/inspect/card", query_string={"payload": make_token(household)})

    assert response.headers["Location"] == f"/inspect/household/{household.id}"


@pytest.mark.parametrize(
    "payload",
    ["", "garbage", "https://evil.example/q/xyz", "http://greenpoints.test/q/" + "B" * 27],
)
def test_garbage_goes_back_to_the_scanner_with_a_message(inspector_phone, payload):
    response = inspector_phone.get("/inspect/card", query_string={"payload": payload})

    assert response.status_code == 302
    assert response.headers["Location"] == "/inspect?error=invalid"
    page = inspector_phone.get(response.headers["Location"])
    assert page.status_code == 200
    assert 'id="scan-error"' in page.text
    assert "That is not a valid card of this village." in page.text


def test_another_villages_card_is_invalid_here(inspector_phone, make_village, make_household):
    elsewhere = make_household(of=make_village("李家村", "LJ"))

    response = inspector_phone.get(
        "/inspect/card", query_string={"payload": card_payload(elsewhere)}
    )

    assert response.headers["Location"] == "/inspect?error=invalid"


def test_a_revoked_card_goes_back_with_its_own_message(inspector_phone, household):
    old = card_payload(household)
    reissue_card(household, actor_id=None, reason="丢失")
    db.session.commit()

    response = inspector_phone.get("/inspect/card", query_string={"payload": old})

    assert response.headers["Location"] == "/inspect?error=revoked"
    page = inspector_phone.get(response.headers["Location"])
    assert "This card was replaced by a newer one." in page.text


def test_the_scanner_shows_no_message_without_an_error(inspector_phone):
    assert 'id="scan-error"' not in inspector_phone.get("/inspect").text


# The grade page ---------------------------------------------------------------------------


def test_the_grade_page_shows_the_household_balance_and_grade_buttons(
    inspector_phone, make_household
):
    household = make_household(points=37, name="马秀英")

    page = inspector_phone.get(f"/inspect/household/{household.id}")

    assert page.status_code == 200
    assert "马秀英" in page.text
    assert household.code in page.text
    assert re.search(r"data-balance>\s*37\s*<", page.text)
    assert "data-inspected-today" not in page.text
    assert KEY.search(page.text)
    for grade, label in (("A", "优"), ("B", "良"), ("C", "中"), ("D", "差")):
        assert f'name="grade" value="{grade}"' in page.text
        assert label in page.text
    assert "static/js/once." in page.text


def test_every_visit_gets_a_fresh_key(inspector_phone, household):
    first = key_of(inspector_phone.get(f"/inspect/household/{household.id}"))
    second = key_of(inspector_phone.get(f"/inspect/household/{household.id}"))

    assert first != second


def test_the_grade_page_of_an_unknown_or_foreign_household_is_404(
    inspector_phone, make_village, make_household
):
    elsewhere = make_household(of=make_village("李家村", "LJ"), name="李四", address="李家村3组")

    assert inspector_phone.get("/inspect/household/999999").status_code == 404
    foreign = inspector_phone.get(f"/inspect/household/{elsewhere.id}")
    assert foreign.status_code == 404
    assert "李四" not in foreign.text and "李家村3组" not in foreign.text
    assert (
        inspector_phone.post(
            f"/inspect/household/{elsewhere.id}",
            data={"key": "foreign-key", "grade": "A", "csrf_token": csrf_token(inspector_phone)},
        ).status_code
        == 404
    )
    assert balance_of(elsewhere.id) == 0


def test_after_an_inspection_the_page_marks_it_and_hides_the_buttons(
    inspector_phone, household, make_user
):
    services.record_inspection(household, make_user(INSPECTOR), "B")
    db.session.commit()

    page = inspector_phone.get(f"/inspect/household/{household.id}")

    assert "data-inspected-today" in page.text
    assert 'name="grade"' not in page.text
    assert re.search(r"data-balance>\s*2\s*<", page.text)


def test_below_the_limit_the_marker_shows_and_the_buttons_stay(
    inspector_phone, household, client, admin_headers, make_user
):
    assert (
        client.put(
            "/api/v1/rules",
            headers=admin_headers,
            json={"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "daily_limit": 2},
        ).status_code
        == 200
    )
    services.record_inspection(household, make_user(INSPECTOR), "C")
    db.session.commit()

    page = inspector_phone.get(f"/inspect/household/{household.id}")

    assert "data-inspected-today" in page.text
    assert "1/2" in page.text
    assert 'name="grade" value="A"' in page.text


def test_posting_a_grade_goes_to_the_done_page_with_the_new_balance(
    inspector_phone, make_household
):
    household = make_household(points=5)

    response = grade_form(inspector_phone, household, "A", note="分类很好")

    assert response.status_code == 302
    location = response.headers["Location"]
    match = re.fullmatch(r"/inspect/done/(\d+)", location)
    assert match
    inspection = db.session.get(Inspection, int(match.group(1)))
    assert (inspection.household_id, inspection.grade, inspection.points, inspection.note) == (
        household.id,
        "A",
        3,
        "分类很好",
    )
    done = inspector_phone.get(location)
    assert done.status_code == 200
    assert re.search(r"data-balance>\s*8\s*<", done.text)
    assert "+3" in done.text
    assert "/inspect" in done.text  # the way back to scan the next card
    assert balance_of(household.id) == 8
    assert ledger.verify().ok


def test_a_zero_point_grade_from_the_page_is_recorded(inspector_phone, household):
    response = grade_form(inspector_phone, household, "D")

    assert response.status_code == 302
    done = inspector_phone.get(response.headers["Location"])
    assert re.search(r"data-balance>\s*0\s*<", done.text)
    assert inspection_rows(household.id) == 1


def test_posting_the_same_form_twice_credits_once(inspector_phone, household):
    key = key_of(inspector_phone.get(f"/inspect/household/{household.id}"))

    first = grade_form(inspector_phone, household, "A", key=key)
    again = grade_form(inspector_phone, household, "A", key=key)

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert balance_of(household.id) == 3
    assert inspection_rows(household.id) == 1
    assert inspector_phone.get(again.headers["Location"]).status_code == 200


def test_the_same_form_sent_from_many_connections_at_once_credits_once(
    app, inspector_phone, inspector, household
):
    household_id, inspector_id = household.id, inspector.id
    key = key_of(inspector_phone.get(f"/inspect/household/{household_id}"))
    phones, tokens = [], []
    for _ in range(6):
        phone = app.test_client()
        with phone.session_transaction() as session:
            session["user_id"] = inspector_id
        phones.append(phone)
        tokens.append(csrf_token(phone))

    def tap(index):
        response = phones[index].post(
            f"/inspect/household/{household_id}",
            data={"key": key, "grade": "A", "note": "", "csrf_token": tokens[index]},
        )
        return response.status_code, response.headers.get("Location")

    results = run_at_once(app, len(phones), tap)

    assert len(set(results)) == 1, results
    status, location = results[0]
    assert status == 302 and location.startswith("/inspect/done/")
    db.session.rollback()  # end the test's snapshot; read what the workers wrote
    assert balance_of(household_id) == 3
    assert inspection_rows(household_id) == 1
    assert ledger.verify().ok


def test_the_same_form_with_a_photo_twice_credits_once(inspector_phone, household, photo_folder):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 10)).save(buffer, "JPEG")
    key = key_of(inspector_phone.get(f"/inspect/household/{household.id}"))

    first = grade_form(inspector_phone, household, "B", key=key, photo=buffer.getvalue())
    again = grade_form(inspector_phone, household, "B", key=key, photo=buffer.getvalue())

    assert first.status_code == again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    assert balance_of(household.id) == 2
    inspection = db.session.scalars(select(Inspection)).one()
    assert inspection.photo is not None
    assert len(list(photo_folder.iterdir())) == 1


def test_the_same_key_with_another_grade_credits_nothing_more(inspector_phone, household):
    key = key_of(inspector_phone.get(f"/inspect/household/{household.id}"))
    assert grade_form(inspector_phone, household, "A", key=key).status_code == 302

    response = grade_form(inspector_phone, household, "C", key=key)

    assert response.status_code in (409, 422)
    assert balance_of(household.id) == 3
    assert inspection_rows(household.id) == 1


def test_over_the_limit_goes_back_to_the_grade_page_with_a_message(
    inspector_phone, household, make_user
):
    services.record_inspection(household, make_user(INSPECTOR), "A")
    db.session.commit()

    # A page opened before the other inspector's grade was recorded, posted now.
    response = grade_form(inspector_phone, household, "B", key="stale-page-key")

    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == f"/inspect/household/{household.id}"
    page = inspector_phone.get(response.headers["Location"])
    assert page.status_code == 200
    assert "data-message" in page.text
    assert "This household was already inspected today." in page.text
    assert balance_of(household.id) == 3
    assert inspection_rows(household.id) == 1


def test_the_inspectors_own_household_shows_the_conflict_and_credits_nothing(
    client, make_user, household
):
    make_user(INSPECTOR, username="neighbour", household=household)
    client.get("/lang/en")
    log_in(client, "neighbour")

    page = client.get(f"/inspect/household/{household.id}")
    assert page.status_code == 200
    assert "This is your own household" in page.text
    assert 'name="grade"' not in page.text

    response = grade_form(client, household, "A", key="own-household-key")

    assert response.status_code == 403
    assert "data-message" in response.text
    assert "own household" in response.text
    assert balance_of(household.id) == 0
    assert inspection_rows(household.id) == 0


def test_a_moved_household_cannot_be_graded(inspector_phone, household):
    update_household(household, {"status": "moved"})
    db.session.commit()

    page = inspector_phone.get(f"/inspect/household/{household.id}")
    assert "This household has moved away." in page.text
    assert 'name="grade"' not in page.text

    response = grade_form(inspector_phone, household, "A", key="moved-household-key")

    assert response.status_code in (302, 409)
    assert balance_of(household.id) == 0
    assert inspection_rows(household.id) == 0


def test_a_bad_grade_from_the_form_credits_nothing(inspector_phone, household):
    response = grade_form(inspector_phone, household, "Z")

    assert response.status_code == 422
    assert "data-message" in response.text
    assert inspection_rows(household.id) == 0


def test_a_form_without_its_key_is_refused(inspector_phone, household):
    response = inspector_phone.post(
        f"/inspect/household/{household.id}",
        data={"grade": "A", "csrf_token": csrf_token(inspector_phone)},
    )

    assert response.status_code == 400
    assert "data-message" in response.text
    assert balance_of(household.id) == 0


def test_an_anonymous_post_credits_nothing(client, household):
    response = client.post(
        f"/inspect/household/{household.id}",
        data={"key": "anon-key", "grade": "A", "csrf_token": csrf_token(client)},
    )

    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert balance_of(household.id) == 0


def test_another_inspectors_done_page_of_a_foreign_village_is_404(
    inspector_phone, make_village, make_household, make_user
):
    other = make_village("李家村", "LJ")
    elsewhere = make_household(of=other)
    inspection = services.record_inspection(elsewhere, make_user(INSPECTOR, of=other), "A")
    db.session.commit()

    assert inspector_phone.get(f"/inspect/done/{inspection.id}").status_code == 404


# Today's work on the scanner page ---------------------------------------------------------


def test_the_not_yet_inspected_list_shrinks_after_an_inspection(inspector_phone, make_household):
    first = make_household(name="马秀英")
    second = make_household(name="王建国")
    link = "/inspect/household/{}".format

    before = inspector_phone.get("/inspect").text
    assert link(first.id) in before and link(second.id) in before

    assert grade_form(inspector_phone, first, "A").status_code == 302

    after = inspector_phone.get("/inspect").text
    assert link(first.id) not in after
    assert link(second.id) in after
    assert "My inspections today (1)" in words(after)
    assert first.code in after


def test_the_not_yet_inspected_list_follows_the_chosen_grid(
    inspector_phone, make_grid, make_household
):
    west = make_grid("西")
    here = make_household(name="马秀英")
    there = make_household(name="王建国", in_grid=west)

    page = inspector_phone.get("/inspect", query_string={"grid_id": west.id}).text

    assert f"/inspect/household/{there.id}" in page
    assert f"/inspect/household/{here.id}" not in page


def test_moved_households_are_not_on_the_list(inspector_phone, make_household):
    gone = make_household(name="搬走户")
    update_household(gone, {"status": "moved"})
    db.session.commit()

    assert f"/inspect/household/{gone.id}" not in inspector_phone.get("/inspect").text


def test_my_inspections_today_lists_only_mine(inspector_phone, make_household, make_user):
    mine = make_household(name="马秀英")
    theirs = make_household(name="王建国")
    services.record_inspection(theirs, make_user(INSPECTOR), "C")
    db.session.commit()
    assert grade_form(inspector_phone, mine, "B").status_code == 302

    page = inspector_phone.get("/inspect").text

    assert "My inspections today (1)" in words(page)


def test_an_admin_can_grade_from_the_pages_too(client, admin, household):
    log_in(client, "admin")

    response = grade_form(client, household, "A")

    assert response.status_code == 302
    assert balance_of(household.id) == 3


def test_the_offline_texts_follow_the_language_and_change_their_address_with_it(client, inspector):
    log_in(client, "inspector")
    chinese = re.search(r'src="(/inspect/texts\.js\?[^"]*)"', client.get("/inspect").text)
    client.get("/lang/en")
    english = re.search(r'src="(/inspect/texts\.js\?[^"]*)"', client.get("/inspect").text)
    assert chinese and english and chinese.group(1) != english.group(1)
    script = client.get(html.unescape(english.group(1)))
    assert "Saved, waiting to upload ({n})" in script.text
    # Under an address that names no current content, it is not kept for good.
    stale = client.get("/inspect/texts.js?lang=en&v=000000000000")
    assert stale.headers["Cache-Control"] == "no-cache"


def test_a_household_outside_the_inspectors_grids_is_graded_and_the_page_says_so(
    inspector_phone, inspector, grids, make_household
):
    east, west = grids
    set_grids = UserGrid(user_id=inspector.id, grid_id=east.id)
    db.session.add(set_grids)
    db.session.commit()
    mine, theirs = make_household(in_grid=east), make_household(in_grid=west)

    assert "data-outside-grids" not in inspector_phone.get(f"/inspect/household/{mine.id}").text
    page = inspector_phone.get(f"/inspect/household/{theirs.id}").text
    assert "outside the grids you work" in page
    assert grade_form(inspector_phone, theirs).status_code == 302
    assert balance_of(theirs.id) == 3
