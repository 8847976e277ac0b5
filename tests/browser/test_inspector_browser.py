"""The inspector's morning in a real browser: log in, scan the door card, grade it."""

from pathlib import Path

import pytest
import qrcode
from playwright.sync_api import expect
from testsupport import PASSWORD, bearer, inspection_journals, log_in_browser

from app.db import db
from app.households.cards import make_token
from app.households.models import Household

pytestmark = pytest.mark.browser


@pytest.fixture
def canonical_card(village, household, make_user):
    """The household the fake camera's card belongs to (ids 1)."""
    assert (village.id, household.id, household.card_version) == (1, 1, 1)
    make_user("inspector", username="li-inspector")
    return household


def test_an_inspector_scans_grades_and_sees_the_new_balance(page, canonical_card):
    log_in_browser(page, "li-inspector")
    page.goto("/inspect")
    page.click("[data-start]")
    page.wait_for_url("**/inspect/household/1")
    expect(page.locator("[data-household-name]")).to_have_text(canonical_card.name)
    expect(page.locator("[data-balance]")).to_have_text("0")
    expect(page.locator("[data-inspected-today]")).to_have_count(0)

    page.click("button[name=grade][value=A]")
    page.wait_for_url("**/inspect/done/*")
    expect(page.locator("[data-balance]")).to_have_text("3")

    # Back to scanning in one tap; the same card now shows it was inspected today.
    page.click("[data-next]")
    page.click("[data-start]")
    page.wait_for_url("**/inspect/household/1")
    expect(page.locator("[data-inspected-today]")).to_be_visible()
    expect(page.locator("button[name=grade]")).to_have_count(0)
    expect(page.locator("[data-balance]")).to_have_text("3")


def test_a_photo_of_the_card_works_when_the_camera_does_not(page, canonical_card, card_png):
    log_in_browser(page, "li-inspector")
    page.goto("/inspect")
    page.set_input_files("[data-photo]", str(card_png))
    page.wait_for_url("**/inspect/household/1")
    expect(page.locator("[data-household-name]")).to_have_text(canonical_card.name)


def test_a_double_tap_on_a_grade_credits_once(page, canonical_card):
    log_in_browser(page, "li-inspector")
    page.goto("/inspect/household/1")
    page.locator("button[name=grade][value=B]").dblclick()
    page.wait_for_url("**/inspect/done/*")
    expect(page.locator("[data-balance]")).to_have_text("2")


PHONE = {"width": 360, "height": 780}
SHOTS = Path("/tmp/shots")
# Resolves once the inspector app's service worker controls the page.
WORKER_IN_CONTROL = """navigator.serviceWorker.ready.then(function () {
  return navigator.serviceWorker.controller || new Promise(function (resolve) {
    navigator.serviceWorker.addEventListener("controllerchange", resolve);
  });
}).then(function () { return true; })"""
KEPT_PAGES = """caches.keys().then(function (names) {
  return Promise.all(names.map(function (name) {
    return caches.open(name).then(function (c) { return c.match('/inspect'); });
  }));
}).then(function (hits) { return hits.filter(Boolean).length; })"""
# What the phone's IndexedDB holds, read without the app's scripts (the login page has none).
STORED = """new Promise(function (resolve, reject) {
  var request = indexedDB.open("greenpoints");
  request.onerror = reject;
  request.onsuccess = function () {
    var tx = request.result.transaction(["queue", "meta"]);
    var queue = tx.objectStore("queue").getAll();
    var token = tx.objectStore("meta").get("token");
    var outcomes = tx.objectStore("meta").get("outcomes");
    tx.oncomplete = function () {
      resolve({queue: queue.result.map(function (i) { return i.household_id + i.grade; }),
               token: token.result || null, outcomes: outcomes.result || null});
    };
  };
})"""


@pytest.fixture
def phone(browser, https_server):
    """A phone-sized browser on the https server, as the inspector app runs on phones."""
    context = browser.new_context(base_url=https_server, locale="zh-CN", viewport=PHONE)
    context.set_default_timeout(15_000)
    yield context, context.new_page()
    context.close()


