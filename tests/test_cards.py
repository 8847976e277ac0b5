"""Door cards: QR images that decode, tokens that cannot be forged, reissue, the door page."""

import base64
import hashlib
import hmac
import random
import re
import string
import struct
from io import BytesIO
from types import SimpleNamespace

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select
from testsupport import BASE_URL, assert_problem, rasterize_svg

from app import create_app
from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER
from app.db import db
from app.households import cards
from app.households.models import CardReissue
from app.inspections.services import record_inspection
from app.ledger.services import adjust
from app.masking import mask_name

URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
# Only what the English page says, so the tests do not depend on the translations.
EN = {"lang": "en"}


def token_of(payload: str) -> str:
    prefix, token = payload.rsplit("/q/", 1)
    assert prefix == BASE_URL
    return token


def unpack(token: str) -> tuple[bytes, bytes]:
    """Return the body (village, household, version) and the tag of a token."""
    raw = base64.urlsafe_b64decode(token + "=")
    assert len(raw) == 20
    return raw[:10], raw[10:]


def pack(body: bytes, tag: bytes) -> str:
    return base64.urlsafe_b64encode(body + tag).decode().rstrip("=")


def decode_png(png: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(BytesIO(png)))]


def decode_svg(svg: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(rasterize_svg(svg))]


@pytest.fixture
def scan(client, inspector_headers):
    """Scan a payload as the village's inspector (or as headers say); return the response."""

    def post(payload, headers=None):
        return client.post(
            "/api/v1/scan", json={"payload": payload}, headers=headers or inspector_headers
        )

    return post


@pytest.fixture
def payload_of(client, admin_headers):
    def get(household) -> str:
        response = client.get(f"/api/v1/households/{household.id}", headers=admin_headers)
        assert response.status_code == 200
        return response.json["qr_payload"]

    return get


@pytest.fixture
def reissue(client, admin_headers):
    def post(household, reason=None, headers=None):
        body = {} if reason is None else {"reason": reason}
        return client.post(
            f"/api/v1/households/{household.id}/qr/reissue",
            json=body,
            headers=headers or admin_headers,
        )

    return post


@pytest.fixture
def several(make_household, make_grid, reissue):
    """Households in two grids, one of them on its third card."""
    second = make_grid("西一网格")
    households = [
        make_household(),
        make_household(name="王建国", address="和平路12号"),
        make_household(in_grid=second, name="李桂兰", address="幸福路9号"),
    ]
    for _ in range(2):
        assert reissue(households[2]).status_code == 200
    return households


# Images ---------------------------------------------------------------------------------


def test_every_png_card_decodes_to_exactly_its_payload(client, admin_headers, several, payload_of):
    for household in several:
        response = client.get(f"/api/v1/households/{household.id}/qr.png", headers=admin_headers)

        assert response.status_code == 200
        assert response.mimetype == "image/png"
        assert decode_png(response.data) == [payload_of(household)]


def test_every_svg_card_decodes_to_exactly_its_payload(client, admin_headers, several, payload_of):
    for household in several:
        response = client.get(f"/api/v1/households/{household.id}/qr.svg", headers=admin_headers)

        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert decode_svg(response.data) == [payload_of(household)]


def decode_rows(rows: list[str]) -> list[str]:
    """Decode a symbol given as rows of "1" and "0", drawn four pixels a module."""
    image = Image.new("L", (len(rows[0]), len(rows)))
    image.putdata([0 if module == "1" else 255 for row in rows for module in row])
    image = image.resize((image.width * 4, image.height * 4), Image.Resampling.NEAREST)
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_every_symbol_decodes_to_exactly_its_payload():
    chooser = random.Random(14)
    payloads = [
        f"http://192.168.1.10:5000/q/{''.join(chooser.choices(string.ascii_letters, k=27))}"
        for _ in range(40)
    ]
    payloads += ["".join(chooser.choices(string.ascii_letters + " ./:", k=n)) for n in (1, 90, 400)]
    payloads += ["马庄村幸福路" * 20, "0123456789" * 30, "HTTP://EXAMPLE.TEST/Q/ABC"]
    for payload in payloads:
        rows = cards.qr_rows(payload)

        assert len(rows) == len(rows[0]) and set("".join(rows)) == {"0", "1"}
        assert rows[0] == "0" * len(rows) and rows[-1] == "0" * len(rows)  # the quiet zone
        assert decode_rows(rows) == [payload], payload


