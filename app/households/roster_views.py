"""The admin's roster pages: import a roster (Excel or CSV), print door cards, a card's QR."""

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.actions import int_or_text
from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.db import run_write
from app.errors import DomainError, page_message
from app.households import cards
from app.households.importer import (
    Imported,
    import_roster,
    roster_template_csv,
    roster_template_xlsx,
)
from app.households.printing import card_sheet_pdf
from app.households.roster_file import RosterInvalid
from app.households.services import get_household
from app.schemas import MAX_INT
from app.scope import current_scope
from app.villages.services import list_grids
from app.writes import fingerprint, page_key, run_idempotent

bp = Blueprint("roster", __name__)

MAX_SKIPPED_SHOWN = 500


@bp.route("/admin/households/import", methods=["GET", "POST"])
@role_required(ADMIN)
def household_import():
    """Upload a roster: every new row or none, with a report of each bad or skipped row.

    The form's key, made when it was shown, makes a resent form import once: the
    copy gets the first answer back (a redirect to the counts). The first answer
    itself is the page listing the rows skipped (already in the village, examples).
    """
    problems = None
    args = request.args
    shown = request.method == "GET"
    imported = args.get("imported", type=int) if shown else None
    skipped_count = args.get("skipped", type=int) if shown else None
    result: Imported | None = None
    status = 200
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            problems = {"file": [_("Choose a CSV or XLSX file.")]}
            status = 422
        else:
            data = upload.read()
            user = g.user
            village_id, actor_id = user.village_id, user.id
            outcome: dict[str, Imported] = {}

            def produce():
                created = import_roster(current_scope().village(), data, actor_id=actor_id)
                outcome["result"] = created
                return redirect(
                    url_for(
                        "roster.household_import",
                        imported=len(created),
                        skipped=len(created.skipped),
                    )
                )

            key = page_key(request.form.get("key", ""))
            try:
                if key is None:  # a form shown before forms had keys
                    response = run_write(produce)
                else:
                    digest = fingerprint(b"import", str(actor_id).encode(), data)
                    response = run_idempotent(village_id, key, digest, produce)
                # A resent form (or a copy that lost the race) gets the stored redirect.
                if "result" not in outcome or response.headers.get("Idempotent-Replayed"):
                    return response
                result = outcome["result"]
                imported, skipped_count = len(result), len(result.skipped)
            except RosterInvalid as error:
                problems = error.page_errors
                status = 422
            except DomainError as error:  # the key sent again with another file
                if error.status >= 500:
                    raise
                problems = {"file": [page_message(error)]}
                status = error.status
    return render_template(
        "households/import.html",
        problems=problems,
        imported=imported,
        skipped_count=skipped_count,
        skipped=result.skipped[:MAX_SKIPPED_SHOWN] if result is not None else [],
    ), status


@bp.get("/admin/households/import/template.<fmt>")
@role_required(ADMIN)
def roster_template(fmt: str):
    """A roster to fill in, as CSV or XLSX."""
    if fmt == "csv":
        return Response(
            roster_template_csv(),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="roster-template.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            roster_template_xlsx(),
            mimetype=("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            headers={"Content-Disposition": 'attachment; filename="roster-template.xlsx"'},
        )
    return render_template(
        "errors/error.html", status=404, message=_("This page does not exist.")
    ), 404


def _cards_page(status: int = 200):
    """The card printing page, saying which address the cards would encode."""
    return render_template(
        "households/cards.html",
        grids=list_grids(current_scope().village_id),
        address=cards.card_address(),
    ), status


@bp.get("/admin/cards")
@role_required(ADMIN)
def card_print():
    """Choose a grid and print its cards; refused while BASE_URL cannot reach a phone."""
    return _cards_page()


def _ids(texts: list[str]) -> list[int]:
    """The ids a query string names; text that can name no row (², 10**30) is left out."""
    numbers = (int_or_text(text) for text in texts)
    return [n for n in numbers if isinstance(n, int) and 0 < n <= MAX_INT]


@bp.get("/admin/cards.pdf")
@role_required(ADMIN)
def card_print_pdf():
    """The chosen grid's cards (or only its reissued ones) as a PDF."""
    grid_ids = _ids(request.args.getlist("grid_id")[:1])
    grid_id = grid_ids[0] if grid_ids else None
    ids = _ids(request.args.getlist("id"))
    try:
        pdf, filename = card_sheet_pdf(
            current_scope().village_id,
            grid_id=grid_id,
            household_ids=ids or None,
            reissued_only=request.args.get("reissued") == "1",
        )
    except cards.CardAddressUnreachable as error:
        return _cards_page(error.status)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@bp.get("/admin/households/<id:household_id>/qr.svg")
@role_required(ADMIN)
def household_qr(household_id: int):
    """The card's QR, for the detail page."""
    household = get_household(current_scope().village_id, household_id)
    return Response(
        cards.qr_svg(cards.card_payload(household)),
        mimetype="image/svg+xml",
        headers={"Cache-Control": "private, no-store"},
    )
