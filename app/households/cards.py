"""Door cards: signed, revocable QR tokens and their images.

A token is 20 bytes in URL-safe base64 (27 characters): the village id, the
household id and the card version, then 10 bytes of HMAC-SHA256 under a key
derived for that village from SECRET_KEY. Short, so the QR stays small and scans
from a worn paper card; unforgeable without the secret; and revocable, since a
reissue bumps the household's card version and older tokens stop resolving.
"""

import base64
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
import qrcode.constants
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


# The QR symbol ---------------------------------------------------------------------------
#
# Left to choose, qrcode builds the symbol once per mask (eight times) and keeps the one
# its penalty score likes best: about 6 ms a card, 12 s for a sheet of MAX_CARDS. A fixed
# mask builds it once (0.8 ms). Any mask reads the same; the score only prefers symbols
# without large blocks, long runs or finder-like patterns. Mask 2 (every third column)
# scored best on card payloads: over 300 card URLs under four BASE_URLs, the lowest
# average and the lowest worst penalty of the eight (qrcode's own score), and the best of
# all eight for a third of the cards.
MASK_PATTERN = 2


def _symbol(payload: str, box_size: int = 10) -> qrcode.QRCode:
    """Return the QR of a payload: the smallest version that holds it, error correction Q."""
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECTION,
        border=QUIET_ZONE,
        box_size=box_size,
        mask_pattern=MASK_PATTERN,
    )
    code.add_data(payload)
    code.make(fit=True)
    return code


def qr_rows(payload: str) -> list[str]:
    """Return the QR of a payload as rows of "1" (dark) and "0", quiet zone included."""
    return ["".join("1" if m else "0" for m in row) for row in _symbol(payload).get_matrix()]


def qr_png(payload: str, *, box_size: int = 10) -> bytes:
    """Return the QR of a payload as a PNG."""
    buffer = io.BytesIO()
    image = _symbol(payload, box_size).make_image(fill_color="black", back_color="white")
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def qr_svg(payload: str, *, module_mm: float = 1.0) -> bytes:
    """Return the QR of a payload as a small SVG: one path, white background."""
    matrix = _symbol(payload).get_matrix()  # includes the quiet zone
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
