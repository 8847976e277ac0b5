"""Every page at phone size, as axe-core (the engine of Lighthouse's audit) measures it.

axe-core 4.14.1 is vendored under vendor/axe-core (see its README) and evaluated in each
page through the browser's debugging protocol, so the pages' Content-Security-Policy
stays as strict as it is for people. Each page is checked by every rule axe runs by
default (WCAG 2 A and AA, and its best practices): no violation at all.
"""

import json
from pathlib import Path

import pytest
from testsupport import PASSWORD

from app.auth.models import HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db
from app.households.cards import make_token
from app.inspections.services import record_inspection
from app.redemptions.services import LineRequest, redeem_goods
from app.townships.services import create_township, create_township_user, move_village

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()
PHONE = {"width": 360, "height": 780}
SHOTS = Path("/tmp/shots/accessibility")

RUN_AXE = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((rule) => ({
    rule: rule.id,
    impact: rule.impact,
    help: rule.help,
    where: rule.nodes.slice(0, 5).map((node) => ({
      target: node.target.join(" "),
      why: node.failureSummary,
    })),
  }));
}"""


@pytest.fixture
def village_in_use(village, make_household, make_user, make_good, other_village):
    """A village as people meet it: a household with history, goods it can and cannot
    afford, a receipt, and a township above it."""
    household = make_household(name="马秀英", points=40, phone="13812345678")
    make_household(name="李建国", address="马庄村2组 和平路3号")
    # A long name, as people type them: the dashboard's table of inspectors scrolls.
    inspector = make_user(INSPECTOR, username="wang.jianguo.inspector")
    keeper = make_user(STOREKEEPER, username="keeper")
    make_user(username="admin")
    make_user(HOUSEHOLD, household=household, username="resident")
    soap = make_good("香皂", price=5, stock=10, unit="块")
    make_good("电饭煲", price=400, stock=2, unit="台")
    make_good("洗衣液", price=8, stock=0, unit="瓶")
    inspection = record_inspection(household, inspector, "A")
    redemption = redeem_goods(household, keeper, [LineRequest(soap.id, 1)])
    town = create_township("东湖街道", "DH")
    move_village(village, town)
    move_village(other_village, town)
    create_township_user(town, "township", PASSWORD)
    db.session.commit()
    return {
        "household": household.id,
        "inspection": inspection.id,
        "redemption": redemption.redemption.id,
        "good": soap.id,
        "token": make_token(household),
    }


def violations(page) -> list[dict]:
    """Run axe-core on the page as it stands; return its violations."""
    page.evaluate(AXE)
    return page.evaluate(RUN_AXE)


def log_in(page, username: str, lands_on: str = "/home") -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{lands_on}")


def check(
    page, path: str, found: dict[str, list], name: str | None = None, status: int = 200
) -> None:
    """Open path at phone size, keep a screenshot, and note what axe finds there."""
    response = page.goto(path)
    assert response is not None and response.status == status, (path, response and response.status)
    page.wait_for_load_state("load")
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = name or path.strip("/").replace("/", "-").replace("?", "-") or "root"
    page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
    if problems := violations(page):
        found[path] = problems


def assert_none(found: dict[str, list]) -> None:
    assert not found, json.dumps(found, ensure_ascii=False, indent=1)


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    return page


def test_the_pages_anyone_can_open_pass_axe(phone, village_in_use, console_errors):
    found: dict[str, list] = {}

    check(phone, "/login", found)
    check(phone, f"/q/{village_in_use['token']}", found, "door")
    phone.goto("/lang/en?next=/login")
    check(phone, f"/q/{village_in_use['token']}", found, "door-en")
    check(phone, "/q/" + "A" * 27, found, "door-invalid", status=404)

    assert_none(found)
    # Only the unknown card is not found: the tab's icon is.
    assert [e for e in console_errors if "404" in e and "/q/AAAA" not in e] == []


def test_the_households_page_passes_axe(phone, village_in_use, console_errors):
    log_in(phone, "resident", "/my")
    found: dict[str, list] = {}

    check(phone, "/my", found)
    check(phone, "/my?show=out", found)
    phone.goto("/lang/en?next=/my")
    check(phone, "/my", found, "my-en")

    assert_none(found)
    assert [e for e in console_errors if "404" in e] == []


def test_the_inspectors_pages_pass_axe(phone, village_in_use):
    log_in(phone, "wang.jianguo.inspector")
    found: dict[str, list] = {}

    check(phone, "/home", found, "home-inspector")
    check(phone, "/inspect", found)
    check(phone, f"/inspect/household/{village_in_use['household']}", found, "inspect-household")
    check(phone, f"/inspect/done/{village_in_use['inspection']}", found, "inspect-done")

    assert_none(found)


def test_the_counter_pages_pass_axe(phone, village_in_use):
    log_in(phone, "keeper")
    found: dict[str, list] = {}

    check(phone, "/shop", found)
    check(phone, "/find?q=ma", found, "find")
    check(phone, f"/shop/household/{village_in_use['household']}", found, "shop-household")
    check(phone, f"/shop/receipts/{village_in_use['redemption']}", found, "shop-receipt")

    assert_none(found)


ADMIN_PAGES = [
    "/home",
    "/admin/dashboard",
    "/admin/households",
    "/admin/households/new",
    "/admin/households/{household}",
    "/admin/households/{household}/edit",
    "/admin/households/import",
    "/admin/cards",
    "/admin/rules",
    "/admin/goods",
    "/admin/goods/{good}",
    "/admin/users",
    "/admin/audit",
    "/admin/reports",
    "/admin/board",
    "/admin/expiring",
]


def test_the_admin_pages_pass_axe(phone, village_in_use):
    log_in(phone, "admin")
    found: dict[str, list] = {}

    for path in ADMIN_PAGES:
        check(phone, path.format(**village_in_use), found)

    assert_none(found)


def test_the_township_page_passes_axe(phone, village_in_use):
    log_in(phone, "township", "/township")
    found: dict[str, list] = {}

    check(phone, "/township", found)

    assert_none(found)
