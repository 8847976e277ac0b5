"""随手拍 where the signal drops, on a phone (360x780, Chinese): the resident's report and
the grid worker's accept and resolve wait in the phone's queue (static/js/queue.js, the
grades' queue) and are sent once, with their photos, when the signal returns."""

import socket
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select
from testsupport import PASSWORD, png_bytes

from app.auth.models import HOUSEHOLD, INSPECTOR, User, UserGrid
from app.cases import services
from app.cases.models import Case, CaseEvent, CasePhoto
from app.db import db

pytestmark = pytest.mark.usefixtures("photo_folder")
SHOTS = Path("/tmp/shots")
PHONE = {"width": 360, "height": 780}
# Keep a copy of the phone's queue, as if the answers to what it sends were lost.
KEEP_QUEUE = "GPQueue.all().then(function (items) { window.kept = items; return items.length; })"
# Send the kept copy again: every step goes under the key it went under before.
SEND_AGAIN = """Promise.all(window.kept.map(function (item) {
  delete item.seq; return GPQueue.add(item);
})).then(function () { return GPCases.send(); })"""


@pytest.fixture
def people(village, grid, household, make_user, admin):
    resident = make_user(HOUSEHOLD, household=household, username="ma-home")
    worker = make_user(INSPECTOR, username="wang-grid")
    db.session.add(UserGrid(user_id=worker.id, grid_id=grid.id))
    db.session.commit()
    return {"resident": resident, "worker": worker, "admin": admin}


def log_in(page, username: str, lands_on: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{lands_on}")


def shot(page, name: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / f"issue29-offline-{name}-360.png"), full_page=True)


def picture(folder: Path, name: str, colour: tuple[int, int, int]) -> str:
    path = folder / name
    path.write_bytes(png_bytes((800, 600), colour))
    return str(path)


def count(model, *where) -> int:
    db.session.rollback()  # end the test's own read, to see what the server wrote
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_a_report_made_offline_is_sent_once_with_its_photo(page, people, tmp_path):
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size(PHONE)
    log_in(page, "ma-home", "/my")
    page.goto("/report")
    page.wait_for_function("window.GPCases !== undefined")

    # The signal drops: photo, words, one tap on the category; it waits on the phone.
    page.context.set_offline(True)
    page.set_input_files("#photo", picture(tmp_path, "bin.png", (120, 90, 40)))
    page.fill("#description", "学校后面的桶满了")
    page.click("[data-category=overflow]")
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (1)")
    expect(page.locator("[data-queue-notice]")).to_have_text("已保存在本机：有信号时自动发送。")
    assert page.input_value("#description") == ""  # the form is ready for another report
    shot(page, "report-queued-zh")
    assert count(Case) == 0
    assert page.evaluate(KEEP_QUEUE) == 1

    # The signal returns: the report goes, then its photo.
    page.context.set_offline(False)
    sent = page.locator("[data-outcome=reported]")
    expect(sent).to_have_count(1, timeout=30_000)
    expect(sent).to_contain_text("已发给网格员")
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    expect(page.locator("[data-queue-notice]")).to_be_hidden()
    shot(page, "report-sent-zh")

    # The same queue sent again (its answers lost on the way back): nothing new is made.
    page.evaluate(SEND_AGAIN)
    expect(sent).to_have_count(2, timeout=30_000)
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    assert count(Case) == 1
    case = db.session.scalars(select(Case)).one()
    assert (case.category, case.description) == ("overflow", "学校后面的桶满了")
    assert case.reporter_id == people["resident"].id
    assert count(CasePhoto, CasePhoto.case_id == case.id, CasePhoto.stage == "before") == 1
    assert count(CasePhoto) == 1

    # The resident's list shows it, with its photo.
    page.goto("/my/reports")
    expect(page.locator(f"[data-case='{case.id}'] [data-photo=before]")).to_have_count(1)


