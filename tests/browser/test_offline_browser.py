"""The inspector app at the bins, offline, in a real browser at phone size (360x780).

Served over plain http://127.0.0.1 (a secure context, like https, for service workers
and the camera): the shared browser has no switch to trust a test certificate.
"""

from pathlib import Path

import pytest
import qrcode
from playwright.sync_api import expect
from sqlalchemy import select
from testsupport import PASSWORD, inspection_journals, log_in_browser

from app.db import db
from app.households.cards import make_token
from app.inspections.models import Inspection
from app.inspections.services import inspect_household

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 780}
SHOTS = Path("/tmp/shots")
# Resolves once the inspector app's service worker controls the page.
WORKER_IN_CONTROL = """navigator.serviceWorker.ready.then(function () {
  return navigator.serviceWorker.controller || new Promise(function (resolve) {
    navigator.serviceWorker.addEventListener("controllerchange", resolve);
  });
}).then(function () { return true; })"""


@pytest.fixture
def round_of_five(village, make_household, make_user):
    """Five households (the fake camera shows the first one's card) and two inspectors."""
    households = [make_household(name=f"住户{n}", address=f"幸福路{n}号") for n in range(1, 6)]
    assert (village.id, households[0].id, households[0].card_version) == (1, 1, 1)
    make_user("inspector", username="li-inspector")
    other = make_user("inspector", username="zhao-inspector")
    return households, other


@pytest.fixture
def phone(browser, live_server, console_errors):
    """A phone-sized browser context, fresh for the test, with a page in it."""
    context = browser.new_context(base_url=live_server, locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
    yield context, page
    context.close()
    assert not [e for e in console_errors if e.startswith("uncaught")], console_errors


def card_png(household, folder: Path) -> Path:
    """Draw the household's card as a photo the page can decode."""
    with_url = f"http://greenpoints.test/q/{make_token(household)}"
    image = qrcode.make(with_url, box_size=8, border=4).get_image().convert("RGB")
    path = folder / f"card-{household.id}.png"
    image.save(path)
    return path


def open_app(page) -> None:
    """Log in, open /inspect, and wait for the worker to control it and the roster to land."""
    log_in_browser(page, "li-inspector")
    page.goto("/inspect")
    page.evaluate(WORKER_IN_CONTROL)
    expect(page.locator("[data-roster-status]")).to_contain_text("名册")
    expect(page.locator("[data-roster-status]")).to_contain_text("5 户")


def grade_offline(page, grade: str, queued: int) -> None:
    page.click(f"[data-offline-grade={grade}]")
    expect(page.locator("[data-queue-status]")).to_have_text(f"已保存，待上传 ({queued})")
    expect(page.locator("[data-panel]")).to_be_hidden()


def test_the_grade_page_fits_a_phone_and_takes_the_photo_first(phone, round_of_five, tmp_path):
    context, page = phone
    households, _ = round_of_five
    log_in_browser(page, "li-inspector")
    page.goto(f"/inspect/household/{households[0].id}")
    # Note and photo come before the grade buttons, visible without opening anything.
    expect(page.locator("#note")).to_be_visible()
    page.fill("#note", "厨余里有塑料袋")
    page.set_input_files("#photo", str(card_png(households[0], tmp_path)))
    expect(page.locator("[data-photo-name]")).to_have_text("已附照片")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "issue17-grade-360.png"), full_page=True)
    page.click("button[name=grade][value=D]")
    page.wait_for_url("**/inspect/done/*")
    db.session.rollback()
    assert db.session.scalar(select(Inspection.note)) == "厨余里有塑料袋"
    assert db.session.scalar(select(Inspection.photo)) is not None
    page.screenshot(path=str(SHOTS / "issue17-done-360.png"), full_page=True)

    # Or after the grade, within the minute: the photo goes up from the done page.
    page.goto(f"/inspect/household/{households[1].id}")
    page.click("button[name=grade][value=D]")
    page.wait_for_url("**/inspect/done/*")
    page.set_input_files("#late-photo", str(card_png(households[1], tmp_path)))
    expect(page.locator("[data-late-photo-status]")).to_have_text("已附照片")
    db.session.rollback()
    late = select(Inspection.photo).where(Inspection.household_id == households[1].id)
    assert db.session.scalar(late) is not None
    page.goto("/inspect")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(SHOTS / "issue17-inspect-360.png"), full_page=True)


