"""The admin's page of one household: its card, balance, statement, grades, logins and the
forms that change it over time. Its forms' views (here, in views.py and change_views.py)
show it again with a refusal named.
"""

from typing import Any

from flask import render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from app.db import db
from app.errors import refusal_message
from app.households import cards
from app.households.changes import DEFAULT_FORFEIT_DAYS, days_left
from app.households.logins import household_logins
from app.households.models import Household
from app.ledger.labels import journal_kind_label
from app.ledger.services import household_account, statement
from app.scope import current_scope
from app.villages.services import get_grid, list_grids


def movement_words(line) -> str:
    """Say in plain words why points moved."""
    words = journal_kind_label(line.kind)
    return _("%(kind)s: %(memo)s", kind=words, memo=line.memo) if line.memo else words


def change_context(household: Household, balance: int) -> dict[str, Any]:
    """What the household page shows about its changes over time, and its forms' defaults."""
    scope = current_scope()
    args = request.args
    today = scope.today()
    merged_here = list(
        db.session.scalars(
            select(Household)
            .where(Household.merged_into_id == household.id)
            .order_by(Household.code)
        )
    )
    merged_into = (
        db.session.get(Household, household.merged_into_id) if household.merged_into_id else None
    )
    split_new_id = args.get("split_new", type=int)
    split_new = db.session.get(Household, split_new_id) if split_new_id is not None else None
    if split_new is not None and split_new.village_id != scope.village_id:
        split_new = None
    return {
        "change_grids": list_grids(scope.village_id),
        "change_today": today,
        "change_days_left": days_left(household, today),
        "change_balance": balance,
        "forfeit_days": DEFAULT_FORFEIT_DAYS,
        "merged_here": merged_here,
        "merged_into": merged_into,
        "split_new": split_new,
        "change_done": args.get("changed"),
        "change_message": refusal_message(args.get("change_error")),
    }


def detail_page(
    household: Household,
    *,
    reissue_message: str | None = None,
    adjust_message: str | None = None,
    login_message: str | None = None,
    void_message: str | None = None,
    change_message: str | None = None,
    status: int = 200,
):
    """The household's page; a form's refusal is named by its code in the query, never text."""
    from app.inspections.services import list_inspections

    scope = current_scope()
    account = household_account(household.id)
    inspections, _total = list_inspections(scope.village_id, household_id=household.id, limit=20)
    logins = household_logins(household.id)
    args = request.args
    created = args.get("login_created")
    changes = change_context(household, account.balance)
    if change_message:
        changes["change_message"] = change_message
    return render_template(
        "households/detail.html",
        **changes,
        household=household,
        grid=get_grid(scope.village_id, household.grid_id),
        logins=logins,
        login_created=created if created in {login.username for login in logins} else None,
        adjusted=args.get("adjusted", type=int),
        pending=args.get("pending", type=int),
        balance=account.balance,
        lines=statement(account.id, limit=100),
        address=cards.card_address(),
        words=movement_words,
        reissue_message=reissue_message or refusal_message(args.get("reissue_error")),
        adjust_message=adjust_message or refusal_message(args.get("adjust_error")),
        login_message=login_message or refusal_message(args.get("login_error")),
        inspections=inspections,
        voided=args.get("voided", type=int),
        void_message=void_message or refusal_message(args.get("void_error")),
    ), status
