"""The monthly settlement of a village's shop: what the goods redeemed cost, to be paid.

Goods redeemed in the month count at the cost each line kept when it was made;
a redemption cancelled in the month takes its lines back out, at the same kept cost,
whichever month it was made in. So a month once signed never changes, and a
cancellation in the same month nets to nothing.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape

from flask_babel import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle
from sqlalchemy import func, select

from app.catalogue.labels import yuan
from app.db import db
from app.errors import ValidationFailed
from app.households.sheets import register_fonts
from app.redemptions.models import Redemption, RedemptionLine
from app.reports.dashboard import month_bounds
from app.reports.pdf import a4_pdf, data_table, paragraph_styles
from app.scope import utc_bounds, village_today, village_zone

MONTH = re.compile(r"(\d{4})-(\d{2})")
# The months whose cost per point prices the outstanding points.
COST_MONTHS = 3


@dataclass
class SettlementLine:
    good_id: int
    name: str
    units: int = 0
    points: int = 0
    cost_cents: int = 0


@dataclass
class Settlement:
    month: str
    village_id: int
    items: list[SettlementLine] = field(default_factory=list)

    @property
    def total_units(self) -> int:
        return sum(line.units for line in self.items)

    @property
    def total_points(self) -> int:
        return sum(line.points for line in self.items)

    @property
    def total_cost_cents(self) -> int:
        return sum(line.cost_cents for line in self.items)


def this_month(village_id: int) -> str:
    """Return the village's month now, as YYYY-MM."""
    return village_today(village_id).strftime("%Y-%m")


def parse_month(text: str) -> tuple[int, int]:
    """Return (year, month) of YYYY-MM, or refuse it as a validation error."""
    match = MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise ValidationFailed(
            "Give the month as YYYY-MM.", errors={"month": ["A month as YYYY-MM."]}
        )
    return int(match.group(1)), int(match.group(2))


def shift(year: int, month: int, by: int) -> tuple[int, int]:
    """Return the month by months after (before, when negative) year-month."""
    index = year * 12 + month - 1 + by
    return index // 12, index % 12 + 1


def _bounds(village_id: int, year: int, month: int) -> tuple[datetime, datetime]:
    first, last = month_bounds(year, month)
    return utc_bounds(village_zone(village_id), first, last)


def _sums(village_id: int, moment, start: datetime, end: datetime) -> dict:
    units = func.sum(RedemptionLine.quantity)
    points = func.sum(RedemptionLine.line_points)
    cost = func.sum(RedemptionLine.cost_cents * RedemptionLine.quantity)
    return {
        good_id: (name, int(u), int(p), int(c))
        for good_id, name, u, p, c in db.session.execute(
            select(RedemptionLine.good_id, func.min(RedemptionLine.name), units, points, cost)
            .join(Redemption, Redemption.id == RedemptionLine.redemption_id)
            .where(Redemption.village_id == village_id, moment >= start, moment < end)
            .group_by(RedemptionLine.good_id)
        )
    }


def settlement(village_id: int, year: int, month: int) -> Settlement:
    """Return the village's goods redeemed in the month by good, cancellations netted out."""
    start, end = _bounds(village_id, year, month)
    made = _sums(village_id, Redemption.created_at, start, end)
    cancelled = _sums(village_id, Redemption.cancelled_at, start, end)
    result = Settlement(f"{year:04d}-{month:02d}", village_id)
    for good_id in sorted(made.keys() | cancelled.keys()):
        name, units, points, cost = made.get(good_id, (None, 0, 0, 0))
        other, back_units, back_points, back_cost = cancelled.get(good_id, (None, 0, 0, 0))
        line = SettlementLine(
            good_id, name or other or "", units - back_units, points - back_points, cost - back_cost
        )
        if line.units or line.points or line.cost_cents:
            result.items.append(line)
    result.items.sort(key=lambda line: (-line.cost_cents, line.name))
    return result


def cost_per_point(village_id: int, year: int, month: int) -> float:
    """Return the fen one redeemed point cost over the COST_MONTHS months ending with month."""
    points = cost = 0
    for back in range(COST_MONTHS):
        settled = settlement(village_id, *shift(year, month, -back))
        points += settled.total_points
        cost += settled.total_cost_cents
    return cost / points if points > 0 else 0.0


def owed_cents(outstanding: int, per_point: float) -> int:
    """Return what the outstanding points would cost in goods, in whole fen."""
    return round(outstanding * per_point)


def render_settlement_pdf(
    settled: Settlement, *, village_name: str, township_name: str | None, owed: dict
) -> bytes:
    """Return the settlement as an A4 PDF with lines for the three signatures."""
    register_fonts()
    styles = paragraph_styles()
    width = A4[0] - 36 * mm
    story: list = [
        Paragraph(
            escape(
                _(
                    "%(village)s · shop settlement %(month)s",
                    village=village_name,
                    month=settled.month,
                )
            ),
            styles["title"],
        ),
        Paragraph(
            escape(
                _(
                    "Goods redeemed in the month, cancellations netted out, at the cost "
                    "in force when each was redeemed."
                )
            ),
            styles["lead"],
        ),
        Spacer(1, 4 * mm),
    ]
    rows = [[line.name, line.units, line.points, yuan(line.cost_cents)] for line in settled.items]
    rows.append(
        [
            _("Total"),
            settled.total_units,
            settled.total_points,
            yuan(settled.total_cost_cents),
        ]
    )
    story.append(
        data_table(
            [_("Good"), _("Units"), _("Points"), _("Cost (yuan)")],
            rows,
            [0.46 * width, 0.16 * width, 0.18 * width, 0.2 * width],
            (1, 2, 3),
            styles,
        )
    )
    story += [
        Spacer(1, 5 * mm),
        Paragraph(
            escape(
                _(
                    "Outstanding points: %(points)d; at %(rate)s fen a point (last three "
                    "months) the village owes %(owed)s yuan in goods.",
                    points=owed["outstanding"],
                    rate=format(owed["cost_per_point_cents"], ".2f"),
                    owed=yuan(owed["outstanding_cost_cents"]),
                )
            ),
            styles["base"],
        ),
        Spacer(1, 14 * mm),
    ]
    signers = [_("Storekeeper"), _("Village committee"), township_name or _("Township")]
    signatures = Table(
        [
            [
                Paragraph(escape(_("Signed for: %(who)s", who=who)), styles["base"])
                for who in signers
            ],
            ["", "", ""],
            [Paragraph(escape(_("Date:")), styles["base"]) for _who in signers],
        ],
        colWidths=[width / 3] * 3,
        rowHeights=[None, 16 * mm, None],
    )
    signatures.setStyle(TableStyle([("LINEBELOW", (0, 1), (-1, 1), 0.6, "#333333")]))
    story.append(signatures)
    return a4_pdf(story, f"Settlement {settled.month}")
