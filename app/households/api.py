"""Households API: the roster, door cards, scanning, import."""

from collections.abc import Callable

from flask import Response
from flask_smorest import Blueprint

from app.actions import action, location_of, reading
from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD, STAFF
from app.db import db
from app.households import cards, changes, services
from app.households.importer import import_roster
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
    MergeIn,
    MoveBackIn,
    MoveOutIn,
    ReissueIn,
    ScanIn,
    ScanOut,
    SplitIn,
)
from app.ledger.expiry import expiring_by_household
from app.scope import Scope, current_scope
from app.villages.models import Village

blp = Blueprint(
    "households_api",
    __name__,
    url_prefix="/api/v1",
    description="Households (户) and their QR door cards.",
)


@action(
    blp,
    "/households",
    roles=(ADMIN,),
    schema=HouseholdIn,
    out=HouseholdOut,
    status=201,
    location=location_of("households_api.get_household", household_id="household.id"),
)
def create_household(scope: Scope, data: dict) -> services.HouseholdResult:
    """Add a household; it gets its code, card and points account."""
    return services.add_household(scope.village_id, data, actor_id=scope.user_id)


@reading(blp, "/households", roles=STAFF, query=HouseholdQuery, out=HouseholdList)
def list_households(args):
    """The village's households, filtered by grid and searched (q) by name, code, address,
    phone, or the name's pinyin, full or initials (zhouchangshun, zcs)."""
    scope = current_scope()
    rows, total = services.search_households(scope.village_id, **args)
    soon = expiring_by_household(scope.village_id, scope.today(), [h.id for h, _ in rows])
    return {
        "items": [services.HouseholdResult(h, balance, soon.get(h.id)) for h, balance in rows],
        "total": total,
        "page": args["page"],
        "per_page": args["per_page"],
    }


@reading(blp, "/households/<id:household_id>", roles=STAFF, out=HouseholdOut)
def get_household(household_id: int):
    """One household, with its balance."""
    return services.with_balance(services.get_household(current_scope().village_id, household_id))


@action(
    blp,
    "/households/<id:household_id>",
    method="PATCH",
    roles=(ADMIN,),
    schema=HouseholdPatch,
    out=HouseholdOut,
)
def update_household(scope: Scope, data: dict, household_id: int) -> services.HouseholdResult:
    """Change a household's name, address, grid, phone, members or status."""
    household = services.get_household(scope.village_id, household_id)
    return services.with_balance(services.update_household(household, data, actor_id=scope.user_id))


def door_qr(household_id: int, draw: Callable[[str], bytes], mimetype: str) -> Response:
    """The household's door card QR as draw() makes it, kept by no shared cache."""
    household = services.get_household(current_scope().village_id, household_id)
    return Response(
        draw(cards.card_payload(household)),
        mimetype=mimetype,
        headers={"Cache-Control": "private, no-store"},
    )


@reading(blp, "/households/<id:household_id>/qr.png", roles=STAFF, content_type="image/png")
def household_qr_png(household_id: int):
    """The door card's QR as a PNG; it decodes to qr_payload.

    It encodes `<BASE_URL>/q/<token>`. While BASE_URL is unset it encodes the address
    this request came to, which a villager's phone may not reach: set BASE_URL before
    a card is printed or shown to be scanned (the card pages refuse until it is set).
    """
    return door_qr(household_id, cards.qr_png, "image/png")


@reading(blp, "/households/<id:household_id>/qr.svg", roles=STAFF, content_type="image/svg+xml")
def household_qr_svg(household_id: int):
    """The door card's QR as an SVG; it decodes to qr_payload.

    It encodes `<BASE_URL>/q/<token>`. While BASE_URL is unset it encodes the address
    this request came to, which a villager's phone may not reach.
    """
    return door_qr(household_id, cards.qr_svg, "image/svg+xml")


@action(
    blp,
    "/households/<id:household_id>/qr/reissue",
    roles=(ADMIN,),
    schema=ReissueIn,
    out=HouseholdOut,
)
def reissue_card(scope: Scope, data: dict, household_id: int) -> services.HouseholdResult:
    """Replace a lost or damaged card; the old card now answers revoked_qr."""
    household = services.get_household(scope.village_id, household_id)
    return services.with_balance(
        services.reissue_card(household, actor_id=scope.user_id, reason=data["reason"])
    )


