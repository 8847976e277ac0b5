"""The inspector app at the bins, offline, in a real browser at phone size (360x780).

Served over https with the test session's own certificate (conftest.py: Chromium
trusts its authority as a phone that installed it does), so the service worker, the
camera and Background Sync run on the kind of origin phones get.
"""

import json
import re
import socket
import time
from pathlib import Path

import pytest
import qrcode
from playwright.sync_api import expect
from sqlalchemy import select
from testsupport import PASSWORD, inspection_journals, log_in_browser

from app.auth.models import User
from app.db import db
from app.households.cards import make_token
from app.households.services import update_household
from app.inspections.models import Inspection
from app.inspections.services import inspect_household
from app.rules.services import current_rules, set_rules

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
def api_calls(app) -> list[str]:
    """Every request the live server answers, as "METHOD /path", in order."""
    calls: list[str] = []
    inner = app.wsgi_app

    def recording(environ, start_response):
        calls.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
        return inner(environ, start_response)

    app.wsgi_app = recording  # type: ignore[method-assign]
    return calls


@pytest.fixture
def phone(browser, https_server, console_errors):
    """A phone-sized browser context on the https server, fresh for the test, with a page."""
    context = browser.new_context(base_url=https_server, locale="zh-CN", viewport=PHONE)
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
    assert page.evaluate("location.protocol + isSecureContext") == "https:true"
    page.evaluate(WORKER_IN_CONTROL)
    expect(page.locator("[data-roster-status]")).to_contain_text("名册")
    expect(page.locator("[data-roster-status]")).to_contain_text("5 户")
    # This Chromium has no native QR reader: the worker keeps the decoder for offline scans.
    expect(page.locator("[data-offline]")).to_have_attribute("data-decoder", "kept")


def grade_offline(page, grade: str, queued: int) -> None:
    page.click(f"[data-offline-grade={grade}]")
    expect(page.locator("[data-queue-status]")).to_have_text(f"已保存，待上传 ({queued})")
    expect(page.locator("[data-panel]")).to_be_hidden()


def grade_links_offline(context, page, households) -> None:
    """Open the app, cut the signal, and grade each household A from its link, in order."""
    open_app(page)
    context.set_offline(True)
    for queued, household in enumerate(households, start=1):
        page.goto(f"/inspect/household/{household.id}")
        expect(page.locator("[data-panel-name]")).to_have_text(household.name)
        # Wait for each tap to be kept before leaving the page, as an inspector sees it.
        grade_offline(page, "A", queued)


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
    phone, round_of_five, tmp_path, api_calls
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
    # The list of households still to inspect says which ones wait on this phone.
    expect(page.locator("[data-todo-state=queued]")).to_have_count(5)
    expect(page.locator("[data-todo-state=queued]").first).to_contain_text("已保存，待上传")
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
    expect(page.locator("[data-todo-state=done]")).to_have_count(5)
    expect(page.locator("[data-todo-state=done]").first).to_contain_text("今日已检查")
    expect(page.locator("[data-mine-count]")).to_have_text("5")
    expect(page.locator("[data-mine] [data-inspection]")).to_have_count(5)
    # Opened again online, the server's own list has the same five, once each.
    page.goto("/inspect")
    expect(page.locator("[data-mine-count]")).to_have_text("5")
    expect(page.locator("[data-mine] [data-inspection]")).to_have_count(5)
    page.screenshot(path=str(SHOTS / "issue17-sent-360.png"), full_page=True)
    db.session.rollback()
    assert inspection_journals() == 5
    photos = db.session.scalars(select(Inspection.household_id).where(Inspection.photo.isnot(None)))
    assert list(photos) == [households[1].id]
    # Sent through the batch, oldest first, and the photo after its grade.
    order = db.session.scalars(select(Inspection.household_id).order_by(Inspection.id))
    assert list(order) == [h.id for h in households]
    sent = [c for c in api_calls if c.startswith("POST /api/v1/inspections")]
    assert sent[0] == "POST /api/v1/inspections/batch" and "POST /api/v1/inspections" not in sent
    assert sent[-1].endswith("/photo")


