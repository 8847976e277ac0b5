"""The township's board: its villages' participation on A4, no household named."""

from xml.sax.saxutils import escape

from flask_babel import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer

from app.households.sheets import register_fonts
from app.reports.board import percent
from app.reports.pdf import a4_pdf, data_table, paragraph_styles


def render_township_board(township_name: str, month: str, rows: list[dict]) -> bytes:
    """Return the month's villages ranked by participation, as an A4 PDF."""
    register_fonts()
    styles = paragraph_styles()
    width = A4[0] - 36 * mm
    ranked = sorted(rows, key=lambda r: (-r["participation_rate"], r["code"]))
    story: list = [
        Paragraph(
            escape(_("%(township)s · villages %(month)s", township=township_name, month=month)),
            styles["title"],
        ),
        Paragraph(
            escape(_("Villages by participation, then their sorting accuracy.")), styles["lead"]
        ),
        Spacer(1, 4 * mm),
        data_table(
            [_("Rank"), _("Village"), _("Households"), _("Participation"), _("Sorting accuracy")],
            [
                [
                    rank,
                    row["name"],
                    row["households"],
                    percent(row["participation_rate"]),
                    percent(row["accuracy"]),
                ]
                for rank, row in enumerate(ranked, start=1)
            ]
            or [["—", _("No villages yet."), "", "", ""]],
            [0.1 * width, 0.36 * width, 0.16 * width, 0.19 * width, 0.19 * width],
            (0, 2, 3, 4),
            styles,
        ),
    ]
    return a4_pdf(story, f"{township_name} {month}")
