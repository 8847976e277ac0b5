"""The township's dashboard in a real browser at phone size, and its settlement PDF."""

import io
from pathlib import Path

import pypdfium2
import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from testsupport import PASSWORD

from app.auth.models import INSPECTOR, STOREKEEPER
from app.catalogue.services import create_good
from app.db import db
from app.inspections.services import record_inspection
from app.redemptions.services import LineRequest, redeem_goods
from app.townships.services import create_township, create_township_user, move_village

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")


@pytest.fixture
def township(village, make_village, make_household, make_user):
    """Township 东湖街道 with 马庄村 (all inspected) and 李庄村 (one of two inspected)."""
    town = create_township("东湖街道", "DH")
    villages = [village, make_village("李庄村", "LZ")]
    for village, inspected in zip(villages, (2, 1), strict=True):
        move_village(village, town)
        inspector = make_user(INSPECTOR, of=village)
        keeper = make_user(STOREKEEPER, of=village)
        households = [
            make_household(of=village, name=f"{village.name[:1]}家{n}", points=50) for n in range(2)
        ]
        for household in households[:inspected]:
            record_inspection(household, inspector, "A")
        good = create_good(village.id, name="竹炭牙刷", unit="支", price_points=5, stock=20)
        good.cost_cents = 250
        redeem_goods(households[0], keeper, [LineRequest(good.id, 2)])
    create_township_user(town, "dh-staff", PASSWORD)
    db.session.commit()
    return villages


def _log_in(page) -> None:
    page.goto("/login")
    page.fill("#username", "dh-staff")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/township")


def test_the_township_dashboard_ranks_its_villages_on_a_phone(page, township):
    page.set_viewport_size({"width": 360, "height": 780})
    _log_in(page)

    ranked = page.locator("[data-table=participation] tbody tr")
    expect(ranked).to_have_count(2)
    expect(ranked.nth(0)).to_contain_text("马庄村")
    expect(ranked.nth(0)).to_contain_text("100%")
    expect(ranked.nth(1)).to_contain_text("李庄村")
    expect(page.locator("[data-chart=months] svg")).to_be_visible()
    expect(page.locator("[data-table=settlements]")).to_contain_text("5.00")
    # The page fits the phone: nothing wider than the screen but the scrolling tables.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    text = page.locator("main").inner_text()
    assert "马家0" not in text
    assert "李家1" not in text
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "township-dashboard-phone.png"), full_page=True)


def test_the_settlement_pdf_renders_its_chinese_text(page, township, tmp_path):
    _log_in(page)
    village_id = township[0].id

    response = page.request.get(f"/township/settlement.pdf?village_id={village_id}")

    assert response.status == 200
    pdf = response.body()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "马庄村" in text
    assert "竹炭牙刷" in text
    assert text.count("签字") == 3
    document = pypdfium2.PdfDocument(pdf)
    image = document[0].render(scale=1.5).to_pil()
    SHOTS.mkdir(parents=True, exist_ok=True)
    image.save(SHOTS / "township-settlement.png")
    # Ink on the page: the rendered title and table are not blank.
    assert image.convert("L").getextrema()[0] < 100
