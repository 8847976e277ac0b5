"""The village secretary's paper work in a real browser, on a desktop and on a phone.

Roster imports whose errors can be read and fixed, card sheets that refuse a wrong
address, exports downloaded from the report page, a wrong grade voided from a page.
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from testsupport import ROSTER_HEADER, household_count, log_in_browser

from app.db import db

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 780}}
SHOTS = Path("/tmp/shots")

# The colour of an element's text and of the first opaque background behind it.
COLOURS = """
(element) => {
  const text = getComputedStyle(element).color;
  let node = element;
  let back = "rgba(0, 0, 0, 0)";
  while (node) {
    const colour = getComputedStyle(node).backgroundColor;
    if (colour && !colour.endsWith(", 0)") && colour !== "transparent") { back = colour; break; }
    node = node.parentElement;
  }
  return [text, node ? back : "rgb(255, 255, 255)"];
}
"""


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(part) for part in re.findall(r"[\d.]+", css)[:3])


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(locator) -> float:
    """The WCAG contrast ratio of an element's text against what is behind it."""
    text, back = locator.evaluate(COLOURS)
    lighter, darker = sorted((_luminance(_rgb(text)), _luminance(_rgb(back))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def households_now() -> int:
    """Count the households the live server wrote (a new transaction, not a stale snapshot)."""
    db.session.rollback()
    return household_count()


def roster(*lines: str) -> list[dict]:
    data = "\r\n".join((ROSTER_HEADER, *lines)).encode() + b"\r\n"
    return [{"name": "roster.csv", "mimeType": "text/csv", "buffer": data}]


@pytest.fixture(params=list(SIZES))
def office(request, page, admin, grids):
    """The admin logged in, on a desktop screen or a 360x780 phone."""
    page.set_viewport_size(SIZES[request.param])
    log_in_browser(page, "admin")
    page.size_name = request.param
    return page


def test_an_import_with_errors_lists_each_row_readably_in_chinese(office):
    office.goto("/admin/households/import")
    office.set_input_files(
        "#file",
        roster(
            "马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,北九网格,,", ",和平路13号,东一网格,,0"
        ),
    )
    office.click("form[data-import-form] button")

    problems = office.locator("[data-problem]")
    expect(problems).to_have_count(3)
    expect(problems.nth(0)).to_contain_text("3")
    expect(problems.nth(0)).to_contain_text("网格")
    expect(problems.nth(0)).to_contain_text("本村没有名称或编号为“北九网格”的网格")
    expect(problems.nth(1)).to_contain_text("缺少户主姓名")
    expect(problems.nth(2)).to_contain_text("人口应是 1 到 99 之间的整数")
    for index in range(3):
        for cell in range(3):
            ratio = contrast(problems.nth(index).locator("td").nth(cell))
            assert ratio >= 4.5, ratio
    assert contrast(office.locator("[data-import-refused]")) >= 4.5
    shot(office, f"office-import-errors-{office.size_name}")
    assert households_now() == 0


def test_the_import_errors_are_english_on_an_english_page(office):
    office.goto("/lang/en?next=/admin/households/import")
    office.goto("/admin/households/import")
    office.set_input_files("#file", roster("王建国,和平路12号,北九网格,,"))
    office.click("form[data-import-form] button")

    expect(office.locator("[data-problem]")).to_contain_text(
        "No grid named or numbered '北九网格' in this village."
    )


def test_a_second_import_adds_only_the_new_families(office):
    office.goto("/admin/households/import")
    office.set_input_files(
        "#file", roster("马秀英,幸福路8号,东一网格,,", "王建国,和平路12号,西一网格,,")
    )
    office.click("form[data-import-form] button")
    expect(office.locator("[data-imported]")).to_contain_text("已导入 2 户")
    assert households_now() == 2

    office.goto("/admin/households/import")
    office.set_input_files(
        "#file",
        roster(
            "【示例】马秀英,马庄村1组 幸福路8号,东一网格,138-1234-5678,3",
            "马秀英,幸福路8号,东一网格,,",
            "王建国,和平路12号,西一网格,,",
            "李桂兰,和平路14号,西一网格,,2",
        ),
    )
    office.click("form[data-import-form] button")

    expect(office.locator("[data-imported]")).to_contain_text("已导入 1 户")
    skipped = office.locator("[data-skipped] tbody tr")
    expect(skipped).to_have_count(3)
    expect(skipped.nth(0)).to_contain_text("模板中的示例行")
    expect(skipped.nth(1)).to_contain_text("已在本村登记，编号 MZ-01-0001")
    expect(skipped.nth(2)).to_contain_text("MZ-02-0001")
    assert contrast(skipped.nth(1).locator("td").nth(2)) >= 4.5
    shot(office, f"office-import-again-{office.size_name}")
    assert households_now() == 3


def test_card_printing_is_refused_without_a_reachable_base_url(office, app):
    app.config["BASE_URL"] = "http://127.0.0.1:5000"
    office.goto("/admin/cards")

    refusal = office.locator("[data-card-address-refused]")
    expect(refusal).to_contain_text("不能打印积分卡")
    expect(refusal).to_contain_text("BASE_URL=http://192.168.1.10:5000")
    expect(office.locator("[data-print-cards]")).to_have_count(0)
    assert contrast(refusal.locator("p").first) >= 4.5
    shot(office, f"office-cards-refused-{office.size_name}")

    app.config["BASE_URL"] = "http://192.168.1.10:5000"
    office.goto("/admin/cards")
    expect(office.locator("[data-card-address-private]")).to_contain_text("只有连着村里网络")
    expect(office.locator("[data-print-cards]")).to_be_visible()
    shot(office, f"office-cards-private-{office.size_name}")


def test_the_household_page_shows_no_card_without_a_reachable_base_url(office, app, household):
    app.config["BASE_URL"] = None
    office.goto(f"/admin/households/{household.id}")

    refusal = office.locator("[data-card-address-refused]")
    expect(refusal).to_contain_text("还没有设置 BASE_URL")
    expect(office.locator("[data-card-qr]")).to_have_count(0)
    expect(office.locator("[data-print-card]")).to_have_count(0)
    refusal.scroll_into_view_if_needed()
    shot(office, f"office-household-card-refused-{office.size_name}")

    app.config["BASE_URL"] = "http://192.168.1.10:5000"
    office.goto(f"/admin/households/{household.id}")
    expect(office.locator("[data-card-address-private]")).to_contain_text("只有连着村里网络")
    expect(office.locator("[data-card-qr]")).to_be_visible()


def test_exports_download_from_the_report_page_buttons(office, make_household):
    make_household(name="马秀英", address="幸福路8号")
    office.goto("/home")
    office.click("[data-reports]")
    office.wait_for_url("**/admin/reports")
    office.click("[data-range=last]")
    office.click("[data-range=this]")
    shot(office, f"office-reports-{office.size_name}")

    row = office.locator("[data-export=households]")
    with office.expect_download() as csv_download:
        row.locator("[data-export-csv]").click()
    with office.expect_download() as xlsx_download:
        row.locator("[data-export-xlsx]").click()

    csv_file = csv_download.value
    assert re.fullmatch(
        r"households-MZ-\d{4}-\d\d-01-\d{4}-\d\d-\d\d\.csv", csv_file.suggested_filename
    )
    text = Path(csv_file.path()).read_bytes().decode("utf-8-sig")
    assert "MZ-01-0001" in text and "马秀英" in text
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    assert Path(xlsx_download.value.path()).read_bytes().startswith(b"PK")
    expect(office.locator("[data-export]")).to_have_count(6)


def test_a_wrong_grade_is_voided_from_the_household_page(office, household, make_user):
    from app.inspections.services import record_inspection

    inspection = record_inspection(household, make_user("inspector", username="li"), "A")
    db.session.commit()
    office.goto(f"/admin/households/{household.id}")
    expect(office.locator("[data-balance]")).to_have_text("3")

    row = office.locator(f"[data-inspection='{inspection.id}']")
    row.locator("input[name=reason]").fill("评错了等级")
    row.locator("[data-void]").click()

    expect(office.locator("[data-voided]")).to_contain_text("这次检查已作废")
    expect(office.locator("[data-balance]")).to_have_text("0")
    expect(row.locator("[data-voided-mark]")).to_contain_text("评错了等级")
    expect(row.locator("[data-void]")).to_have_count(0)
    shot(office, f"office-void-{office.size_name}")