def test_cards_of_long_base_urls_still_decode(app, household):
    app.config["BASE_URL"] = "https://greenpoints.example.gov.cn:8443/villages/mazhuang/"
    payload = cards.card_payload(household)

    assert payload.startswith("https://greenpoints.example.gov.cn:8443/villages/mazhuang/q/")
    assert "//q/" not in payload
    assert decode_png(cards.qr_png(payload)) == [payload]
    assert decode_svg(cards.qr_svg(payload)) == [payload]


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER])
@pytest.mark.parametrize("image", ["qr.png", "qr.svg"])
def test_staff_fetch_the_card_images(client, make_user, token_for, household, role, image):
    response = client.get(
        f"/api/v1/households/{household.id}/{image}", headers=token_for(make_user(role))
    )

    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize("image", ["qr.png", "qr.svg"])
def test_card_images_are_not_for_residents_strangers_or_other_villages(
    client, resident, token_for, make_user, other_village, household, image
):
    url = f"/api/v1/households/{household.id}/{image}"

    assert_problem(client.get(url), 401, "unauthorized")
    assert_problem(client.get(url, headers=token_for(resident)), 403, "forbidden")
    stranger = token_for(make_user(ADMIN, of=other_village))
    assert_problem(client.get(url, headers=stranger), 404, "not_found")


# Tokens ---------------------------------------------------------------------------------


def test_payload_is_the_base_url_then_a_27_character_url_safe_token(household, payload_of):
    token = token_of(payload_of(household))

    assert len(token) == cards.TOKEN_LENGTH == 27
    assert URL_SAFE.fullmatch(token)


def test_tokens_differ_between_households_and_card_versions(make_household, reissue, payload_of):
    first, second = make_household(), make_household(name="王建国")
    seen = {payload_of(first), payload_of(second)}
    assert reissue(first).status_code == 200
    seen.add(payload_of(first))
    assert reissue(first).status_code == 200
    seen.add(payload_of(first))

    assert len(seen) == 4
    assert all(len(token_of(p)) == 27 for p in seen)


def test_payload_follows_the_request_when_base_url_is_unset(app, client, admin_headers, household):
    app.config["BASE_URL"] = None

    payload = client.get(f"/api/v1/households/{household.id}", headers=admin_headers).json[
        "qr_payload"
    ]

    assert payload.startswith("http://localhost/q/")
    assert len(payload.rsplit("/", 1)[1]) == 27


# Scanning -------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["url", "token", "padded url"])
def test_scan_accepts_the_full_url_and_the_bare_token(scan, make_household, payload_of, shape):
    household = make_household(points=12)
    payload = payload_of(household)
    sent = {"url": payload, "token": token_of(payload), "padded url": f"  {payload}\n"}[shape]

    response = scan(sent)

    assert response.status_code == 200
    body = response.json
    assert body["inspected_today"] is False
    assert body["household"]["id"] == household.id
    assert body["household"]["code"] == "MZ-01-0001"
    assert body["household"]["balance"] == 12
    assert body["household"]["qr_payload"] == payload


def test_scan_tells_whether_the_household_was_inspected_today(
    scan, household, inspector, payload_of
):
    payload = payload_of(household)
    assert scan(payload).json["inspected_today"] is False

    record_inspection(household, inspector, "A")
    db.session.commit()

    body = scan(payload).json
    assert body["inspected_today"] is True
    assert body["household"]["balance"] == 3


@pytest.mark.parametrize("role", [ADMIN, INSPECTOR, STOREKEEPER])
def test_every_staff_role_of_the_village_may_scan(
    scan, make_user, token_for, household, payload_of, role
):
    response = scan(payload_of(household), headers=token_for(make_user(role)))

    assert response.status_code == 200
    assert response.json["household"]["id"] == household.id


def test_a_resident_may_not_scan(scan, resident, token_for, household, payload_of):
    assert_problem(scan(payload_of(household), headers=token_for(resident)), 403, "forbidden")


def test_scanning_without_a_token_is_401(client, household, payload_of):
    response = client.post("/api/v1/scan", json={"payload": payload_of(household)})

    assert_problem(response, 401, "unauthorized")


def test_scan_without_a_payload_is_a_validation_error(scan, client, inspector_headers):
    body = assert_problem(
        client.post("/api/v1/scan", json={}, headers=inspector_headers), 422, "validation_error"
    )
    assert "payload" in body["errors"]
    assert_problem(scan(12345), 422, "validation_error")


