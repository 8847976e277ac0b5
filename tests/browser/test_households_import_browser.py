"""Importing a roster in a real browser: each bad row named readably; again, only the new."""

from playwright.sync_api import expect
from testsupport import (
    ROSTER_HEADER,
    admin_page_at_a_size,  # noqa: F401 (the office fixture)
    contrast,
    household_count,
    shot,
)

from app.db import db


def households_now() -> int:
    """Count the households the live server wrote (a new transaction, not a stale snapshot)."""
    db.session.rollback()
    return household_count()


def roster(*lines: str) -> list[dict]:
    data = "\r\n".join((ROSTER_HEADER, *lines)).encode() + b"\r\n"
    return [{"name": "roster.csv", "mimeType": "text/csv", "buffer": data}]


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