def test_five_grades_offline_survive_a_reload_and_are_credited_once_online(
    phone, round_of_five, tmp_path
):
    context, page = phone
    households, _ = round_of_five
    open_app(page)
    context.set_offline(True)

    # 1: the real (fake) camera; the scan opens the grade panel in the page.
    page.click("[data-start]")
    expect(page.locator("[data-panel-name]")).to_have_text("住户1")
    page.fill("[data-panel-text]", "分得很好")
    grade_offline(page, "A", 1)
    # 2: a photo of the card, decoded in the page by the kept decoder; with a photo.
    page.set_input_files("[data-photo]", str(card_png(households[1], tmp_path)))
    expect(page.locator("[data-panel-name]")).to_have_text("住户2")
    page.set_input_files("[data-panel-photo]", str(card_png(households[1], tmp_path)))
    expect(page.locator("[data-panel] [data-photo-name]")).to_have_text("已附照片")
    grade_offline(page, "C", 2)
    # 3 to 5: a household's link, answered by the worker with the kept page.
    for number, household in enumerate(households[2:], start=3):
        page.goto(f"/inspect/household/{household.id}")
        expect(page.locator("[data-panel-name]")).to_have_text(f"住户{number}")
        grade_offline(page, "B", number)
    page.screenshot(path=str(SHOTS / "issue17-queued-360.png"), full_page=True)

    # The phone is put away and taken out again: the queue is still there.
    page.close()
    page = context.new_page()
    page.goto("/inspect")
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (5)")
    # A household already graded on this phone today says so, from the queue.
    page.goto(f"/inspect/household/{households[3].id}")
    expect(page.locator("[data-panel-today]")).to_be_visible()
    page.click("[data-panel-cancel]")

    db.session.rollback()
    assert inspection_journals() == 0
    context.set_offline(False)
    expect(page.locator("[data-outcome=credited]")).to_have_count(5, timeout=30_000)
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    expect(page.locator("[data-outcomes]")).to_contain_text("住户2：已记 +1 分，余额 1")
    page.screenshot(path=str(SHOTS / "issue17-sent-360.png"), full_page=True)
    db.session.rollback()
    assert inspection_journals() == 5
    photos = db.session.scalars(select(Inspection.household_id).where(Inspection.photo.isnot(None)))
    assert list(photos) == [households[1].id]


def test_a_queue_sent_twice_credits_once_and_a_grade_by_another_inspector_is_shown(
    phone, round_of_five
):
    context, page = phone
    households, other = round_of_five
    open_app(page)
    context.set_offline(True)
    for queued, household in enumerate(households[:2], start=1):
        page.goto(f"/inspect/household/{household.id}")
        expect(page.locator("[data-panel-name]")).to_have_text(household.name)
        # Wait for each tap to be kept before leaving the page, as an inspector sees it.
        grade_offline(page, "A", queued)
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (2)")
    # Keep a copy of the queue, as if the first answers were lost on the way back.
    page.evaluate("GPQueue.all().then(function (items) { window.sentBefore = items; })")

    # Meanwhile another inspector grades the second household.
    inspect_household(db.session.merge(households[1]), other, "B")
    db.session.commit()

    context.set_offline(False)
    expect(page.locator("[data-outcome=credited]")).to_have_count(1, timeout=30_000)
    expect(page.locator("[data-outcome=already]")).to_have_count(1)
    expect(page.locator("[data-outcome=already]")).to_contain_text("住户2")
    expect(page.locator("[data-outcome=already]")).to_contain_text("当天已被检查过")

    # The same queue, sent again: its keys were seen, nothing is credited twice.
    page.evaluate(
        """Promise.all(window.sentBefore.map(function (item) {
             delete item.seq; return GPQueue.add(item);
           })).then(function () { return GPInspect.send(); })"""
    )
    expect(page.locator("[data-outcome=credited]")).to_have_count(2, timeout=30_000)
    expect(page.locator("[data-outcome=already]")).to_have_count(2)
    db.session.rollback()
    assert inspection_journals() == 2  # one by this phone, one by the other inspector


def test_a_login_that_expired_offline_asks_for_the_password_then_sends(phone, round_of_five):
    context, page = phone
    households, _ = round_of_five
    open_app(page)
    context.set_offline(True)
    page.goto(f"/inspect/household/{households[0].id}")
    page.click("[data-offline-grade=A]")
    # The page's session and the phone's token both end while the signal is gone.
    context.clear_cookies()
    page.evaluate("localStorage.removeItem('gp.token')")
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("[data-password]")).to_be_visible(timeout=30_000)
    page.fill("#offline-password", PASSWORD)
    page.click("[data-password] button")
    expect(page.locator("[data-outcome=credited]")).to_have_count(1, timeout=30_000)
    db.session.rollback()
    assert inspection_journals() == 1


def test_a_grade_page_that_lost_its_signal_queues_the_tap(phone, round_of_five):
    context, page = phone
    households, _ = round_of_five
    open_app(page)
    page.goto(f"/inspect/household/{households[0].id}")
    context.set_offline(True)
    page.fill("#note", "桶边有垃圾")
    page.click("button[name=grade][value=B]")
    page.wait_for_url("**/inspect?queued=1")
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (1)")
    context.set_offline(False)
    expect(page.locator("[data-outcome=credited]")).to_contain_text("住户1：已记 +2 分，余额 2")
    db.session.rollback()
    assert inspection_journals() == 1
    assert db.session.scalar(select(Inspection.note)) == "桶边有垃圾"
