"""The counter at phone size in a real browser (issue 15): no card, no dead button, 58 mm.

360x780 is a cheap Android phone, the storekeeper's usual screen. Screenshots go to
/tmp/shots/ for a person to look at.
"""

from pathlib import Path

import pypdfium2
import pytest
from playwright.sync_api import expect
from pypdf import PdfReader
from testsupport import balance_of, count, log_in_browser

from app.auth.models import ADMIN, STOREKEEPER
from app.catalogue.models import WRITEOFF
from app.catalogue.services import create_good, move_stock
from app.db import db
from app.redemptions.models import Redemption

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 780}
SHOTS = Path("/tmp/shots")
MM = 72 / 25.4  # PDF points in a millimetre


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"counter-{name}.png"), full_page=False)


@pytest.fixture
def shop(village, make_household, make_user):
    """周长顺 with 50 points (no card in hand), a storekeeper, and the shelf."""
    household = make_household(
        name="周长顺", address="马庄村1组 幸福路8号", phone="13800001234", points=50
    )
    make_household(name="王建国", address="马庄村2组 和平路3号", phone="13900005678")
    make_user(STOREKEEPER, username="wang-shop")
    goods = {
        name: create_good(village.id, name=name, unit=unit, price_points=price, stock=stock)
        for name, unit, price, stock in (
            ("香皂", "块", 10, 20),
            ("食盐", "袋", 8, 20),
            ("食用油", "桶", 30, 2),
            ("洗衣粉", "袋", 15, 0),
        )
    }
    db.session.commit()
    return household, goods


def open_basket(page, household) -> None:
    page.set_viewport_size(PHONE)
    log_in_browser(page, "wang-shop")
    page.goto(f"/shop/household/{household.id}")


def test_search_and_redeem_without_a_card(page, shop):
    household, _goods = shop
    page.set_viewport_size(PHONE)
    log_in_browser(page, "wang-shop")
    page.goto("/shop")
    page.fill("#household-q", "zcs")
    shot(page, "search")
    page.press("#household-q", "Enter")
    page.wait_for_url("**/find?*")
    results = page.locator("[data-found-item]")
    expect(results).to_have_count(1)
    expect(results).to_contain_text("周长顺")
    expect(results).to_contain_text("138****1234")
    expect(results).to_contain_text("马庄村1组 幸福路8号")
    shot(page, "found")

    results.click()
    page.wait_for_url(f"**/shop/household/{household.id}?found_by=search")
    soap = page.locator("[data-good]", has_text="香皂")
    soap.locator("[data-plus]").click()
    soap.locator("[data-plus]").click()
    expect(page.locator("[data-total]")).to_have_text("20")
    page.click("[data-confirm]")
    page.wait_for_url("**/shop/receipts/*")

    # The receipt opens ready to print: its big button has the focus.
    expect(page.locator("[data-print]")).to_be_focused()
    expect(page.locator("[data-print]")).to_have_text("打印小票")
    expect(page.locator("[data-balance-after]")).to_have_text("30")
    shot(page, "receipt")
    db.session.rollback()  # end the test's own read, to see what the server wrote
    assert db.session.query(Redemption.found_by).one() == ("search",)

    # The latest receipts: the name masked, a one-tap reprint.
    page.goto("/shop")
    recent = page.locator("[data-recent-receipt]")
    expect(recent).to_contain_text("周*顺")
    recent.locator("[data-reprint]").click()
    page.wait_for_url("**/shop/receipts/*?print=1")
    expect(page.locator("[data-receipt]")).to_contain_text("香皂")


def test_an_over_balance_basket_greys_the_confirm_and_says_by_how_much(page, shop):
    household, _goods = shop
    open_basket(page, household)
    oil = page.locator("[data-good]", has_text="食用油")
    soap = page.locator("[data-good]", has_text="香皂")
    oil.locator("[data-plus]").click()
    soap.locator("[data-plus]").click()
    soap.locator("[data-plus]").click()
    # 30 + 20 = 50: all of it; one more soap would be 10 over, so its + is off.
    expect(page.locator("[data-left]")).to_have_text("0")
    expect(page.locator("[data-confirm]")).to_be_enabled()
    expect(soap.locator("[data-plus]")).to_be_disabled()
    # Typed by hand instead: over the balance, the confirm greys and says by how much.
    soap.locator("[data-qty]").fill("4")
    expect(page.locator("[data-confirm]")).to_be_disabled()
    expect(page.locator("[data-shortfall]")).to_have_text("还差 20 积分")
    shot(page, "over-balance")
    # The total bar stays on screen however long the list.
    box = page.locator("[data-confirm]").bounding_box()
    assert box is not None and box["y"] + box["height"] <= PHONE["height"]
    grey = page.eval_on_selector("[data-confirm]", "b => getComputedStyle(b).backgroundColor")
    assert grey == "rgb(185, 199, 189)"


