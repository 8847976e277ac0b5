"""The rules page's case rules: categories with their hours, points, cap, confirm days.

The page posts them with the rest of the rules through the same put_rules action;
cases_from_form() shapes its inputs as the API's "cases" object, and
case_rule_errors() names the page's input behind each of the rules' errors.
"""

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.actions import FormInvalid, int_or_text
from app.cases.models import ACCEPTED, DISPATCHED, RESOLVED, Case
from app.db import db
from app.rules.cases import MAX_CATEGORIES, MAX_HOURS, CaseRules, category_name

# A case that still waits for someone: its category must stay.
OPEN_STATES = (DISPATCHED, ACCEPTED, RESOLVED)
NUMBERS = {
    "points": _l("Points for a valid report"),
    "daily_cap": _l("Rewarded reports per household per day"),
    "confirm_days": _l("Days a reporter has to confirm"),
}
NEW = "new"


class CategoryInUse(FormInvalid):
    """A category ticked for removal that open cases still use."""

    def __init__(self, errors: dict[str, Any], labels: dict[str, str]):
        super().__init__(errors)
        self.labels = labels


def open_cases_by_category(village_id: int) -> dict[str, int]:
    """How many open cases each category has: those may not be removed."""
    rows = db.session.execute(
        select(Case.category, func.count(Case.id))
        .where(Case.village_id == village_id, Case.state.in_(OPEN_STATES))
        .group_by(Case.category)
    )
    return {category: count for category, count in rows}


def cases_from_form(form: Mapping[str, str], current: CaseRules, village_id: int) -> dict | None:
    """The page's case inputs as the API's "cases" object; None when the form has none.

    Each category keeps its code; its name and hours are as typed (an emptied name
    keeps the old one); a ticked "remove" leaves it out, unless open cases use it;
    a new row is added when any of its boxes is filled.
    """
    if "case_points" not in form:
        return None
    categories: list[dict[str, Any]] = []
    in_use = open_cases_by_category(village_id)
    for category in current.categories:
        code = category.code
        if form.get(f"case_remove-{code}"):
            if in_use.get(code):
                label = _("Category “%(name)s”", name=category_name(category))
                message = _(
                    "%(n)d open cases use it: it can be removed once they are closed.",
                    n=in_use[code],
                )
                name = f"case_remove-{code}"
                raise CategoryInUse({name: [message]}, {name: label})
            continue
        categories.append(
            {
                "code": code,
                "name": form.get(f"case_name-{code}", "").strip() or category.name,
                "hours": int_or_text(form.get(f"case_hours-{code}", str(category.hours))),
            }
        )
    if _has_new_row(form):
        new = {
            name: form.get(f"case_{NEW}_{name}", "").strip() for name in ("code", "name", "hours")
        }
        categories.append({**new, "hours": int_or_text(new["hours"])})
    return {
        "categories": categories,
        **{name: int_or_text(form.get(f"case_{name}", "")) for name in NUMBERS},
    }


def _number_message(value: Any) -> str:
    return (
        _("The number is out of range.") if isinstance(value, int) else _("Enter a whole number.")
    )


def _has_new_row(form: Mapping[str, str]) -> bool:
    return any(form.get(f"case_{NEW}_{name}", "").strip() for name in ("code", "name", "hours"))


def case_rule_errors(
    errors: Mapping[str, Any], form: Mapping[str, str], sent: dict, current: CaseRules
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The case rules' errors by the page's input, and each input's label.

    An error of a category is put on the box to correct, named with the category
    ("Hours of “Dumped rubbish”"); the new row's code given twice says so.
    """
    by_input: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    names = {c.code: category_name(c) for c in current.categories}
    sent_categories = sent.get("categories", [])
    kept = len(sent_categories) - (1 if _has_new_row(form) else 0)
    for field in errors:
        parts = field.split(".")
        if len(parts) == 2 and parts[1] in NUMBERS:
            name = f"case_{parts[1]}"
            by_input[name] = [_number_message(sent.get(parts[1]))]
            labels[name] = str(NUMBERS[parts[1]])
            continue
        if not (len(parts) == 3 and parts[2].isdigit() and int(parts[2]) < len(sent_categories)):
            by_input["cases"] = [_("Keep between 1 and %(n)d categories.", n=MAX_CATEGORIES)]
            labels["cases"] = _("Categories of reports")
            continue
        index = int(parts[2])
        item = sent_categories[index]
        old = index < kept
        shown = names[item["code"]] if old else str(item["name"] or item["code"])
        hours = item["hours"]
        if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
            name = f"case_hours-{item['code']}" if old else f"case_{NEW}_hours"
            by_input[name] = [_number_message(hours)]
            labels[name] = _("Hours of “%(name)s”", name=shown)
        elif old:
            name = f"case_name-{item['code']}"
            by_input[name] = [_("The text is too long or too short.")]
            labels[name] = _("Name of “%(name)s”", name=shown)
        elif not 1 <= len(str(item["name"])) <= 50:
            name = f"case_{NEW}_name"
            by_input[name] = [_("The text is too long or too short.")]
            labels[name] = _("Name of the new category")
        else:
            name = f"case_{NEW}_code"
            by_input[name] = [_("Letters, digits and _, not used by another category.")]
            labels[name] = _("Code of the new category")
    return by_input, labels
