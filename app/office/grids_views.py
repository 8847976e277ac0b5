"""The admin's grids page: each grid with who works it and its households; add, rename.

The forms are the API's actions (POST and PATCH /api/v1/grids), once per form key.
"""

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from app.actions import page_error, redirect_to, refused_to
from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.errors import DomainError, refusal_message
from app.office.grids_api import create_grid, rename_grid
from app.office.services import grid_overview, whole_village_inspectors
from app.scope import current_scope
from app.villages import services

bp = Blueprint("villages", __name__)

GRID_FIELDS = {"name": _l("Grid name")}
# The services' own field messages, in the reader's language.
SERVICE_MESSAGES = {"This name is taken.": _l("Another grid has this name.")}


def _message(error: DomainError) -> str:
    errors = error.extra.get("errors") or {}
    for messages in errors.values():
        for message in messages:
            if message in SERVICE_MESSAGES:
                return str(SERVICE_MESSAGES[message])
    return page_error(error, {k: str(v) for k, v in GRID_FIELDS.items()})


def _grids_page(*, message: str | None = None, status: int = 200, typed: str = ""):
    village_id = current_scope().village_id
    return render_template(
        "villages/grids.html",
        grids=grid_overview(village_id),
        whole_village=whole_village_inspectors(village_id),
        message=message or refusal_message(request.args.get("refused")),
        saved=request.args.get("saved"),
        typed=typed,
    ), status


@bp.route("/admin/grids", methods=["GET", "POST"])
@role_required(ADMIN)
def grids():
    """The village's grids, and a form to add one."""
    if request.method == "GET":
        return _grids_page()
    return create_grid.submit(
        request.form,
        key=request.form.get("key"),
        done=redirect_to("villages.grids", saved="added"),
        refused=refused_to("villages.grids"),
        invalid=lambda error: _grids_page(
            message=_message(error), status=error.status, typed=request.form.get("name", "")
        ),
    )


@bp.post("/admin/grids/<id:grid_id>")
@role_required(ADMIN)
def grid_rename(grid_id: int):
    """Rename a grid (the API's PATCH); a resent form renames once."""
    services.get_grid(current_scope().village_id, grid_id)
    return rename_grid.submit(
        request.form,
        key=request.form.get("key"),
        done=redirect_to("villages.grids", saved="renamed"),
        refused=refused_to("villages.grids"),
        invalid=lambda error: _grids_page(message=_message(error), status=error.status),
        grid_id=grid_id,
    )