def test_a_shared_phone_forgets_the_households_when_the_session_ends_elsewhere(
    phone, browser, https_server, make_household, make_user, app
):
    """The inspector logs out on another device: the phone keeps no names, no working
    token and no kept page, however its next page finds out; the unsent grade stays."""
    households = [make_household(name=f"住户{n}", address=f"幸福路{n}号") for n in (1, 2)]
    make_user("inspector", username="li-inspector")
    context, page = phone
    log_in_browser(page, "li-inspector")
    page.goto("/inspect")
    page.evaluate(WORKER_IN_CONTROL)
    expect(page.locator("[data-roster-status]")).to_contain_text("2 户")
    token = page.evaluate("GPQueue.token().then(function (t) { return t.token; })")
    assert page.evaluate(KEPT_PAGES) == 1
    # A grade given where the signal dropped waits on the phone.
    context.set_offline(True)
    page.goto(f"/inspect/household/{households[1].id}")
    page.click("[data-offline-grade=B]")
    expect(page.locator("[data-queue-status]")).to_have_text("已保存，待上传 (1)")

    # Meanwhile the inspector logs in on another device and logs out there.
    other = browser.new_context(base_url=https_server, locale="zh-CN")
    elsewhere = other.new_page()
    log_in_browser(elsewhere, "li-inspector")
    elsewhere.click("form[data-logout] button")
    elsewhere.wait_for_url("**/login")
    other.close()

    # The signal returns and the app is opened again: the login page, and nothing kept.
    context.set_offline(False)
    page.goto("/inspect")
    page.wait_for_url("**/login?next=/inspect")
    page.wait_for_selector("html[data-forgotten]", state="attached")
    assert page.evaluate("localStorage.getItem('gp.roster')") is None
    assert page.evaluate(KEPT_PAGES) == 0
    stored = page.evaluate(STORED)
    assert stored["token"] is None and stored["outcomes"] is None
    db.session.rollback()  # see what the live server committed
    with app.test_client() as client:
        answer = client.get("/api/v1/roster", headers=bearer(token))
    assert answer.status_code == 401
    # The unsent grade is still on the phone, and goes up once its inspector logs in.
    assert stored["queue"] == [f"{households[1].id}B"]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "shared-phone-login-zh.png"), full_page=True)
    assert inspection_journals() == 0
    page.fill("#username", "li-inspector")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inspect")
    expect(page.locator("[data-outcome=credited]")).to_have_count(1, timeout=30_000)
    db.session.rollback()
    assert inspection_journals() == 1


def test_the_worker_drops_the_kept_page_when_the_app_is_redirected_to_log_in(
    phone, make_household, make_user
):
    """The worker itself, whatever the login page does: a navigation's redirect reaches it
    as an opaque one, and counts as logged out."""
    make_household()
    make_user("inspector", username="li-inspector")
    context, page = phone
    log_in_browser(page, "li-inspector")
    page.goto("/inspect")
    page.evaluate(WORKER_IN_CONTROL)
    assert page.evaluate(KEPT_PAGES) == 1
    context.route("**/js/forget.*", lambda route: route.abort())  # the login page wipes nothing
    context.clear_cookies()
    page.goto("/inspect")
    page.wait_for_url("**/login?next=/inspect")
    expect(page.locator("#username")).to_be_visible()
    # The worker deletes it as it hands the redirect on: give it a moment.
    for _ in range(100):
        if page.evaluate(KEPT_PAGES) == 0:
            break
        page.wait_for_timeout(50)
    assert page.evaluate(KEPT_PAGES) == 0