@blp.post("/scan")
@role_required(*STAFF)
@blp.arguments(ScanIn())
@blp.response(200, ScanOut)
@blp.alt_response(410, description="revoked_qr: the card was reissued")
def scan(args):
    """Read a door card: the household, its balance, and whether it was inspected today."""
    household = cards.resolve_card(args["payload"], current_scope().village_id)
    return {
        "household": services.with_balance(household),
        "inspected_today": services.inspected_today(household),
    }


@reading(blp, "/me", roles=(HOUSEHOLD,), out=HouseholdOut)
def me():
    """The calling resident's own household, with its balance."""
    scope = current_scope()
    return services.with_balance(services.get_household(scope.village_id, scope.own_household_id()))


@reading(
    blp,
    "/households/cards.pdf",
    roles=(ADMIN,),
    query=CardsQuery,
    content_type="application/pdf",
    responses={404: "not_found: no such grid in this village"},
)
def card_sheet(args):
    """The door cards of a grid, or of chosen households, as an A4 PDF."""
    pdf, filename = card_sheet_pdf(
        current_scope().village_id, grid_id=args.get("grid_id"), household_ids=args.get("ids")
    )
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@action(
    blp,
    "/households/import",
    roles=(ADMIN,),
    schema=ImportIn,
    out=ImportOut,
    status=201,
    arguments_location="files",
)
def import_households(scope: Scope, files: dict) -> dict:
    """Import a roster (multipart field file: CSV or XLSX): all rows or none."""
    village = db.session.get_one(Village, scope.village_id)
    created = import_roster(village, files["file"].read(), actor_id=scope.user_id)
    return {"imported": len(created), "skipped": len(created.skipped), "items": created}


# Households over time (app/households/changes.py).
REFUSED_INACTIVE = {409: "household_inactive: merged, moved out or not active"}


@action(
    blp,
    "/households/<id:household_id>/split",
    roles=(ADMIN,),
    schema=SplitIn,
    out=HouseholdOut,
    status=201,
    location=location_of("households_api.get_household", household_id="household.id"),
    responses={409: "insufficient_points (more than its balance), or household_inactive"},
)
def split_household(scope: Scope, data: dict, household_id: int) -> services.HouseholdResult:
    """Split a new household off this one (分户): its own card and account; `points` move
    from this household in one journal of kind transfer, never more than its balance."""
    return changes.split(scope.village_id, household_id, data, actor_id=scope.user_id)


@action(
    blp,
    "/households/<id:household_id>/merge",
    roles=(ADMIN,),
    schema=MergeIn,
    out=HouseholdOut,
    responses=REFUSED_INACTIVE,
)
def merge_household(scope: Scope, data: dict, household_id: int) -> services.HouseholdResult:
    """Merge this household into another (合户): its whole balance moves in one journal,
    its card is revoked, it is closed (status merged); its history stays readable."""
    return changes.merge(scope.village_id, household_id, data, actor_id=scope.user_id)


@action(
    blp,
    "/households/<id:household_id>/move-out",
    roles=(ADMIN,),
    schema=MoveOutIn,
    out=HouseholdOut,
    responses=REFUSED_INACTIVE,
)
def move_out_household(scope: Scope, data: dict, household_id: int) -> services.HouseholdResult:
    """Record that the household moved out (迁出) on a day: from then no grade and no report
    credit (409 moved_out); it may redeem until the forfeit date (default 28 days on), when
    `flask ledger expire` moves what is left to the expiry account (journal kind forfeit)."""
    return changes.move_out(scope.village_id, household_id, data, actor_id=scope.user_id)


@action(
    blp,
    "/households/<id:household_id>/move-back",
    roles=(ADMIN,),
    schema=MoveBackIn,
    out=HouseholdOut,
    responses={409: "household_inactive (it has not moved out), or forfeit_passed"},
)
def move_back_household(scope: Scope, data: dict, household_id: int) -> services.HouseholdResult:
    """Undo a move out before its forfeit date: the household is active again."""
    return changes.move_back(scope.village_id, household_id, data, actor_id=scope.user_id)