def test_an_out_of_stock_good_cannot_be_added(page, shop):
    household, _goods = shop
    open_basket(page, household)
    powder = page.locator("[data-good]", has_text="洗衣粉")
    expect(powder).to_contain_text("缺货")
    expect(powder.locator("[data-plus]")).to_be_disabled()
    expect(powder.locator("[data-qty]")).to_be_disabled()
    # The quantity stops at the shelf: two oils, and + is off.
    oil = page.locator("[data-good]", has_text="食用油")
    oil.locator("[data-plus]").click()
    household_rich = oil  # 50 points pays one oil; the cap is checked on the field itself
    expect(household_rich.locator("[data-qty]")).to_have_attribute("max", "2")
    oil.locator("[data-qty]").fill("7")
    oil.locator("[data-qty]").dispatch_event("change")
    expect(oil.locator("[data-qty]")).to_have_value("2")
    shot(page, "out-of-stock")


def test_a_refusal_keeps_the_basket(page, shop, village):
    household, goods = shop
    open_basket(page, household)
    oil = page.locator("[data-good]", has_text="食用油")
    salt = page.locator("[data-good]", has_text="食盐")
    oil.locator("[data-plus]").click()
    salt.locator("[data-plus]").click()
    # Meanwhile the last oils go (another counter, a breakage).
    move_stock(goods["食用油"].id, village.id, -2, kind=WRITEOFF, note="打碎")
    db.session.commit()

    page.click("[data-confirm]")
    page.wait_for_url(f"**/shop/household/{household.id}?*refused=out_of_stock*")
    expect(page.locator("[data-message]")).to_contain_text("食用油 只剩 0 桶")
    expect(oil.locator("[data-qty]")).to_have_value("1")
    expect(salt.locator("[data-qty]")).to_have_value("1")
    expect(page.locator("[data-confirm]")).to_be_disabled()
    shot(page, "refused")
    # One tap fixes it: the oil off, the salt stays, confirm.
    oil.locator("[data-minus]").click()
    expect(page.locator("[data-confirm]")).to_be_enabled()
    page.click("[data-confirm]")
    page.wait_for_url("**/shop/receipts/*")
    expect(page.locator("[data-receipt]")).to_contain_text("食盐")


def pdf_of(page) -> bytes:
    page.emulate_media(media="print")
    return page.pdf(prefer_css_page_size=True, print_background=True)


def test_the_58mm_receipt_prints_on_58mm_paper_and_a4_stays_a4(page, shop, make_user, tmp_path):
    household, _goods = shop
    make_user(ADMIN, username="cunwei")
    open_basket(page, household)
    page.locator("[data-good]", has_text="香皂").locator("[data-plus]").click()
    page.locator("[data-good]", has_text="食用油").locator("[data-plus]").click()
    page.click("[data-confirm]")
    page.wait_for_url("**/shop/receipts/*")
    receipt_url = page.url

    strip = pdf_of(page)
    (tmp_path / "receipt-58.pdf").write_bytes(strip)
    SHOTS.mkdir(exist_ok=True)
    (SHOTS / "counter-receipt-58.pdf").write_bytes(strip)
    reader = PdfReader(tmp_path / "receipt-58.pdf")
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 58 * MM) < 1
    # As long as the receipt, not a fixed sheet: a few lines take a few centimetres.
    assert 40 * MM <= float(box.height) < 100 * MM
    text = reader.pages[0].extract_text()
    for words in ("香皂", "食用油", "MZ-", "周长顺"):
        assert words in text
    # Every character is inside the paper, with the 5 mm a 58 mm printer cannot print.
    pdf = pypdfium2.PdfDocument(strip)
    chars = pdf[0].get_textpage()
    boxes = [
        chars.get_charbox(i)
        for i in range(chars.count_chars())
        if not chars.get_text_range(i, 1).isspace()  # line ends sit past the last glyph
    ]
    assert boxes
    assert min(left for left, _b, _r, _t in boxes) >= 4 * MM
    assert max(right for _l, _b, right, _t in boxes) <= 54 * MM
    assert max(top for _l, _b, _r, top in boxes) <= float(box.height)
    chars.close()
    pdf.close()
    assert min(bottom for _l, bottom, _r, _t in boxes) >= 0

    page.goto(receipt_url.split("?")[0] + "?paper=a4")
    page.wait_for_load_state()
    a4 = PdfReader(_saved(tmp_path, "receipt-a4.pdf", pdf_of(page))).pages[0].mediabox
    assert (round(float(a4.width)), round(float(a4.height))) == (595, 842)

    page.context.clear_cookies()
    log_in_browser(page, "cunwei")
    page.goto("/admin/board")
    board = PdfReader(_saved(tmp_path, "board.pdf", pdf_of(page))).pages[0].mediabox
    assert (round(float(board.width)), round(float(board.height))) == (595, 842)