class Wire:
    """What the phone downloads, counted where it leaves the server: every answer's status
    line, headers and body as sent, the service worker's own requests (its update check,
    the pages it fetches) and the roster's revalidation included. TLS adds about 30 bytes
    a record on top. Werkzeug adds Server and Date to each answer: counted as 70 bytes."""

    ADDED_BY_SERVER = 70

    def __init__(self, app) -> None:
        self.answers: list[tuple[int, str]] = []
        self.counting = False
        inner = app.wsgi_app

        def counting(environ, start_response):
            head: list[int] = []

            def start(status, headers, *args):
                lines = [f"HTTP/1.1 {status}\r\n"] + [f"{k}: {v}\r\n" for k, v in headers]
                head.append(len("".join(lines).encode("latin-1")) + 2 + self.ADDED_BY_SERVER)
                return start_response(status, headers, *args)

            answer = inner(environ, start)
            try:
                body = b"".join(answer)
            finally:
                if hasattr(answer, "close"):
                    answer.close()
            if self.counting:
                path = environ["PATH_INFO"] + ("?" if environ.get("QUERY_STRING") else "")
                self.answers.append((head[0] + len(body), f"{environ['REQUEST_METHOD']} {path}"))
            return [body]

        app.wsgi_app = counting  # type: ignore[method-assign]

    def measure(self, page, act) -> tuple[int, list[str]]:
        """Bytes downloaded while act() runs and the page settles, and what they were."""
        self.answers.clear()
        self.counting = True
        act()
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1500)  # the worker's update check comes a moment later
        self.counting = False
        return sum(size for size, _ in self.answers), [f"{s:6d} {w}" for s, w in self.answers]


@pytest.fixture
def grid_of_a_hundred(village, grid, make_user):
    """A grid of 100 households, as the village's grids are, and its inspector."""
    from app.households.services import create_household

    for n in range(1, 101):
        create_household(village, grid, f"住户{n:03d}", f"马庄村{n % 7 + 1}组 幸福路{n}号")
    db.session.commit()
    make_user("inspector", username="li-inspector")


def test_the_second_visit_and_each_scan_grade_next_cycle_are_light_on_data(
    phone, grid_of_a_hundred, app, tmp_path
):
    """Issue 33: the second visit at most 8 KB on the wire, a scan-grade-next cycle 6 KB.

    Over https, as phones get it (Chromium then takes brotli), with a grid of 100.
    """
    context, page = phone
    wire = Wire(app)
    log_in_browser(page, "li-inspector")
    page.goto("/inspect")
    page.evaluate(WORKER_IN_CONTROL)
    expect(page.locator("[data-roster-status]")).to_contain_text("100 户")
    expect(page.locator("[data-offline]")).to_have_attribute("data-decoder", "kept")

    # The next morning: the roster kept on the phone is old, and asked again with its ETag.
    page.evaluate(
        "var r = JSON.parse(localStorage.getItem('gp.roster')); r.checked_at = 0;"
        "localStorage.setItem('gp.roster', JSON.stringify(r))"
    )
    second, rows = wire.measure(page, lambda: page.goto("/inspect"))
    print(f"\nsecond visit: {second} bytes", *rows, sep="\n")
    assert "GET /api/v1/roster" in [row.split(maxsplit=1)[1] for row in rows]
    expect(page.locator("[data-roster-status]")).to_contain_text("100 户")

    def scan_and_grade(scan) -> None:
        scan()
        page.wait_for_url("**/inspect/household/*")
        page.click("button[name=grade][value=B]")
        page.wait_for_url("**/inspect/done/*")
        expect(page.locator("[data-balance]")).to_have_text("2")

    # The first card of the day (the fake camera shows household 1's) loads what the
    # grade page needs once; then each next card is scanned from the done page.
    first, rows = wire.measure(page, lambda: scan_and_grade(lambda: page.click("[data-start]")))
    print(f"first scan and grade: {first} bytes", *rows, sep="\n")
    household = db.session.get(Household, 2)
    photo = tmp_path / "card-2.png"
    qrcode.make(f"http://greenpoints.test/q/{make_token(household)}").save(photo)
    cycled, rows = wire.measure(
        page, lambda: scan_and_grade(lambda: page.set_input_files("[data-photo]", str(photo)))
    )
    print(f"next scan and grade: {cycled} bytes", *rows, sep="\n")
    # The done page: the next card is scanned right here.
    SHOTS.mkdir(exist_ok=True)
    expect(page.locator("[data-start]")).to_have_text("扫下一张卡")
    page.screenshot(path=str(SHOTS / "done-next-scan-zh.png"), full_page=True)
    done = page.url.split("://", 1)[1].split("/", 1)[1]
    page.goto(f"/lang/en?next=/{done}")
    expect(page.locator("[data-start]")).to_have_text("Scan the next card")
    page.screenshot(path=str(SHOTS / "done-next-scan-en.png"), full_page=True)
    db.session.rollback()
    assert inspection_journals() == 2
    assert second <= 8 * 1024
    assert cycled <= 6 * 1024
