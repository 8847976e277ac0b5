"""Door cards: signed, revocable QR tokens and their images.

A token is 20 bytes in URL-safe base64 (27 characters): the village id, the
household id and the card version, then 10 bytes of HMAC-SHA256 under a key
derived for that village from SECRET_KEY. Short, so the QR stays small and scans
from a worn paper card; unforgeable without the secret; and revocable, since a
reissue bumps the household's card version and older tokens stop resolving.
"""

import base64
import bisect
import functools
import hashlib
import hmac
import io
import ipaddress
import re
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import qrcode
import qrcode.base
import qrcode.constants
import qrcode.exceptions
import qrcode.util
from flask import current_app, has_request_context, request

from app.db import db
from app.errors import InvalidQr, NotFound, RevokedQr, ValidationFailed
from app.households.models import Household

_LAYOUT = struct.Struct(">IIH")  # village id, household id, card version
TAG_BYTES = 10
MAX_CARD_VERSION = 2**16 - 1  # the version is packed in two bytes
TOKEN_LENGTH = 27
_TOKEN = re.compile(r"[A-Za-z0-9_-]{27}")
# A full card URL (any host: cards outlive a change of address) or the bare token.
_PAYLOAD = re.compile(
    r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]+(?:/[^\s?#]*)?/q/)?"
    r"([A-Za-z0-9_-]{27})/?(?:[?#]\S*)?$"
)
# Error correction Q survives about a quarter of the code being worn or dirty.
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE = 4


def _village_key(village_id: int) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"greenpoints-card-key:%d" % village_id, hashlib.sha256).digest()


def _tag(village_id: int, body: bytes) -> bytes:
    return hmac.new(_village_key(village_id), b"card:" + body, hashlib.sha256).digest()[:TAG_BYTES]