def lose_report_answers(app) -> list[int]:
    """The server takes each POST /report whole, then its answer is lost on the way back
    (the connection cut after the commit). Returns the statuses that were lost."""
    lost: list[int] = []
    inner = app.wsgi_app

    def losing(environ, start_response):
        if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/report":
            return inner(environ, start_response)
        answered: list[str] = []
        body = b"".join(inner(environ, lambda status, headers, *_: answered.append(status)))
        assert body
        lost.append(int(answered[0].split()[0]))
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
        start_response("200 OK", [])
        return []

    app.wsgi_app = losing  # type: ignore[method-assign]
    return lost


def test_a_report_whose_answer_was_lost_is_queued_under_its_key_and_made_once(
    app, page, people, tmp_path
):
    """The page's own send reached the server, but its answer was lost on the way back:
    the queued copy travels under the form's key, and the server knows it."""
    lost = lose_report_answers(app)
    page.set_viewport_size(PHONE)
    log_in(page, "ma-home", "/my")
    page.goto("/report")
    page.wait_for_function("window.GPCases !== undefined")
    page.set_input_files("#photo", picture(tmp_path, "bin.png", (60, 60, 200)))
    page.click("[data-category=mixed]")
    already = page.locator("[data-outcome=sent]")
    expect(already).to_have_count(1, timeout=30_000)
    expect(already).to_have_text("收集点混投：此操作此前已送达服务器。")
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    # Every copy the page sent (Chromium sends a POST again once) answered as the first.
    assert lost and set(lost) == {302}
    assert count(Case) == 1
    assert count(CasePhoto) == 1