def _saved(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


# One basket, one redemption, however the browser navigates --------------------------------


def _redeemed_once(household) -> None:
    """The household paid for one soap: one redemption, one charge of 10 points."""
    db.session.rollback()  # end the test's own read, to see what the server wrote
    assert count(Redemption) == 1
    assert balance_of(household) == 40


def _one_soap_confirmed(page, household) -> str:
    """Open the basket, add one soap, confirm; return the receipt's number."""
    open_basket(page, household)
    page.locator("[data-good]", has_text="香皂").locator("[data-plus]").click()
    page.click("[data-confirm]")
    page.wait_for_url("**/shop/receipts/*")
    return page.locator("[data-receipt-no]").inner_text()


def _confirm_if_possible(page) -> None:
    """Tap + then − on the soap (as a storekeeper checking the basket), then confirm if allowed."""
    soap = page.locator("[data-good]", has_text="香皂")
    soap.locator("[data-plus]").click()
    soap.locator("[data-minus]").click()
    if page.locator("[data-confirm]").is_enabled():
        page.click("[data-confirm]")
        page.wait_for_load_state()


def test_back_after_the_receipt_opens_an_empty_basket_and_charges_nothing(page, shop):
    household, _goods = shop
    receipt_no = _one_soap_confirmed(page, household)

    page.go_back()
    page.wait_for_url(f"**/shop/household/{household.id}")
    expect(page.locator("[data-just-redeemed]")).to_have_text(f"刚刚完成兑换：小票 {receipt_no}")
    soap = page.locator("[data-good]", has_text="香皂")
    expect(soap.locator("[data-qty]")).to_have_value("0")
    expect(page.locator("[data-confirm]")).to_be_disabled()
    shot(page, "back-after-receipt")
    _confirm_if_possible(page)
    _redeemed_once(household)


def test_a_resent_basket_is_answered_by_its_receipt(page, shop):
    """The answer to confirm is lost; the storekeeper reloads the basket and confirms again."""
    household, _goods = shop
    open_basket(page, household)
    page.locator("[data-good]", has_text="香皂").locator("[data-plus]").click()

    def lose_the_answer(route) -> None:
        route.fetch(max_redirects=0)  # the server does the work; the answer never comes
        route.abort("connectionreset")

    page.route(f"**/shop/household/{household.id}", lose_the_answer)
    page.click("[data-confirm]")
    page.wait_for_timeout(500)
    page.unroute(f"**/shop/household/{household.id}")
    _redeemed_once(household)  # the server did it; the page never heard

    page.goto(f"/shop/household/{household.id}")
    soap = page.locator("[data-good]", has_text="香皂")
    expect(soap.locator("[data-qty]")).to_have_value("1")
    page.click("[data-confirm]")
    page.wait_for_url("**/shop/receipts/*")
    page.reload()
    page.go_back()
    page.wait_for_url(f"**/shop/household/{household.id}")
    _confirm_if_possible(page)
    _redeemed_once(household)


def test_a_second_tab_on_the_same_household_shares_the_basket(page, shop):
    household, _goods = shop
    open_basket(page, household)
    page.locator("[data-good]", has_text="香皂").locator("[data-plus]").click()
    other = page.context.new_page()
    other.set_viewport_size(PHONE)
    other.goto(f"/shop/household/{household.id}")
    soap_there = other.locator("[data-good]", has_text="香皂")
    expect(soap_there.locator("[data-qty]")).to_have_value("1")

    page.click("[data-confirm]")
    page.wait_for_url("**/shop/receipts/*")
    receipt_no = page.locator("[data-receipt-no]").inner_text()
    # The other tab learns at once that its basket was redeemed.
    expect(other.locator("[data-just-redeemed]")).to_contain_text(receipt_no)
    expect(soap_there.locator("[data-qty]")).to_have_value("0")
    _confirm_if_possible(other)
    _redeemed_once(household)