def test_an_empty_payload_is_an_unreadable_card(scan, client, admin_headers):
    # A scan that read nothing is a garbled card (API.md: invalid_qr), like a blank one.
    assert_problem(scan(""), 422, "invalid_qr")
    assert_problem(scan("   "), 422, "invalid_qr")
    for path, body in (
        ("/api/v1/inspections", {"payload": "", "grade": "A"}),
        ("/api/v1/redemptions", {"payload": "", "lines": [{"good_id": 1, "quantity": 1}]}),
    ):
        assert_problem(client.post(path, json=body, headers=admin_headers), 422, "invalid_qr")


def _flip(token: str, byte: int, bit: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "="))
    raw[byte] ^= 1 << bit
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize(("byte", "bit"), [(10, 0), (14, 5), (19, 7), (19, 0)])
def test_one_bit_of_the_signature_changed_is_invalid(scan, household, payload_of, byte, bit):
    token = token_of(payload_of(household))
    forged = _flip(token, byte, bit)
    assert forged != token

    assert_problem(scan(forged), 422, "invalid_qr")
    assert_problem(scan(f"{BASE_URL}/q/{forged}"), 422, "invalid_qr")


def test_every_other_last_character_is_invalid(scan, household, payload_of):
    # 20 bytes fill 27 characters with two bits to spare: the spare bits must be zero,
    # or one card would have four spellings, three of them "tampered" ones that scan.
    token = token_of(payload_of(household))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    refused = []
    for other in alphabet.replace(token[-1], ""):
        response = scan(token[:-1] + other)
        refused.append((other, response.status_code, (response.json or {}).get("code")))

    assert all(status == 422 and code == "invalid_qr" for _, status, code in refused), [
        r for r in refused if r[1] != 422
    ]


def test_another_households_number_with_the_old_signature_is_invalid(
    scan, make_household, payload_of
):
    mine = make_household()
    theirs = make_household(name="王建国")
    body, tag = unpack(token_of(payload_of(mine)))
    village_id, household_id, version = struct.unpack(">IIH", body)
    assert household_id == mine.id

    forged = pack(struct.pack(">IIH", village_id, theirs.id, version), tag)

    assert_problem(scan(forged), 422, "invalid_qr")


def test_a_newer_version_with_the_old_signature_is_invalid(scan, household, payload_of):
    body, tag = unpack(token_of(payload_of(household)))
    village_id, household_id, version = struct.unpack(">IIH", body)

    forged = pack(struct.pack(">IIH", village_id, household_id, version + 1), tag)

    assert_problem(scan(forged), 422, "invalid_qr")


def test_a_token_signed_under_another_secret_key_is_invalid(app, scan, household, payload_of):
    card = SimpleNamespace(
        village_id=household.village_id, id=household.id, card_version=household.card_version
    )
    elsewhere = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "another-secret-key",
            "BASE_URL": BASE_URL,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        }
    )
    with elsewhere.app_context():
        forged = cards.make_token(card)
    genuine = token_of(payload_of(household))
    assert forged != genuine
    assert unpack(forged)[0] == unpack(genuine)[0]  # the same household, another signature

    assert_problem(scan(forged), 422, "invalid_qr")


def test_a_tag_computed_with_another_key_by_hand_is_invalid(scan, household, payload_of):
    body, _tag = unpack(token_of(payload_of(household)))
    tag = hmac.new(b"guessed-key", b"card:" + body, hashlib.sha256).digest()[:10]

    assert_problem(scan(pack(body, tag)), 422, "invalid_qr")


def test_well_signed_tokens_for_households_that_do_not_match_are_invalid(
    app, scan, household, make_household, other_village
):
    theirs = make_household(of=other_village, name="李四")
    wrong = [
        SimpleNamespace(village_id=household.village_id, id=999_999, card_version=1),
        SimpleNamespace(village_id=household.village_id, id=theirs.id, card_version=1),
        SimpleNamespace(village_id=household.village_id, id=household.id, card_version=2),
    ]
    for card in wrong:
        assert_problem(scan(cards.make_token(card)), 422, "invalid_qr")


def test_another_villages_valid_card_is_invalid_here(
    scan, client, make_household, other_village, make_user, token_for
):
    theirs = make_household(of=other_village, name="李四")
    their_admin = token_for(make_user(ADMIN, of=other_village))
    payload = client.get(f"/api/v1/households/{theirs.id}", headers=their_admin).json["qr_payload"]
    assert (
        scan(payload, headers=token_for(make_user(INSPECTOR, of=other_village))).status_code == 200
    )

    body = assert_problem(scan(payload), 422, "invalid_qr")

    assert "李四" not in str(body)


