"""What each journal kind is called, on pages and in exports: the one table of its words."""

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from app.ledger.models import JournalKind

JOURNAL_KIND_LABELS: dict[JournalKind, LazyString] = {
    JournalKind.INSPECTION: _l("Sorting inspection"),
    JournalKind.REDEMPTION: _l("Goods from the points shop"),
    JournalKind.ADJUSTMENT: _l("Correction"),
    JournalKind.REVERSAL: _l("Cancelled"),
    JournalKind.EXPIRY: _l("Points expired"),
    JournalKind.REPORT: _l("Problem report"),
    JournalKind.TRANSFER: _l("Household split or merge"),
    JournalKind.FORFEIT: _l("Forfeited after moving out"),
}


def journal_kind_label(kind: str) -> str:
    """Return a journal kind's words in the reader's language (an unknown kind as it is)."""
    try:
        return str(JOURNAL_KIND_LABELS[JournalKind(kind)])
    except ValueError:
        return kind
