"""A village's case rules: categories with their hours, points for a report, limits.

They are kept as one JSON column of the village's versioned rules (rule_sets.cases),
so a change is versioned and audited with the rest; none stored means the defaults.
"""

import json
from dataclasses import asdict, dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.db import db
from app.errors import ValidationFailed
from app.rules.models import RuleSet
from app.schemas import has_hidden_characters


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    hours: int


DEFAULT_CATEGORIES = (
    Category("overflow", "垃圾桶满溢", 24),
    Category("mixed", "收集点混投", 24),
    Category("dumping", "乱倒垃圾", 48),
    Category("broken_bin", "垃圾桶损坏", 72),
    Category("other", "其他", 72),
)
# The default categories' names in the reader's language; a village's own keep its words.
DEFAULT_NAMES = {
    "overflow": _l("Overflowing bin"),
    "mixed": _l("Mixed waste at a collection point"),
    "dumping": _l("Dumped rubbish"),
    "broken_bin": _l("Broken bin"),
    "other": _l("Other"),
}
DEFAULT_CATEGORIES_BY_CODE = {c.code: c for c in DEFAULT_CATEGORIES}
MAX_HOURS = 24 * 30
MAX_POINTS = 1000
MAX_CATEGORIES = 20


@dataclass(frozen=True)
class CaseRules:
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    points: int = 0
    daily_cap: int = 2
    confirm_days: int = 3

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def to_dict(self) -> dict:
        return {
            "categories": [asdict(c) for c in self.categories],
            "points": self.points,
            "daily_cap": self.daily_cap,
            "confirm_days": self.confirm_days,
        }


DEFAULT_RULES = CaseRules()


def category_name(category: Category) -> str:
    """A category's name for a page: a default one in the reader's language."""
    default = DEFAULT_NAMES.get(category.code)
    if default is not None and category.name == DEFAULT_CATEGORIES_BY_CODE[category.code].name:
        return str(default)
    return category.name


def make_case_rules(data: dict | None) -> CaseRules:
    """Check the rules' "cases" object (API.md) and return it; defaults for what is left out."""
    if data is None:
        return DEFAULT_RULES
    errors: dict[str, list[str]] = {}
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    if "categories" in data:
        categories = _categories(data["categories"], errors)
    numbers = {}
    for name, low, high in (
        ("points", 0, MAX_POINTS),
        ("daily_cap", 1, 100),
        ("confirm_days", 1, 30),
    ):
        value = data.get(name, getattr(DEFAULT_RULES, name))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[f"cases.{name}"] = [f"A whole number from {low} to {high}."]
        numbers[name] = value
    if errors:
        raise ValidationFailed("The case rules are not valid.", errors=errors)
    return CaseRules(categories=categories, **numbers)


def _categories(sent, errors: dict[str, list[str]]) -> tuple[Category, ...]:
    if not isinstance(sent, list) or not 1 <= len(sent) <= MAX_CATEGORIES:
        errors["cases.categories"] = [f"A list of 1 to {MAX_CATEGORIES} categories."]
        return DEFAULT_CATEGORIES
    categories: list[Category] = []
    for index, item in enumerate(sent):
        code = item.get("code") if isinstance(item, dict) else None
        name = item.get("name") if isinstance(item, dict) else None
        hours = item.get("hours") if isinstance(item, dict) else None
        if (
            not isinstance(code, str)
            or not code.isascii()
            or not code.replace("_", "").isalnum()
            or not 1 <= len(code) <= 32
            or not isinstance(name, str)
            or not 1 <= len(name.strip()) <= 50
            or has_hidden_characters(name)
            or isinstance(hours, bool)
            or not isinstance(hours, int)
            or not 1 <= hours <= MAX_HOURS
        ):
            errors[f"cases.categories.{index}"] = [
                f"code (letters, digits, _), name (1-50 characters), hours (1-{MAX_HOURS})."
            ]
            continue
        if any(c.code == code for c in categories):
            errors[f"cases.categories.{index}"] = [f"The code {code} is given twice."]
            continue
        categories.append(Category(code, name.strip(), hours))
    return tuple(categories)


def dump_case_rules(rules: CaseRules) -> str | None:
    return None if rules == DEFAULT_RULES else json.dumps(rules.to_dict(), ensure_ascii=False)


def parse_case_rules(text: str | None) -> CaseRules:
    return make_case_rules(json.loads(text)) if text else DEFAULT_RULES


def case_rules(village_id: int, moment: datetime | None = None) -> CaseRules:
    """The village's case rules in force (at a moment, by default now)."""
    query = select(RuleSet.cases).where(RuleSet.village_id == village_id)
    if moment is not None:
        query = query.where(RuleSet.created_at <= moment)
    text = db.session.scalar(query.order_by(RuleSet.version.desc()).limit(1))
    return parse_case_rules(text)