@pytest.mark.parametrize(
    "garbage",
    [
        "   ",
        "hello",
        "MZ-01-0001",
        "1",
        "http://greenpoints.test/",
        "http://greenpoints.test/q/",
        "https://weixin.qq.com/r/abcdefghijklmnopqrstuvwxyz",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "___________________________",
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "马庄村马庄村马庄村马庄村马庄村马庄村马庄村马庄村马庄村",
        "\x00" * 27,
        "x" * 2000,
    ],
)
def test_garbage_is_invalid(scan, household, garbage):
    assert_problem(scan(garbage), 422, "invalid_qr")


@pytest.mark.parametrize(
    "cut",
    [
        lambda p: p[:-1],
        lambda p: p[:-13],
        lambda p: token_of(p)[:-1],
        lambda p: token_of(p)[1:],
        lambda p: p + "A",
        lambda p: token_of(p) + "A",
        lambda p: p.replace("/q/", "/x/"),
        lambda p: p.replace("/q/", "/q//"),
    ],
    ids=["url-1", "url-13", "token-1", "token-first", "url+1", "token+1", "path", "slash"],
)
def test_truncated_or_mangled_payloads_are_invalid(scan, household, payload_of, cut):
    assert_problem(scan(cut(payload_of(household))), 422, "invalid_qr")


# Reissue --------------------------------------------------------------------------------


def test_a_reissued_card_is_revoked_and_the_new_one_scans(scan, household, payload_of, reissue):
    old = payload_of(household)

    response = reissue(household, "卡丢了")

    assert response.status_code == 200
    new = response.json["qr_payload"]
    assert new != old
    assert response.json["card_version"] == 2
    assert payload_of(household) == new
    body = assert_problem(scan(old), 410, "revoked_qr")
    assert body["detail"]
    assert_problem(scan(token_of(old)), 410, "revoked_qr")
    assert scan(new).status_code == 200


def test_every_earlier_card_stays_revoked(scan, household, payload_of, reissue):
    first = payload_of(household)
    second = reissue(household).json["qr_payload"]
    third = reissue(household).json["qr_payload"]

    assert_problem(scan(first), 410, "revoked_qr")
    assert_problem(scan(second), 410, "revoked_qr")
    assert scan(third).json["household"]["card_version"] == 3


def test_reissue_is_recorded_with_actor_and_reason(reissue, household, admin):
    reissue(household, "  门牌卡被雨水泡坏  ")

    (record,) = db.session.scalars(select(CardReissue)).all()
    assert record.household_id == household.id
    assert record.village_id == household.village_id
    assert record.actor_id == admin.id
    assert record.reason == "门牌卡被雨水泡坏"
    assert (record.old_version, record.new_version) == (1, 2)
    assert record.created_at is not None


def test_reissue_without_a_reason_records_a_default(client, admin_headers, household):
    response = client.post(f"/api/v1/households/{household.id}/qr/reissue", headers=admin_headers)

    assert response.status_code == 200
    (record,) = db.session.scalars(select(CardReissue)).all()
    assert record.reason


def test_reissue_refuses_an_over_long_reason(reissue, household):
    body = assert_problem(reissue(household, "x" * 501), 422, "validation_error")

    assert "reason" in body["errors"]
    assert db.session.scalars(select(CardReissue)).all() == []


@pytest.mark.parametrize("role", [INSPECTOR, STOREKEEPER, HOUSEHOLD])
def test_only_the_admin_reissues(reissue, make_user, token_for, household, payload_of, role):
    user = make_user(role, household=household if role == HOUSEHOLD else None)

    assert_problem(reissue(household, headers=token_for(user)), 403, "forbidden")
    assert db.session.scalars(select(CardReissue)).all() == []


def test_reissue_without_a_token_is_401(client, household):
    response = client.post(f"/api/v1/households/{household.id}/qr/reissue", json={})

    assert_problem(response, 401, "unauthorized")


