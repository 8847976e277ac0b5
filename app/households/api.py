"""Households API: the roster, door cards, scanning, import."""

from flask import Response, g, url_for
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD, STAFF
from app.db import db
from app.errors import NotFound, ValidationFailed
from app.households import cards, services
from app.households.importer import import_roster
from app.households.models import Household
from app.households.printing import card_sheet_pdf
from app.households.schemas import (
    CardsQuery,
    HouseholdIn,
    HouseholdList,
    HouseholdOut,
    HouseholdPatch,
    HouseholdQuery,
    ImportIn,
    ImportOut,
    ReissueIn,
    ScanIn,
    ScanOut,
)
from app.ledger.services import household_balance
from app.villages.models import Village
from app.villages.services import get_grid
from app.writes import write_endpoint

blp = Blueprint(
    "households_api",
    __name__,
    url_prefix="/api/v1",
    description="Households (户) and their QR door cards.",
)


def household_out(household: Household, balance: int | None = None) -> dict:
    """The API's view of a household: its fields, balance and card payload."""
    if balance is None:
        balance = household_balance(household.id)
    return {
        "id": household.id,
        "code": household.code,
        "name": household.name,
        "address": household.address,
        "grid_id": household.grid_id,
        "phone": household.phone,
        "members": household.members,
        "status": household.status,
        "card_version": household.card_version,
        "balance": balance,
        "qr_payload": cards.card_payload(household),
    }


def _created(household: Household):
    return (
        household_out(household),
        201,
        {"Location": url_for("households_api.get_household", household_id=household.id)},
    )


@blp.post("/households")
@role_required(ADMIN)
@write_endpoint
@blp.arguments(HouseholdIn)
@blp.response(201, HouseholdOut)
def create_household(args):
    """Add a household; it gets its code, card and points account."""
    village = db.session.get(Village, g.user.village_id)
    try:
        grid = get_grid(village.id, args["grid_id"])
    except NotFound:
        raise ValidationFailed(
            "No such grid in this village.", errors={"grid_id": ["No such grid in this village."]}
        ) from None
    household = services.create_household(
        village,
        grid,
        args["name"],
        args["address"],
        phone=args.get("phone"),
        members=args.get("members"),
        actor_id=g.user.id,
    )
    return _created(household)


@blp.get("/households")
@role_required(*STAFF)
@blp.arguments(HouseholdQuery, location="query")
@blp.response(200, HouseholdList)
def list_households(args):
    """The village's households, filtered by grid and searched by name, code, address
    or phone."""
    rows, total = services.search_households(g.user.village_id, **args)
    return {
        "items": [household_out(h, balance) for h, balance in rows],
        "total": total,
        "page": args["page"],
        "per_page": args["per_page"],
    }


@blp.get("/households/<id:household_id>")
@role_required(*STAFF)
@blp.response(200, HouseholdOut)
def get_household(household_id: int):
    """One household, with its balance."""
    return household_out(services.get_household(g.user.village_id, household_id))


@blp.patch("/households/<id:household_id>")
@role_required(ADMIN)
@write_endpoint
@blp.arguments(HouseholdPatch)
@blp.response(200, HouseholdOut)
def update_household(args, household_id: int):
    """Change a household's name, address, grid, phone, members or status."""
    household = services.get_household(g.user.village_id, household_id)
    return household_out(services.update_household(household, args, actor_id=g.user.id))


@blp.get("/households/<id:household_id>/qr.png")
@role_required(*STAFF)
@blp.response(200, content_type="image/png")
def household_qr_png(household_id: int):
    """The door card's QR as a PNG; it decodes to qr_payload."""
    household = services.get_household(g.user.village_id, household_id)
    return Response(
        cards.qr_png(cards.card_payload(household)),
        mimetype="image/png",
        headers={"Cache-Control": "private, no-store"},
    )


@blp.get("/households/<id:household_id>/qr.svg")
@role_required(*STAFF)
@blp.response(200, content_type="image/svg+xml")
def household_qr_svg(household_id: int):
    """The door card's QR as an SVG; it decodes to qr_payload."""
    household = services.get_household(g.user.village_id, household_id)
    return Response(
        cards.qr_svg(cards.card_payload(household)),
        mimetype="image/svg+xml",
        headers={"Cache-Control": "private, no-store"},
    )


@blp.post("/households/<id:household_id>/qr/reissue")
@role_required(ADMIN)
@write_endpoint
@blp.arguments(ReissueIn)
@blp.response(200, HouseholdOut)
def reissue_card(args, household_id: int):
    """Replace a lost or damaged card; the old card now answers revoked_qr."""
    household = services.get_household(g.user.village_id, household_id)
    services.reissue_card(household, actor_id=g.user.id, reason=args["reason"])
    return household_out(household)


@blp.post("/scan")
@role_required(*STAFF)
@blp.arguments(ScanIn)
@blp.response(200, ScanOut)
@blp.alt_response(410, description="revoked_qr: the card was reissued")
def scan(args):
    """Read a door card: the household, its balance, and whether it was inspected today."""
    household = cards.resolve_card(args["payload"], g.user.village_id)
    return {
        "household": household_out(household),
        "inspected_today": services.inspected_today(household),
    }


@blp.get("/me")
@role_required(HOUSEHOLD)
@blp.response(200, HouseholdOut)
def me():
    """The calling resident's own household, with its balance."""
    return household_out(services.get_household(g.user.village_id, g.user.household_id))


@blp.get("/households/cards.pdf")
@role_required(ADMIN)
@blp.arguments(CardsQuery, location="query")
@blp.response(200, content_type="application/pdf")
@blp.alt_response(404, description="not_found: no such grid in this village")
def card_sheet(args):
    """The door cards of a grid, or of chosen households, as an A4 PDF."""
    pdf, filename = card_sheet_pdf(
        g.user.village_id, grid_id=args.get("grid_id"), household_ids=args.get("ids")
    )
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@blp.post("/households/import")
@role_required(ADMIN)
@write_endpoint
@blp.arguments(ImportIn, location="files")
@blp.response(201, ImportOut)
def import_households(files):
    """Import a roster (multipart field file: CSV or XLSX): all rows or none."""
    village = db.session.get(Village, g.user.village_id)
    created = import_roster(village, files["file"].read(), actor_id=g.user.id)
    return {"imported": len(created), "items": created}
