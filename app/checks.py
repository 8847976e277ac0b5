"""`ledger verify` for the whole village: the ledger, and every business total against it."""

from app.catalogue.services import verify_stock
from app.inspections.services import verify_inspections
from app.ledger.services import VerifyReport, verify
from app.redemptions.services import verify_redemptions


def verify_all(village_id: int | None = None) -> VerifyReport:
    """Check the ledger's rules, then inspections, redemptions and stock against it."""
    report = verify(village_id)
    problems = [
        *report.problems,
        *verify_inspections(village_id),
        *verify_redemptions(village_id),
        *verify_stock(village_id),
    ]
    return VerifyReport(
        ok=not problems,
        transactions=report.transactions,
        postings=report.postings,
        problems=problems,
    )