def test_other_villages_staff_cannot_scan_read_or_reissue(
    client, scan, make_user, token_for, other_village, household, payload_of, reissue
):
    payload = payload_of(household)
    their_admin = token_for(make_user(ADMIN, of=other_village))
    their_inspector = token_for(make_user(INSPECTOR, of=other_village))

    assert_problem(scan(payload, headers=their_inspector), 422, "invalid_qr")
    assert_problem(scan(payload, headers=their_admin), 422, "invalid_qr")
    read = client.get(f"/api/v1/households/{household.id}", headers=their_inspector)
    assert "马秀英" not in assert_problem(read, 404, "not_found")["detail"]
    assert_problem(reissue(household, headers=their_admin), 404, "not_found")
    assert db.session.scalars(select(CardReissue)).all() == []
    assert scan(payload).status_code == 200


# The door page --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("马秀利", "马*利"),
        ("马利", "马*"),
        ("欧阳秀英", "欧**英"),
        ("马", "*"),
    ],
)
def test_names_are_masked_for_the_door(name, masked):
    assert mask_name(name) == masked


def test_door_page_shows_masked_name_and_balance_to_anyone(client, make_household, payload_of):
    household = make_household(name="马秀利", phone="13812345678", points=37)

    response = client.get(payload_of(household).removeprefix(BASE_URL))

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "马*利" in response.text
    assert "马秀利" not in response.text
    assert "13812345678" not in response.text
    assert re.search(r"data-balance[^>]*>\s*37\s*<", response.text)
    assert "MZ-01-0001" in response.text


def test_door_page_lists_the_last_ten_movements_in_words(client, household, payload_of):
    for n in range(1, 13):
        adjust(household.village_id, household.id, n, reason=f"第{n:02d}次调整", actor_id=None)
    db.session.commit()

    response = client.get(payload_of(household).removeprefix(BASE_URL), query_string=EN)

    assert response.status_code == 200
    assert response.text.count('class="why"') == 10
    for n in range(3, 13):
        assert f">+{n}</span>" in response.text
    assert ">+1</span>" not in response.text
    assert ">+2</span>" not in response.text
    # The door shows the kind of each movement, never the reason typed for it.
    assert "次调整" not in response.text
    assert response.text.count("Correction") == 10
    assert re.search(r"data-balance[^>]*>\s*78\s*<", response.text)


def test_door_page_of_a_moved_household_says_so(client, household, payload_of, admin_headers):
    client.patch(
        f"/api/v1/households/{household.id}", json={"status": "moved"}, headers=admin_headers
    )

    response = client.get(payload_of(household).removeprefix(BASE_URL), query_string=EN)

    assert response.status_code == 200
    assert "moved away" in response.text


def test_door_page_without_movements_says_so(client, household, payload_of):
    response = client.get(payload_of(household).removeprefix(BASE_URL), query_string=EN)

    assert response.status_code == 200
    assert "No movements yet" in response.text


def test_door_page_of_a_revoked_card_says_so_with_410(client, household, payload_of, reissue):
    old = payload_of(household)
    new = reissue(household).json["qr_payload"]

    response = client.get(old.removeprefix(BASE_URL), query_string=EN)

    assert response.status_code == 410
    assert response.mimetype == "text/html"
    assert "replaced" in response.text
    assert "马*英" not in response.text
    assert "data-balance" not in response.text
    assert client.get(new.removeprefix(BASE_URL)).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "not-a-card",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "x" * 200,
    ],
)
def test_door_page_of_garbage_says_it_is_not_a_valid_card(client, token):
    response = client.get(f"/q/{token}", query_string=EN)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "not a valid points card" in response.text
    assert "This page does not exist" not in response.text  # not the generic 404 page
    assert "Traceback" not in response.text


def test_door_page_of_a_forged_card_says_it_is_not_valid(client, household, payload_of):
    token = _flip(token_of(payload_of(household)), 19, 0)

    response = client.get(f"/q/{token}", query_string=EN)

    assert response.status_code == 404
    assert "not a valid points card" in response.text
    assert "马*英" not in response.text


def test_door_page_works_for_another_villages_card(
    client, make_household, other_village, make_user, token_for
):
    theirs = make_household(of=other_village, name="李四光", points=5)
    headers = token_for(make_user(ADMIN, of=other_village))
    payload = client.get(f"/api/v1/households/{theirs.id}", headers=headers).json["qr_payload"]

    response = client.get(payload.removeprefix(BASE_URL))

    assert response.status_code == 200
    assert "李*光" in response.text
    assert "李四光" not in response.text


def test_reissue_without_a_reason_records_it_in_chinese_alone(client, admin_headers, household):
    client.post(f"/api/v1/households/{household.id}/qr/reissue", headers=admin_headers)

    (record,) = db.session.scalars(select(CardReissue)).all()
    assert record.reason == "补发积分卡"
