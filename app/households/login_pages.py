"""Pages for a household's logins: the admin enables or disables one on the household's
page, and a family member changes their own password from /my.

Both post the same fields as the API (app/households/logins.py, PATCH /api/v1/users/{id}).
"""

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.actions import FormInvalid, page_error
from app.auth.decorators import role_required, start_session
from app.auth.models import ADMIN, HOUSEHOLD, User
from app.auth.views import too_many_tries
from app.errors import DomainError, RateLimited, refusal_message
from app.households.logins import (
    WrongPassword,
    change_password,
    counted_as_a_login_try,
    household_login,
)
from app.households.services import get_household
from app.office.users_api import update_user
from app.scope import current_scope

bp = Blueprint("household_logins", __name__)

# What the password page calls its fields when one is refused.
PASSWORD_FIELDS = {
    "current_password": _l("Current password"),
    "new_password": _l("New password (at least 8 characters)"),
}


@bp.post("/admin/households/<id:household_id>/logins/<id:user_id>/active")
@role_required(ADMIN)
def household_login_active(household_id: int, user_id: int):
    """Disable or enable one of the household's logins (the API's update_user); audited."""
    scope = current_scope()
    household_login(get_household(scope.village_id, household_id).id, user_id)
    active = request.form.get("active") == "1"

    def back(**shown: Any):
        return redirect(url_for("households.household_detail", household_id=household_id, **shown))

    return update_user.submit(
        {"active": "true" if active else "false"},
        key=request.form.get("key"),
        done=lambda _result: back(login_done="enabled" if active else "disabled"),
        refused=lambda error: back(login_error=error.code),
        invalid=lambda error: back(login_error=error.code),
        user_id=user_id,
    )


def _password_page(
    message: str | None = None, status: int = 200, headers: dict[str, str] | None = None
):
    return (
        render_template(
            "households/my_password.html",
            message=message or _refusal(request.args.get("refused")),
        ),
        status,
        headers or {},
    )


def _refusal(code: str | None) -> str | None:
    if code == "wrong_password":
        return _("The current password is wrong.")
    return refusal_message(code)


def _invalid(error: DomainError):
    if isinstance(error, WrongPassword):
        return _password_page(_refusal(error.code), error.status)
    if isinstance(error, FormInvalid) and "new_password" in error.errors:
        return _password_page(
            _("A password has 8 to 256 characters, none of them control or invisible."),
            error.status,
        )
    return _password_page(page_error(error, PASSWORD_FIELDS), error.status)


def _changed(user: User):
    """This browser goes on under the login's new session; its other sessions have ended."""
    start_session(user)
    return redirect(url_for("households.my_points", password_changed=1))


@bp.route("/my/password", methods=["GET", "POST"])
@role_required(HOUSEHOLD)
def my_password():
    """A family member changes their own password: the current one, the new one twice."""
    if request.method == "GET":
        return _password_page()
    form = request.form
    if form.get("new_password", "") != form.get("new_password_again", ""):
        return _password_page(_("The two new passwords are not the same."), 422)
    try:
        return counted_as_a_login_try(_change_password)()
    except RateLimited as refusal:
        return _password_page(too_many_tries(refusal), 429, refusal.extra["headers"])


def _change_password():
    form = request.form
    return change_password.submit(
        {name: form.get(name, "") for name in ("current_password", "new_password")},
        key=form.get("key"),
        done=_changed,
        refused=lambda error: redirect(url_for("household_logins.my_password", refused=error.code)),
        invalid=_invalid,
    )