def test_a_queue_sent_twice_credits_once_and_a_grade_by_another_inspector_is_shown(
    phone, round_of_five
):
    context, page = phone
    households, other = round_of_five
    grade_links_offline(context, page, households[:2])
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


def test_a_refusal_the_queue_meets_is_shown_in_chinese(phone, round_of_five):
    context, page = phone
    households, _other = round_of_five
    grade_links_offline(context, page, households[:1])
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (1)")

    # Meanwhile the household moves away: the server refuses the grade.
    update_household(db.session.merge(households[0]), {"status": "moved"})
    db.session.commit()

    context.set_offline(False)
    refused = page.locator("[data-outcome=refused]")
    expect(refused).to_have_count(1, timeout=30_000)
    expect(refused).to_contain_text("住户1")
    expect(refused).to_contain_text("该户已迁出。")
    expect(refused).not_to_contain_text("moved")
    db.session.rollback()
    assert inspection_journals() == 0


def test_grades_refused_whole_stay_on_the_phone_and_the_page_says_why(phone, round_of_five):
    """The inspector's role changes while the grades wait for a signal: they are not lost."""
    context, page = phone
    households, _other = round_of_five
    grade_links_offline(context, page, households[:2])
    # Meanwhile the admin makes this inspector the storekeeper: the server refuses the
    # whole queue (403), where before the page retried in silence as if offline.
    inspector = db.session.scalar(select(User).filter_by(username="li-inspector"))
    inspector.role = "storekeeper"
    db.session.commit()

    context.set_offline(False)
    refused = page.locator("[data-forbidden]")
    expect(refused).to_be_visible(timeout=30_000)
    expect(refused).to_have_text(
        "你的账号现在不能评分，这些评分没有上传。它们还保存在这部手机上：请联系村管理员。"
    )
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (2)")
    expect(page.locator("[data-outcome]")).to_have_count(0)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / "offline-refused-whole-zh.png", full_page=True)
    db.session.rollback()
    assert inspection_journals() == 0

    # The admin gives the role back: the next send credits both, and the message goes.
    inspector = db.session.scalar(select(User).filter_by(username="li-inspector"))
    inspector.role = "inspector"
    db.session.commit()
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("[data-outcome=credited]")).to_have_count(2, timeout=30_000)
    expect(refused).to_be_hidden()
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    db.session.rollback()
    assert inspection_journals() == 2


def lose_answers(app, path: str, *, every: bool) -> list[int]:
    """The server takes POSTs to the path whole, then their answers are lost on the way back.

    Only the first such answer, or every one. Returns the statuses of the answers that
    were lost (the connection is cut after the app has committed, as when the signal
    drops while the answer travels).
    """
    lost: list[int] = []
    inner = app.wsgi_app

    def losing(environ, start_response):
        taken = environ["REQUEST_METHOD"] == "POST" and re.fullmatch(path, environ["PATH_INFO"])
        if not taken or (lost and not every):
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


@pytest.fixture
def lose_first_batch_answer(app) -> list[int]:
    return lose_answers(app, "/api/v1/inspections/batch", every=False)


def test_an_answer_lost_on_the_way_back_is_asked_again_and_credits_once(
    phone, round_of_five, api_calls, lose_first_batch_answer
):
    context, page = phone
    households, _ = round_of_five
    grade_links_offline(context, page, households[:3])
    context.set_offline(False)
    expect(page.locator("[data-outcome=credited]")).to_have_count(3, timeout=30_000)
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    assert lose_first_batch_answer == [200]
    # The queue went up in one batch, lost its answer, and went again with the same keys.
    assert api_calls.count("POST /api/v1/inspections/batch") == 2
    assert "POST /api/v1/inspections" not in api_calls
    db.session.rollback()
    assert inspection_journals() == 3