def make_token(household: Household) -> str:
    """Return the signed token of the household's current card."""
    body = _LAYOUT.pack(household.village_id, household.id, household.card_version)
    raw = body + _tag(household.village_id, body)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def base_url() -> str:
    """Return where cards point: BASE_URL, else the address this request came to."""
    configured = current_app.config.get("BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.url_root.rstrip("/")
    raise ValidationFailed(
        "Set BASE_URL to the server's public address before printing "
        "cards, e.g. BASE_URL=http://192.168.1.10:5000"
    )


# What the address cards encode says about who can open it.
UNSET, LOOPBACK, PRIVATE, PUBLIC = "unset", "loopback", "private", "public"
SET_BASE_URL = (
    "Set BASE_URL to the address phones use to reach this server, e.g. "
    "BASE_URL=http://192.168.1.10:5000 (or the public https:// address), then restart it."
)


@dataclass(frozen=True)
class CardAddress:
    """The address printed cards encode (BASE_URL), and what kind of address it is."""

    url: str | None
    kind: str

    @property
    def printable(self) -> bool:
        return self.kind in (PRIVATE, PUBLIC)


def card_address() -> CardAddress:
    """Say where printed cards would point: unset, this machine only, a LAN, or public."""
    configured = (current_app.config.get("BASE_URL") or "").strip().rstrip("/")
    if not configured:
        return CardAddress(None, UNSET)
    host = (urlsplit(configured).hostname or "").lower()
    if host in ("", "localhost") or host.endswith(".localhost"):
        return CardAddress(configured, LOOPBACK)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return CardAddress(configured, PUBLIC)  # a name: whoever can resolve it
    if ip.is_loopback or ip.is_unspecified:
        return CardAddress(configured, LOOPBACK)
    if ip.is_private or ip.is_link_local:
        return CardAddress(configured, PRIVATE)
    return CardAddress(configured, PUBLIC)


class CardAddressUnreachable(ValidationFailed):
    """Cards would point nowhere a villager's phone can reach: BASE_URL is unset or loopback."""

    def __init__(self, address: CardAddress):
        where = address.url or "(unset)"
        super().__init__(
            f"Cards are not printed while BASE_URL is {where}: no phone could open them. "
            + SET_BASE_URL,
            errors={"BASE_URL": [f"Unset or a loopback address: {where}."]},
        )
        self.address = address


def printable_card_address() -> CardAddress:
    """Return the address cards may be printed with; refuse an unset or loopback BASE_URL."""
    address = card_address()
    if not address.printable:
        raise CardAddressUnreachable(address)
    return address


def card_payload(household: Household) -> str:
    """Return the URL the household's QR encodes: <BASE_URL>/q/<token>."""
    return f"{base_url()}/q/{make_token(household)}"


# Every card that is refused (garbled, forged, another village's, a household that is
# gone) gets the same words, so that the answer never confirms that a card is genuine.
NOT_A_CARD = "This is not a Green Points card of this village."


def read_token(payload: str) -> tuple[int, int, int]:
    """Return (village id, household id, version) of a card payload, or raise InvalidQr."""
    match = _PAYLOAD.match(payload.strip()) if isinstance(payload, str) else None
    if match is None:
        raise InvalidQr(NOT_A_CARD)
    token = match.group(1)
    raw = base64.urlsafe_b64decode(token + "=")
    # 27 characters hold 162 bits for 160: unless the spare two are zero, one card would
    # scan under four spellings, three of them altered.
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        raise InvalidQr(NOT_A_CARD)
    body, tag = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    village_id, household_id, version = _LAYOUT.unpack(body)
    if not hmac.compare_digest(tag, _tag(village_id, body)):
        raise InvalidQr(NOT_A_CARD)
    return village_id, household_id, version


def resolve_card(payload: str, village_id: int | None) -> Household:
    """Return the household of a card, checking signature, village and version.

    village_id is the scanning user's village; None for the public door page.
    """
    card_village, household_id, version = read_token(payload)
    if village_id is not None and card_village != village_id:
        raise InvalidQr(NOT_A_CARD)
    household = db.session.get(Household, household_id)
    if household is None or household.village_id != card_village:
        raise InvalidQr(NOT_A_CARD)
    if version < household.card_version:
        raise RevokedQr("This card was replaced by a newer one; use the new card.")
    if version > household.card_version:
        raise InvalidQr(NOT_A_CARD)
    return household


# The QR symbol, made quickly ------------------------------------------------------------
#
# qrcode picks the mask by building the whole symbol eight times in pure Python, about
# 7 ms a card: 14 s for a sheet of MAX_CARDS. Here the data bits are placed once and
# each mask is tried on rows held as integers, scored by the same rules as
# qrcode.util.lost_point (the penalties of ISO/IEC 18004 as qrcode counts them): the
# symbol is module for module the one qrcode makes, in a quarter of the time.

_RUN = re.compile("00000+|11111+")
# 1:1:3:1:1, dark light dark light dark, like a finder pattern.
_FINDER_CORE = "1011101"


@dataclass(frozen=True)
class _Layout:
    """Where one QR version's modules go, worked out once per version."""

    size: int
    # The data modules, in the order the data stream fills them.
    cells: tuple[tuple[int, int], ...]
    # Rows as integers, bit size-1-c for column c, so format(row, "0{size}b") reads left
    # to right. The fixed patterns with every format module light: what a mask is scored on.
    scored: tuple[int, ...]
    # Per mask: the fixed patterns with that mask's format information.
    fixed: tuple[tuple[int, ...], ...]
    # Per mask: the data modules it inverts.
    inverted: tuple[tuple[int, ...], ...]


def _rows(modules: list[list]) -> tuple[int, ...]:
    return tuple(int("".join("1" if m else "0" for m in row), 2) for row in modules)


@functools.cache
def _layout(version: int) -> _Layout:
    code = qrcode.QRCode(version=version, error_correction=ERROR_CORRECTION)
    size = code.modules_count = version * 4 + 17
    code.modules = [[None] * size for _ in range(size)]
    code.setup_position_probe_pattern(0, 0)
    code.setup_position_probe_pattern(size - 7, 0)
    code.setup_position_probe_pattern(0, size - 7)
    code.setup_position_adjust_pattern()
    code.setup_timing_pattern()
    blank = [row[:] for row in code.modules]

    def patterns(test: bool, mask: int) -> list[list]:
        code.modules = [row[:] for row in blank]
        code.setup_type_info(test, mask)
        if version >= 7:
            code.setup_type_number(test)
        return code.modules

    scored = patterns(True, 0)
    # The zigzag of qrcode's map_data: column pairs from the right, up then down.
    cells: list[tuple[int, int]] = []
    row, step = size - 1, -1
    for column in range(size - 1, 0, -2):
        if column <= 6:
            column -= 1  # the vertical timing pattern is skipped
        while 0 <= row < size:
            cells += [(row, c) for c in (column, column - 1) if scored[row][c] is None]
            row += step
        row -= step
        step = -step
    inverted = []
    for mask in range(8):
        flips = qrcode.util.mask_func(mask)
        rows = [0] * size
        for r, c in cells:
            if flips(r, c):
                rows[r] |= 1 << (size - 1 - c)
        inverted.append(tuple(rows))
    return _Layout(
        size=size,
        cells=tuple(cells),
        scored=_rows(scored),
        fixed=tuple(_rows(patterns(False, mask)) for mask in range(8)),
        inverted=tuple(inverted),
    )


class _Bits:
    """The data stream as text of 0 and 1: what qrcode's BitBuffer holds, built in C."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0

    def put(self, number: int, length: int) -> None:
        self.parts.append(format(number, f"0{length}b"))
        self.length += length


@functools.cache
def _generator(degree: int) -> tuple[int, ...]:
    """Return the logarithms of the Reed-Solomon generator's coefficients after the first."""
    poly = qrcode.base.Polynomial([1], 0)
    for i in range(degree):
        poly = poly * qrcode.base.Polynomial([1, qrcode.base.gexp(i)], 0)
    return tuple(qrcode.base.glog(poly[i]) for i in range(1, degree + 1))


def _correction(data: list[int], degree: int) -> list[int]:
    """Return the error correction codewords of one block (polynomial division, as a shift
    register)."""
    exp, log = qrcode.base.EXP_TABLE, qrcode.base.LOG_TABLE
    generator = _generator(degree)
    remainder = [0] * degree
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = remainder[1:] + [0]
        if factor:
            shift = log[factor]
            remainder = [
                r ^ exp[(shift + g) % 255] for r, g in zip(remainder, generator, strict=True)
            ]
    return remainder


def _best_fit(data_list: list) -> int:
    """Return the smallest version that holds the data, as qrcode's best_fit does."""
    start = 1
    while True:
        sizes = qrcode.util.mode_sizes_for_version(start)
        bits = _Bits()
        for data in data_list:
            bits.put(data.mode, 4)
            bits.put(len(data), sizes[data.mode])
            data.write(bits)
        version = bisect.bisect_left(
            qrcode.util.BIT_LIMIT_TABLE[ERROR_CORRECTION], bits.length, start
        )
        if version == 41:
            raise qrcode.exceptions.DataOverflowError("The payload does not fit a QR code.")
        # The length fields grow at versions 10 and 27: look again from there if crossed.
        if sizes is qrcode.util.mode_sizes_for_version(version):
            return version
        start = version


def _codewords(version: int, data_list: list) -> bytes:
    """Return the symbol's codewords, data and correction interleaved, as qrcode's
    create_data does."""
    bits = _Bits()
    for data in data_list:
        bits.put(data.mode, 4)
        bits.put(len(data), qrcode.util.length_in_bits(data.mode, version))
        data.write(bits)
    blocks = qrcode.base.rs_blocks(version, ERROR_CORRECTION)
    limit = sum(block.data_count * 8 for block in blocks)
    stream = "".join(bits.parts)
    if len(stream) > limit:
        raise qrcode.exceptions.DataOverflowError("The payload does not fit a QR code.")
    stream += "0" * min(limit - len(stream), 4)  # the terminator
    stream += "0" * (-len(stream) % 8)
    pads = (limit - len(stream)) // 8
    stream += "".join(
        format(qrcode.util.PAD0 if i % 2 == 0 else qrcode.util.PAD1, "08b") for i in range(pads)
    )
    stream_bytes = int(stream, 2).to_bytes(limit // 8, "big")
    data_blocks, ec_blocks, offset = [], [], 0
    for block in blocks:
        part = list(stream_bytes[offset : offset + block.data_count])
        offset += block.data_count
        data_blocks.append(part)
        ec_blocks.append(_correction(part, block.total_count - block.data_count))
    out: list[int] = []
    for group in (data_blocks, ec_blocks):
        for i in range(max(map(len, group))):
            out += [block[i] for block in group if i < len(block)]
    return bytes(out)


def _penalty(rows: list[int], size: int) -> int:
    """Score a masked symbol as qrcode.util.lost_point does: lower is easier to read."""
    lines = [format(row, f"0{size}b") for row in rows]
    lines += ["".join(column) for column in zip(*lines, strict=True)]
    # One text of every row and column: the line breaks end every run and pattern.
    text = "\n".join(lines)
    found = _RUN.findall(text)
    runs = sum(map(len, found)) - 2 * len(found)
    finder_like = 0
    at = text.find(_FINDER_CORE)
    while at >= 0:
        # Light on either side of the core; "\n" ends a line, so no window crosses one.
        finder_like += text.startswith("0000", at + 7) + (
            at >= 4 and text.startswith("0000", at - 4)
        )
        at = text.find(_FINDER_CORE, at + 1)
    finder_like *= 40
    full = (1 << size) - 1
    blocks = 0
    for upper, lower in zip(rows, rows[1:], strict=False):
        same = ~(upper ^ lower) & full
        level = ~(upper ^ (upper >> 1))
        blocks += (same & (same >> 1) & level & (full >> 1)).bit_count()
    dark = sum(row.bit_count() for row in rows)
    balance = int(abs(float(dark) / size**2 * 100 - 50) / 5) * 10
    return runs + 3 * blocks + finder_like + balance


def qr_rows(payload: str) -> list[str]:
    """Return the QR of a payload as rows of "1" (dark) and "0", quiet zone included."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION)
    code.add_data(payload)
    version = _best_fit(code.data_list)
    layout = _layout(version)
    size = layout.size
    data = _codewords(version, code.data_list)
    stream = format(int.from_bytes(data, "big"), f"0{len(data) * 8}b")
    placed = [0] * size
    cells = layout.cells
    for match in re.finditer("1", stream):
        r, c = cells[match.start()]
        placed[r] |= 1 << (size - 1 - c)
    best, lowest = 0, -1
    for mask in range(8):
        inverted = layout.inverted[mask]
        rows = [a | (b ^ m) for a, b, m in zip(layout.scored, placed, inverted, strict=True)]
        score = _penalty(rows, size)
        if lowest < 0 or score < lowest:
            best, lowest = mask, score
    fixed, inverted = layout.fixed[best], layout.inverted[best]
    margin = "0" * QUIET_ZONE
    blank = "0" * (size + 2 * QUIET_ZONE)
    body = [
        margin + format(a | (b ^ m), f"0{size}b") + margin
        for a, b, m in zip(fixed, placed, inverted, strict=True)
    ]
    return [blank] * QUIET_ZONE + body + [blank] * QUIET_ZONE


def _matrix(payload: str) -> list[list[bool]]:
    return [[m == "1" for m in row] for row in qr_rows(payload)]  # includes the quiet zone


def qr_png(payload: str, *, box_size: int = 10) -> bytes:
    """Return the QR of a payload as a PNG."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE, box_size=box_size)
    code.add_data(payload)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg(payload: str, *, module_mm: float = 1.0) -> bytes:
    """Return the QR of a payload as a small SVG: one path, white background."""
    matrix = _matrix(payload)
    size = len(matrix)
    runs = []
    for y, row in enumerate(matrix):
        x = 0
        while x < size:
            if row[x]:
                start = x
                while x < size and row[x]:
                    x += 1
                runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    side = size * module_mm
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side:g}mm" height="{side:g}mm" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f"<title>{escape(payload)}</title>"
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>\n'
    ).encode()


def household_by_ref(village_id: int, ref: dict) -> Household:
    """Return the household an API call names: by household_id, or by its scanned card."""
    if ref.get("payload") is not None:
        return resolve_card(ref["payload"], village_id)
    household = db.session.get(Household, ref["household_id"])
    if household is None or household.village_id != village_id:
        raise NotFound("No such household.")
    return household
