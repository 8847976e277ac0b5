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
import re
import struct
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


def card_payload(household: Household) -> str:
    """Return the URL the household's QR encodes: <BASE_URL>/q/<token>."""
    return f"{base_url()}/q/{make_token(household)}"


def read_token(payload: str) -> tuple[int, int, int]:
    """Return (village id, household id, version) of a card payload, or raise InvalidQr."""
    match = _PAYLOAD.match(payload.strip()) if isinstance(payload, str) else None
    if match is None:
        raise InvalidQr("This is not a Green Points card.")
    token = match.group(1)
    raw = base64.urlsafe_b64decode(token + "=")
    # 27 characters hold 162 bits for 160: unless the spare two are zero, one card would
    # scan under four spellings, three of them altered.
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        raise InvalidQr("This is not a Green Points card.")
    body, tag = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    village_id, household_id, version = _LAYOUT.unpack(body)
    if not hmac.compare_digest(tag, _tag(village_id, body)):
        raise InvalidQr("This card's signature is not valid.")
    return village_id, household_id, version


def resolve_card(payload: str, village_id: int | None) -> Household:
    """Return the household of a card, checking signature, village and version.

    village_id is the scanning user's village; None for the public door page.
    """
    card_village, household_id, version = read_token(payload)
    if village_id is not None and card_village != village_id:
        raise InvalidQr("This card belongs to another village.")
    household = db.session.get(Household, household_id)
    if household is None or household.village_id != card_village:
        raise InvalidQr("This card's household does not exist.")
    if version < household.card_version:
        raise RevokedQr("This card was replaced by a newer one; use the new card.")
    if version > household.card_version:
        raise InvalidQr("This card's version is not valid.")
    return household


def _matrix(payload: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE)
    code.add_data(payload)
    code.make(fit=True)
    return code.get_matrix()  # includes the quiet zone


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