def test_a_login_that_expired_offline_asks_for_the_password_then_sends(phone, round_of_five):
    context, page = phone
    households, _ = round_of_five
    open_app(page)
    context.set_offline(True)
    page.goto(f"/inspect/household/{households[0].id}")
    page.click("[data-offline-grade=A]")
    # The page's session and the phone's token both end while the signal is gone.
    context.clear_cookies()
    page.evaluate(
        """GPQueue.setToken({token: "gone", expires_at: "2026-01-01T00:00:00Z",
                            username: "li-inspector"})"""
    )
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


@pytest.fixture
def lose_grade_page_answers(app) -> list[int]:
    """Every grade page's answer is lost: Chromium sends a POST again once when its
    connection drops before an answer; the signal staying bad, it gives up."""
    return lose_answers(app, r"/inspect/household/\d+", every=True)


def test_a_grade_whose_page_answer_was_lost_is_queued_under_its_own_key_and_credits_once(
    phone, round_of_five, lose_grade_page_answers
):
    """The worker queues a grade whose answer never came back: the server had it already.

    With two grades a day allowed, the queued copy was credited a second time when it
    travelled under another key than the page's.
    """
    context, page = phone
    households, _ = round_of_five
    rules = current_rules(households[0].village_id)
    set_rules(households[0].village_id, list(rules.grades), 2, actor_id=None)
    db.session.commit()
    open_app(page)
    page.goto(f"/inspect/household/{households[0].id}")
    page.click("button[name=grade][value=A]")
    page.wait_for_url("**/inspect?queued=1")
    # Every copy the page sent (Chromium sends it again once) answered as the first did.
    assert lose_grade_page_answers and set(lose_grade_page_answers) == {302}
    already = page.locator("[data-outcome=sent]")
    expect(already).to_have_count(1, timeout=30_000)
    expect(already).to_have_text("MZ-01-0001 住户1：这次评分此前已送达，结果见“我今日的检查”。")
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=SHOTS / "offline-sent-before-zh.png", full_page=True)
    db.session.rollback()
    assert inspection_journals() == 1


# Chromium's network throttling: 400 kbit/s each way (in bytes per second), 400 ms latency.
WEAK_LINK = {
    "offline": False,
    "latency": 400,
    "downloadThroughput": 400_000 / 8,
    "uploadThroughput": 400_000 / 8,
}


def throttle(context, page) -> None:
    """Put the page and the service worker (it fetches the pages) on the weak link."""
    page_session = context.new_cdp_session(page)
    page_session.send("Network.enable")
    page_session.send("Network.emulateNetworkConditions", WEAK_LINK)
    # The worker is a target of its own: throttling the page alone leaves its fetches fast.
    browser_session = context.browser.new_browser_cdp_session()
    targets = browser_session.send("Target.getTargets")["targetInfos"]
    workers = [
        t
        for t in targets
        if t["type"] == "service_worker" and page.url.startswith(t["url"].rsplit("/", 1)[0])
    ]
    assert workers, targets
    for worker in workers:
        session = browser_session.send(
            "Target.attachToTarget", {"targetId": worker["targetId"], "flatten": False}
        )["sessionId"]
        for number, (method, params) in enumerate(
            [("Network.enable", {}), ("Network.emulateNetworkConditions", WEAK_LINK)], start=1
        ):
            message = json.dumps({"id": number, "method": method, "params": params})
            browser_session.send(
                "Target.sendMessageToTarget", {"sessionId": session, "message": message}
            )


def test_on_a_weak_link_the_second_visit_scans_grades_and_saves_within_3_seconds(
    phone, round_of_five, api_calls
):
    context, page = phone
    open_app(page)  # the first visit: the worker installs, the cache fills, the roster lands
    throttle(context, page)
    started = time.monotonic()
    page.goto("/inspect")
    opened = time.monotonic() - started
    # The link really is slow: one request takes at least the latency.
    took = page.evaluate(
        "(function () { var t = performance.now(); return fetch('/healthz')"
        ".then(function () { return performance.now() - t; }); })()"
    )
    assert took >= 400, took

    started = time.monotonic()
    page.click("[data-start]")  # the fake camera shows household 1's card
    page.click("button[name=grade][value=B]")
    expect(page.get_by_role("heading", name="已记录")).to_be_visible()
    elapsed = time.monotonic() - started
    print(f"weak link: /inspect opened in {opened:.2f} s; scan, grade, saved in {elapsed:.2f} s")
    assert elapsed < 3, elapsed
    # A card of the roster at its current version skipped the server's card check (a
    # round trip); other cards still go through it.
    assert "GET /inspect/card" not in api_calls
    db.session.rollback()
    assert inspection_journals() == 1


