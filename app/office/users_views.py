"""The admin's page of users: add one, disable or enable it, give it a password or grids.

Its routes join the auth blueprint (app/auth/views.py), so that their endpoints keep
their names; each form is the users API's action (app/office/users_api.py), once per
form key.
"""

import math

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.actions import Action, FormInvalid, int_or_text, page_error
from app.auth import services, throttle
from app.auth.decorators import role_required
from app.auth.models import ADMIN, HOUSEHOLD, ROLES
from app.auth.schemas import has_control_or_invisible
from app.auth.views import bp
from app.errors import DomainError, refusal_message
from app.households.services import household_id_by_code
from app.office.users_api import create_user, unlock_user, update_user
from app.scope import current_scope
from app.villages.services import list_grids

# What the users page says about a field the schema refused.
FIELD_REFUSALS = {
    "username": _l("A username has 1 to 64 characters, none of them control or invisible."),
    "password": _l("A password has 8 to 256 characters, none of them control or invisible."),
    "role": _l("Choose one of the roles."),
}


def _shown(values: dict) -> dict:
    """The form's values to show again, without the characters that were refused."""
    return {
        name: "".join(char for char in value if not has_control_or_invisible(char))[:64]
        for name, value in values.items()
    }


# What the users page calls the fields of a refused password or grid form.
PATCH_FIELDS = {
    "password": _l("New password (at least 8 characters)"),
    "grid_ids": _l("Grids"),
}


def _users_page(message: str | None = None, status: int = 200, values: dict | None = None):
    scope = current_scope()
    users = services.list_users(scope.village_id)
    grids = list_grids(scope.village_id)
    return render_template(
        "auth/users.html",
        users=users,
        roles=ROLES,
        message=message or refusal_message(request.args.get("refused")),
        values=values or {},
        done=request.args.get("done"),
        grids=grids,
        grid_names={grid.id: grid.name for grid in grids},
        user_grids=services.grid_ids_by_user(scope.village_id),
        failures=throttle.failed_logins([user.username for user in users]),
        locked={
            username: max(1, math.ceil(seconds / 60))
            for username, seconds in throttle.locked_logins([u.username for u in users]).items()
        },
    ), status


def _patch_page_error(error: DomainError):
    """Show the users page again with what was refused, in the reader's language."""
    if error.code != "validation_error":
        return _users_page(page_error(error, PATCH_FIELDS), error.status)
    fields = error.errors if isinstance(error, FormInvalid) else error.extra.get("errors") or {}
    if "grid_ids" in fields:
        return _users_page(_("Choose grids of this village."), error.status)
    if "password" in fields:
        return _users_page(str(FIELD_REFUSALS["password"]), error.status)
    return _users_page(_("Check the form and try again."), error.status)


def _user_form(the_action: Action, form: dict, done: str, user_id: int):
    """Run a user's form on the users page: back to the page, saying what was done or refused."""
    return the_action.submit(
        form,
        key=request.form.get("key"),
        done=lambda _result: redirect(url_for("auth.users_page", done=done)),
        refused=lambda error: redirect(url_for("auth.users_page", refused=error.code)),
        invalid=_patch_page_error,
        user_id=user_id,
    )


@bp.post("/admin/users/<id:user_id>/password")
@role_required(ADMIN)
def user_password(user_id: int):
    """Give a user a new password: its sessions and tokens end (audited)."""
    return _user_form(
        update_user, {"password": request.form.get("password", "")}, "password", user_id
    )


@bp.post("/admin/users/<id:user_id>/unlock")
@role_required(ADMIN)
def user_unlock(user_id: int):
    """Unlock a login: forget its failed logins, so it may log in at once (audited)."""
    return _user_form(unlock_user, {}, "unlocked", user_id)


@bp.post("/admin/users/<id:user_id>/grids")
@role_required(ADMIN)
def user_grids(user_id: int):
    """Assign an inspector to the ticked grids; none ticked: the whole village."""
    grid_ids = [int_or_text(value) for value in request.form.getlist("grid_id")]
    return _user_form(update_user, {"grid_ids": grid_ids}, "grids", user_id)


@bp.get("/admin/users")
@role_required(ADMIN)
def users_page():
    """The village's users, a form to add one, and a button to disable or enable each."""
    return _users_page()


@bp.post("/admin/users")
@role_required(ADMIN)
def user_create():
    """Add a user (the API's create_user); a household user names its household by code."""
    form = request.form
    values = {
        "username": form.get("username", "").strip(),
        "role": form.get("role", ""),
        "household": form.get("household", "").strip(),
    }
    data = {key: values[key] for key in ("username", "role")} | {
        "password": form.get("password", "")
    }
    if values["household"]:
        household_id = None
        if len(values["household"]) <= 32 and not has_control_or_invisible(values["household"]):
            household_id = household_id_by_code(current_scope().village_id, values["household"])
        if household_id is None:
            message = _("No household with this code in the village.")
            return _users_page(message, 422, _shown(values))
        data["household_id"] = str(household_id)
    elif values["role"] == HOUSEHOLD:
        return _users_page(_("A household login needs the household's code."), 422, values)
    return create_user.submit(
        data,
        key=form.get("key"),
        done=lambda _user: redirect(url_for("auth.users_page", done="created")),
        refused=lambda error: redirect(url_for("auth.users_page", refused=error.code)),
        invalid=lambda error: _users_page(_create_page_error(error), error.status, _shown(values)),
    )


def _create_page_error(error: DomainError) -> str:
    """What the users page says about a user it could not add."""
    if isinstance(error, services.UsernameTaken):
        return _("This username is taken; choose another.")
    if isinstance(error, FormInvalid):
        named = [str(text) for name, text in FIELD_REFUSALS.items() if name in error.errors]
        return " ".join(named) or _("Check the form and try again.")
    return page_error(error)


@bp.post("/admin/users/<id:user_id>/active")
@role_required(ADMIN)
def user_active(user_id: int):
    """Disable or enable a user (the API's update_user); an admin cannot disable themself."""
    active = request.form.get("active") == "1"
    if not active and user_id == current_scope().user_id:
        return _users_page(_("You cannot disable yourself."), 422)
    done = "enabled" if active else "disabled"
    return _user_form(update_user, {"active": "true" if active else "false"}, done, user_id)
