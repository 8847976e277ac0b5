"""Collection points (收集点) and their QR cards: BASE_URL/s/<token>, signed like door cards."""

import base64
import hashlib
import hmac
import re
import struct

from flask import current_app
from sqlalchemy import func, select

from app.audit.services import record
from app.cases.models import BEFORE, Case, CasePhoto, Station
from app.db import db
from app.errors import InvalidQr, NotFound, RevokedQr, ValidationFailed
from app.households.cards import base_url
from app.photos import store_photo
from app.villages.models import Grid

STATION_CREATED = "station_created"
_LAYOUT = struct.Struct(">IIH")  # village id, station id, card version
TAG_BYTES = 10
_PAYLOAD = re.compile(
    r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s]+(?:/[^\s?#]*)?/s/)?([A-Za-z0-9_-]{27})/?$"
)


def _tag(village_id: int, body: bytes) -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    key = hmac.new(secret, b"greenpoints-station-key:%d" % village_id, hashlib.sha256).digest()
    return hmac.new(key, b"station:" + body, hashlib.sha256).digest()[:TAG_BYTES]


def station_token(station: Station) -> str:
    body = _LAYOUT.pack(station.village_id, station.id, station.card_version)
    return base64.urlsafe_b64encode(body + _tag(station.village_id, body)).decode().rstrip("=")


def station_payload(station: Station) -> str:
    """The URL a collection point's QR encodes: <BASE_URL>/s/<token>."""
    return f"{base_url()}/s/{station_token(station)}"


def resolve_station(payload: str) -> Station:
    """Return the station of a QR payload or token, or raise InvalidQr / RevokedQr."""
    match = _PAYLOAD.match(payload.strip()) if isinstance(payload, str) else None
    if match is None:
        raise InvalidQr("This is not a Green Points collection point card.")
    token = match.group(1)
    raw = base64.urlsafe_b64decode(token + "=")
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        raise InvalidQr("This is not a Green Points collection point card.")
    body, tag = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    village_id, station_id, version = _LAYOUT.unpack(body)
    if not hmac.compare_digest(tag, _tag(village_id, body)):
        raise InvalidQr("This is not a Green Points collection point card.")
    station = db.session.get(Station, station_id)
    if station is None or station.village_id != village_id or version > station.card_version:
        raise InvalidQr("This is not a Green Points collection point card.")
    if version < station.card_version:
        raise RevokedQr("This card was replaced by a newer one.")
    return station


def village_grid(village_id: int, grid_id: int, field: str = "grid_id") -> Grid:
    """A grid of the village, or 422 naming the field (another village's grid is unknown)."""
    grid = db.session.get(Grid, grid_id)
    if grid is None or grid.village_id != village_id:
        raise ValidationFailed("No such grid in this village.", errors={field: ["Unknown grid."]})
    return grid


def create_station(
    village_id: int,
    *,
    name: str,
    grid_id: int,
    lat: float | None = None,
    lng: float | None = None,
    actor_id: int | None = None,
) -> Station:
    """Add a collection point to a grid, with a QR card of its own."""
    village_grid(village_id, grid_id)
    taken = db.session.scalar(
        select(Station.id).where(Station.village_id == village_id, Station.name == name)
    )
    if taken is not None:
        raise ValidationFailed(
            "A collection point of this name exists.", errors={"name": ["Already taken."]}
        )
    number = (
        db.session.scalar(select(func.max(Station.number)).where(Station.village_id == village_id))
        or 0
    ) + 1
    station = Station(
        village_id=village_id, grid_id=grid_id, number=number, name=name, lat=lat, lng=lng
    )
    db.session.add(station)
    db.session.flush()
    record(village_id, actor_id, STATION_CREATED, "station", station.id, {"name": name})
    return station


def station_code(station: Station, village_code: str) -> str:
    return f"{village_code}-S{station.number:02d}"


def list_stations(village_id: int) -> list[Station]:
    return list(
        db.session.scalars(
            select(Station).where(Station.village_id == village_id).order_by(Station.number)
        )
    )


def get_station(village_id: int, station_id: int) -> Station:
    station = db.session.get(Station, station_id)
    if station is None or station.village_id != village_id:
        raise NotFound("No such collection point.")
    return station


def add_reporters_photo(case: Case, data: bytes) -> CasePhoto:
    """The before-photo of a case reported at a collection point's QR, with no login."""
    photo = CasePhoto(
        case_id=case.id,
        village_id=case.village_id,
        stage=BEFORE,
        filename=store_photo(data, field="photo"),
        actor_id=None,
    )
    db.session.add(photo)
    db.session.flush()
    return photo