def test_the_worker_sends_the_queue_by_background_sync_with_no_page_open(
    phone, round_of_five, https_server, api_calls
):
    context, page = phone
    households, _ = round_of_five
    grade_links_offline(context, page, households[:1])
    # The tap asked the browser to send the queue when the signal returns.
    expect(page.locator("[data-offline]")).to_have_attribute("data-sync", "gp-send-queue")
    tags = page.evaluate(
        "navigator.serviceWorker.ready.then(function (r) { return r.sync.getTags(); })"
    )
    assert tags == ["gp-send-queue"]

    # The phone is put away: no page of the app is open when the signal returns, and the
    # browser fires the sync event (DevTools fires it here, not minutes later).
    blank = context.new_page()
    devtools = context.new_cdp_session(blank)
    registrations: list[dict] = []
    devtools.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    devtools.send("ServiceWorker.enable")
    page.close()
    context.set_offline(False)
    blank.wait_for_function("true")  # let DevTools report the registrations
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        blank.wait_for_timeout(50)
    worker = next(r for r in registrations if r["scopeURL"].startswith(https_server))
    devtools.send(
        "ServiceWorker.dispatchSyncEvent",
        {
            "origin": https_server,
            "registrationId": worker["registrationId"],
            "tag": "gp-send-queue",
            "lastChance": False,
        },
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        db.session.rollback()
        if inspection_journals():
            break
        time.sleep(0.2)
    assert inspection_journals() == 1
    assert api_calls.count("POST /api/v1/inspections/batch") == 1

    # Opening the app again shows what the worker sent while it was closed.
    page = context.new_page()
    page.goto("/inspect")
    expect(page.locator("[data-outcome=credited]")).to_have_text(
        "MZ-01-0001 住户1：已记 +3 分，余额 3"
    )
    expect(page.locator("[data-queue-status]")).to_be_hidden()


def test_logging_out_revokes_the_phones_token_and_wipes_the_roster_but_never_a_queued_grade(
    phone, round_of_five, app
):
    context, page = phone
    households, _ = round_of_five
    grade_links_offline(context, page, households[:1])
    token = page.evaluate("GPQueue.token().then(function (t) { return t.token; })")

    # A grade waits: the logout is refused and says why; the grade stays on the phone.
    page.click("form[data-logout] button")
    expect(page.locator("[data-logout-warning]")).to_contain_text("1 条检查还没有上传")
    assert "/inspect" in page.url
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (1)")
    page.locator("form[data-logout]").screenshot(path=str(SHOTS / "issue17-logout-refused-360.png"))

    context.set_offline(False)
    expect(page.locator("[data-outcome=credited]")).to_have_count(1, timeout=30_000)
    expect(page.locator("[data-queue-status]")).to_be_hidden()
    # Sent: the logout goes through, here from the home page (outside the app's scope).
    page.goto("/home")
    page.click("form[data-logout] button")
    page.wait_for_url("**/login")

    # The phone keeps no names or addresses, and its token no longer opens the API.
    assert page.evaluate("localStorage.getItem('gp.roster')") is None
    kept_page = page.evaluate(
        """caches.keys().then(function (names) {
             return Promise.all(names.map(function (name) {
               return caches.open(name).then(function (c) { return c.match('/inspect'); });
             }));
           }).then(function (hits) { return hits.filter(Boolean).length; })"""
    )
    assert kept_page == 0
    db.session.rollback()  # see what the live server committed
    with app.test_client() as client:
        answer = client.get("/api/v1/roster", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
    db.session.rollback()
    assert inspection_journals() == 1