def test_the_worker_accepts_and_resolves_offline_and_it_is_resolved_once(
    browser, live_server, people, village, tmp_path, console_errors
):
    SHOTS.mkdir(exist_ok=True)
    case = services.report_case(people["resident"], village.id, category="dumping")
    db.session.commit()
    case_id = case.id
    context = browser.new_context(base_url=live_server, locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    log_in(page, "wang-grid", "/home")
    page.goto("/inspect/cases")
    page.wait_for_function("window.GPCases !== undefined")
    card = page.locator(f"[data-quick='{case_id}']")
    expect(card.locator("[data-queue-resolve]")).to_be_hidden()

    # At the bins, no signal: accept, take the after-photo, resolve.
    context.set_offline(True)
    card.locator("[data-queue-accept]").click()
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (1)")
    expect(card.locator("[data-queue-resolve]")).to_be_visible()
    card.locator("[data-queue-photo]").set_input_files(
        picture(tmp_path, "after.png", (40, 160, 80))
    )
    expect(card.locator("[data-photo-name]")).to_have_text("已附照片")
    card.locator("[data-queue-note]").fill("已清运")
    card.locator("[data-queue-fixed]").click()
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (2)")
    expect(card.locator("[data-queue-tag]")).to_have_text("已保存，待上传")
    expect(card.locator("[data-queue-accept]")).to_be_hidden()
    expect(card.locator("[data-queue-resolve]")).to_be_hidden()
    shot(page, "todo-queued-zh")
    assert page.evaluate(KEEP_QUEUE) == 2
    assert count(CaseEvent, CaseEvent.case_id == case_id, CaseEvent.action != "report") == 0

    # The signal returns: accept, the photo, then the resolve.
    context.set_offline(False)
    expect(page.locator("[data-outcome=resolved]")).to_have_count(1, timeout=30_000)
    expect(page.locator("[data-outcome=accepted]")).to_have_count(1)
    expect(page.locator("[data-outcome=resolved]")).to_contain_text("整改后照片已上传")
    expect(page.locator(f"[data-case='{case_id}'] [data-state]")).to_have_text("已处理，待确认")
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    shot(page, "todo-sent-zh")

    # Sent again, step by step under the same keys: no second resolve, no second photo.
    page.evaluate(SEND_AGAIN)
    expect(page.locator("[data-outcome=resolved]")).to_have_count(2, timeout=30_000)
    expect(page.locator("[data-outcome=refused]")).to_have_count(0)
    where = (CaseEvent.case_id == case_id,)
    assert count(CaseEvent, *where, CaseEvent.action == "resolve") == 1
    assert count(CaseEvent, *where, CaseEvent.action == "accept") == 1
    assert count(CasePhoto, CasePhoto.case_id == case_id, CasePhoto.stage == "after") == 1
    resolved = db.session.get(Case, case_id)
    assert resolved.state == "resolved"
    page.goto("/inspect/cases")
    expect(page.locator(f"[data-case='{case_id}'] [data-state]")).to_have_text("已处理，待确认")
    context.close()
    assert not [e for e in console_errors if e.startswith("uncaught")], console_errors


def test_a_case_changed_meanwhile_shows_the_refusal_in_chinese(
    browser, live_server, people, village, tmp_path, console_errors
):
    case = services.report_case(people["resident"], village.id, category="overflow")
    db.session.commit()
    case_id, village_id, admin_id = case.id, village.id, people["admin"].id
    context = browser.new_context(base_url=live_server, locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, "wang-grid", "/home")
    page.goto("/inspect/cases")
    page.wait_for_function("window.GPCases !== undefined")
    card = page.locator(f"[data-quick='{case_id}']")

    context.set_offline(True)
    card.locator("[data-queue-accept]").click()
    card.locator("[data-queue-photo]").set_input_files(picture(tmp_path, "after.png", (9, 9, 9)))
    card.locator("[data-queue-fixed]").click()
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (2)")

    # Meanwhile the admin marks the case not valid: neither tap can be done now.
    db.session.rollback()  # a fresh transaction, beside the server's
    admin = db.session.get(User, admin_id)
    services.act(admin, village_id, case_id, services.EventRequest(action="mark_invalid"))
    db.session.commit()

    context.set_offline(False)
    refused = page.locator("[data-outcome=refused]")
    expect(refused).to_have_count(2, timeout=30_000)
    expect(refused.first).to_contain_text("当前状态下不能这样操作")
    expect(refused.first).not_to_contain_text("invalid_transition")
    expect(page.locator("[data-queue-status]")).to_be_hidden()  # never retried forever
    shot(page, "todo-refused-zh")
    assert count(CasePhoto, CasePhoto.case_id == case_id) == 0  # no stray after-photo
    assert db.session.get(Case, case_id).state == "invalid"
    context.close()


# Resolves once the inspector app's service worker controls the page.
WORKER_IN_CONTROL = """navigator.serviceWorker.ready.then(function () {
  return navigator.serviceWorker.controller || new Promise(function (resolve) {
    navigator.serviceWorker.addEventListener("controllerchange", resolve);
  });
}).then(function () { return true; })"""
KEPT_TODO = """caches.keys().then(function (names) {
  return Promise.all(names.map(function (name) {
    return caches.open(name).then(function (c) { return c.match('/inspect/cases'); });
  }));
}).then(function (hits) { return hits.some(Boolean); })"""


def test_the_todo_list_opens_without_a_signal_and_takes_the_taps(
    browser, https_server, people, village, console_errors
):
    """The service worker keeps the 待办 list as last opened, like the scanner page; a
    logout takes it off the phone (it names reporters)."""
    case = services.report_case(people["resident"], village.id, category="broken_bin")
    db.session.commit()
    case_id = case.id
    context = browser.new_context(base_url=https_server, locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    log_in(page, "wang-grid", "/home")
    page.goto("/inspect")
    page.evaluate(WORKER_IN_CONTROL)
    page.goto("/inspect/cases")
    page.wait_for_function("window.GPCases !== undefined")
    page.wait_for_function(KEPT_TODO)

    context.set_offline(True)
    page.goto(f"/inspect/cases/{case_id}")  # a case's link, offline: the kept list
    page.wait_for_function("window.GPCases !== undefined")
    card = page.locator(f"[data-quick='{case_id}']")
    card.locator("[data-queue-accept]").click()
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (1)")
    shot(page, "todo-kept-offline-zh")

    context.set_offline(False)
    expect(page.locator("[data-outcome=accepted]")).to_have_count(1, timeout=30_000)
    assert count(CaseEvent, CaseEvent.case_id == case_id, CaseEvent.action == "accept") == 1

    # Logging out takes the kept list off the phone.
    page.goto("/inspect")
    page.click("form[data-logout] button")
    page.wait_for_url("**/login*")
    assert page.evaluate(KEPT_TODO) is False
    context.close()
    assert not [e for e in console_errors if e.startswith("uncaught")], console_errors
