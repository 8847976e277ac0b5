"""What each stock movement kind is called, on the stock page and in the export, and how
a cost in fen reads in yuan (the stock page, the settlement, the township's page)."""

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from app.catalogue.models import CANCEL, REDEMPTION, RESTOCK, STOCKTAKE, WRITEOFF

MOVEMENT_KIND_LABELS: dict[str, LazyString] = {
    RESTOCK: _l("Stock in"),
    REDEMPTION: _l("Out, redeemed"),
    CANCEL: _l("Back, redemption cancelled"),
    STOCKTAKE: _l("Stocktake"),
    WRITEOFF: _l("Written off"),
}


def movement_kind_label(kind: str) -> str:
    """Return a movement kind's words in the reader's language (an unknown kind as it is)."""
    label = MOVEMENT_KIND_LABELS.get(kind)
    return kind if label is None else str(label)


def yuan(cents: int) -> str:
    """Show fen as yuan with two decimals."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"
