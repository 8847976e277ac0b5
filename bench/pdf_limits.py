"""Time the PDFs at their documented limits: `.venv/bin/python -m bench.pdf_limits`.

The card sheet of MAX_CARDS households and the public board of a village of 25,000
households, both rendered without a database (the rendering is what costs), each
timed twice (the first run also loads the fonts).
"""

import time
from datetime import date

from app import create_app
from app.households.printing import MAX_CARDS
from app.households.sheets import Card, render_card_sheet
from app.reports.board import Board, Listed, Ranked, render_board_pdf
from app.reports.dashboard import Figures, GridFigures

BOARD_HOUSEHOLDS = 25_000
GRIDS = 30


def cards() -> list[Card]:
    """MAX_CARDS cards whose payloads look like real ones (a LAN address and a token)."""
    return [
        Card(
            "马庄村",
            f"MZ-01-{n:04d}",
            f"马庄村1组 幸福路{n}号",
            "东一网格",
            f"http://192.168.1.10:5000/q/AAAAAQAAAAEAAQ{n:013d}",
        )
        for n in range(MAX_CARDS)
    ]


def board() -> Board:
    """A month in which no household of a 25,000-household village was inspected."""
    first, last = date(2026, 10, 1), date(2026, 10, 31)
    per_grid = BOARD_HOUSEHOLDS // GRIDS
    grids = [GridFigures(n, n, f"第{n}网格", per_grid, 0, 0, 0) for n in range(1, GRIDS + 1)]
    return Board(
        "马庄村",
        "2026-10",
        first,
        last,
        Figures(first, last, 0, 0, BOARD_HOUSEHOLDS, 0, 0),
        [Ranked(None, g) for g in grids],
        [Ranked(None, g) for g in grids],
        [],
        [
            Listed(f"MZ-{n % GRIDS + 1:02d}-{n:05d}", "马*英", f"第{n % GRIDS + 1}网格", 0)
            for n in range(BOARD_HOUSEHOLDS)
        ],
        [],
    )


def timed(label: str, render) -> None:
    for attempt in (1, 2):
        start = time.perf_counter()
        pdf = render()
        print(f"{label} (run {attempt}): {time.perf_counter() - start:.2f} s, {len(pdf):,} bytes")


def main() -> None:
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    sheet, notice = cards(), board()
    with app.test_request_context():
        timed(f"card sheet, {MAX_CARDS} cards", lambda: render_card_sheet(sheet))
        timed(f"board, {BOARD_HOUSEHOLDS:,} households", lambda: render_board_pdf(notice))


if __name__ == "__main__":
    main()
