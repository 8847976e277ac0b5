"""Exports in a real browser: the report page's buttons download the CSV and the Excel file."""

import re
from pathlib import Path

from playwright.sync_api import expect
from testsupport import (
    admin_page_at_a_size,  # noqa: F401 (the office fixture)
    shot,
)


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
