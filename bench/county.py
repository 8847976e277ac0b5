"""`make bench-county` (issue 32): reads of a county beside the same reads of one village.

Seeds two PostgreSQL databases the same way (bench/county_seed.py): the county
(BENCH_COUNTY_VILLAGES villages in BENCH_COUNTY_TOWNSHIPS townships) and a county of
one village as large as each of the county's. Both are served by gunicorn at once;
each read goes one request at a time, alternating between the two servers so that the
machine's noise hits both alike, and the median of BENCH_COUNTY_READS is kept. Then
`ledger verify` over the whole county and over one village. bench/results-county.md
gets the figures and the goals table.
"""

import http.client
import http.cookies
import os
import re
import statistics
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, text

from app.db import db
from app.households.models import Household
from app.ledger.verify import verify as verify_all
from app.scope import village_today
from app.townships.months import count_months
from bench.county_seed import County, seed_county, username
from bench.seed import PASSWORD
from bench.server import Server, log_in, request
from bench.settings import ROOT, ServerConfig

if TYPE_CHECKING:
    from bench.run import Postgres

# Goals (issue 32).
VILLAGE_RATIO = 1.5
TOWNSHIP_RATIO = 3.0
TOWNSHIP_SECONDS = 1.0
VERIFY_RATE = 200_000
VILLAGE_VERIFY_SECONDS = 2.0


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass
class CountySettings:
    villages: int = field(default_factory=lambda: _int("BENCH_COUNTY_VILLAGES", 300))
    townships: int = field(default_factory=lambda: _int("BENCH_COUNTY_TOWNSHIPS", 10))
    households: int = field(default_factory=lambda: _int("BENCH_COUNTY_HOUSEHOLDS", 150_000))
    movements: int = field(default_factory=lambda: _int("BENCH_COUNTY_MOVEMENTS", 68))
    inspect_every: int = field(default_factory=lambda: _int("BENCH_COUNTY_INSPECT_EVERY", 7))
    reads: int = field(default_factory=lambda: _int("BENCH_COUNTY_READS", 50))
    server: str = field(default_factory=lambda: os.environ.get("BENCH_SERVER", "sync:2"))
    port: int = field(default_factory=lambda: _int("BENCH_PORT", 5089))
    pg_url: str = field(
        default_factory=lambda: os.environ.get(
            "BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
        )
    )
    results: Path = field(
        default_factory=lambda: Path(
            os.environ.get("BENCH_COUNTY_RESULTS", ROOT / "bench" / "results-county.md")
        )
    )
    note: str = field(default_factory=lambda: os.environ.get("BENCH_NOTE", ""))
    keep: bool = field(default_factory=lambda: os.environ.get("BENCH_KEEP", "") == "1")

    @property
    def scaled_down(self) -> bool:
        return (self.villages, self.households, self.movements) != (300, 150_000, 68)


@dataclass
class Read:
    name: str
    scope: str  # "village" or "township"
    county_ms: float = 0.0
    single_ms: float = 0.0

    @property
    def ratio(self) -> float:
        return self.county_ms / self.single_ms if self.single_ms else float("inf")

    def met(self) -> bool:
        if self.scope == "township":
            return self.county_ms < 1000 * TOWNSHIP_SECONDS and self.ratio <= TOWNSHIP_RATIO
        return self.ratio <= VILLAGE_RATIO


class Browser:
    """A page session: logs in through the form and keeps the cookie.

    By hand, not with a cookie jar: production marks the cookie Secure, and the
    benchmark talks plain http to 127.0.0.1.
    """

    def __init__(self, port: int, user: str):
        self.port = port
        self.cookies: dict[str, str] = {}
        _, page = self._send("GET", "/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.decode())
        if match is None:
            raise RuntimeError("no csrf_token on the login page")
        form = {"username": user, "password": PASSWORD, "csrf_token": match.group(1)}
        status, _ = self._send("POST", "/login", urllib.parse.urlencode(form).encode())
        if status != 302:
            raise RuntimeError(f"logging in as {user} through the form answered {status}")

    def _send(self, method: str, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
            if data is not None:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            body = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                cookie = http.cookies.SimpleCookie()
                cookie.load(header)
                self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
            return response.status, body
        finally:
            connection.close()

    def get(self, path: str) -> int:
        return self._send("GET", path)[0]


class Api:
    def __init__(self, port: int, user: str):
        self.port = port
        self.token = log_in(port, user, PASSWORD)

    def get(self, path: str) -> int:
        status, _ = request(self.port, "GET", path, token=self.token, timeout=60)
        return status


def last_month(today: date) -> tuple[date, date]:
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def reads_of(port: int, village_code: str, township_code: str, household_id: int, today: date):
    """The measured reads of one server: name -> (scope, a function answering a status)."""
    admin = Api(port, username("admin", village_code))
    admin_pages = Browser(port, username("admin", village_code))
    town = Api(port, username("township", township_code))
    town_pages = Browser(port, username("township", township_code))
    first, last = last_month(today)
    month = f"{first:%Y-%m}"
    return {
        "township reports/villages": ("township", lambda: town.get("/api/v1/reports/villages")),
        "township /township page": ("township", lambda: town_pages.get("/township")),
        "village dashboard page": ("village", lambda: admin_pages.get("/admin/dashboard")),
        "village board PDF": ("village", lambda: admin_pages.get("/admin/board.pdf")),
        "village settlement": (
            "village",
            lambda: admin.get(f"/api/v1/reports/settlement?month={month}"),
        ),
        "village summary": ("village", lambda: admin.get("/api/v1/reports/summary")),
        "household statement": (
            "village",
            lambda: admin.get(f"/api/v1/households/{household_id}/ledger"),
        ),
        "full-month ledger export": (
            "village",
            lambda: admin.get(f"/api/v1/reports/exports/ledger.csv?from={first}&to={last}"),
        ),
        "cases figures": ("village", lambda: admin.get("/api/v1/reports/cases")),
    }


def measure(count: int, county_reads: dict, single_reads: dict) -> list[Read]:
    """Medians of `count` of each read, alternating county and one-village requests."""
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(count):
        for name in county_reads:
            for side, reads in (("county", county_reads), ("single", single_reads)):
                started = time.perf_counter()
                status = reads[name][1]()
                times.setdefault((name, side), []).append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"{name} on the {side} server answered {status}")
    return [
        Read(
            name,
            scope,
            1000 * statistics.median(times[name, "county"]),
            1000 * statistics.median(times[name, "single"]),
        )
        for name, (scope, _) in county_reads.items()
    ]


def say(message: str) -> None:
    print(message, flush=True)


def _bench_run():
    """bench.run, imported when the benchmark runs: it needs the bench extra (pyinstrument)."""
    from bench import run

    return run


@dataclass
class Seeded:
    url: str
    county: County
    seconds: float
    township_code: str
    household_id: int
    today: date
    # `flask townships count-months`, as the nightly cron runs it before the reads.
    count_seconds: float


def seed(
    postgres: "Postgres",
    name: str,
    settings: CountySettings,
    villages: int,
    townships: int,
    households: int,
) -> Seeded:
    url = postgres.create(name)
    _bench_run().flask_db_upgrade(url, settings.port)
    app = _bench_run().make_app(url, settings.port)
    started = time.perf_counter()
    with app.app_context():
        county = seed_county(
            villages, townships, households, settings.movements, settings.inspect_every
        )
        db.session.remove()
    postgres._run(name, "VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    with app.app_context():
        first = county.villages[0]
        household_id = db.session.scalar(
            select(Household.id).where(Household.village_id == first.id).order_by(Household.id)
        )
        township = db.session.scalar(
            text(
                "SELECT t.code FROM townships t JOIN villages v ON v.township_id = t.id "
                "WHERE v.id = :v"
            ),
            {"v": first.id},
        )
        today = village_today(first.id)
        counting = time.perf_counter()
        count_months()
        db.session.commit()
        count_seconds = time.perf_counter() - counting
        db.session.remove()
    return Seeded(url, county, seconds, township, int(household_id or 0), today, count_seconds)


def verify_seconds(url: str, port: int, village_id: int | None) -> tuple[float, int]:
    app = _bench_run().make_app(url, port)
    with app.app_context():
        started = time.perf_counter()
        report = verify_all(village_id)
        seconds = time.perf_counter() - started
        db.session.remove()
    if not report.ok:
        for problem in report.problems[:20]:
            say(f"  PROBLEM [{problem.check}] {problem.detail}")
        raise RuntimeError(f"ledger verify failed: {len(report.problems)} problems")
    return seconds, report.postings


def render(
    settings: CountySettings, county: Seeded, single: Seeded, reads: list[Read], verify: dict
) -> str:
    c = county.county
    lines = ["# County benchmark (issue 32)", ""]
    if settings.scaled_down:
        lines += [
            "**SCALED-DOWN SMOKE RUN, NOT THE GOAL RUN.** It proves `make bench-county` works",
            "end to end on a shared, noisy machine; its figures say nothing about the goals.",
            "",
        ]
    if settings.note:
        lines += [settings.note, ""]
    lines += [
        f"- County: {len(c.villages)} villages in {settings.townships} townships, "
        f"{len(c.villages) * c.households_per_village:,} households "
        f"({c.households_per_village:,} a village), {c.entries:,} history entries "
        f"({c.movements} movements a household over a year), a grade every "
        f"{settings.inspect_every} days a household; seeded in {county.seconds:.0f} s.",
        f"- One-village server: 1 village of {single.county.households_per_village:,} "
        f"households seeded the same way in {single.seconds:.0f} s.",
        f"- `flask townships count-months` (the nightly count of the chart's past months) "
        f"before the reads: {county.count_seconds:.1f} s over the county.",
        f"- gunicorn {settings.server}; one request at a time, medians of {settings.reads}, "
        "county and one-village requests alternating.",
        "- The history's movements are adjustments (closed-form balances, as bench/seed.py);",
        "  the grades are inspection rows whose points are not posted; no redemptions or cases",
        "  are seeded, so the settlement and the cases figures read empty tables.",
        "",
        "| read | county ms | one-village ms | ratio | goal | met |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for read in reads:
        goal = (
            f"< {TOWNSHIP_SECONDS:.0f} s and <= {TOWNSHIP_RATIO}x"
            if read.scope == "township"
            else f"<= {VILLAGE_RATIO}x"
        )
        lines.append(
            f"| {read.name} | {read.county_ms:.1f} | {read.single_ms:.1f} | "
            f"{read.ratio:.2f} | {goal} | {'yes' if read.met() else 'NO'} |"
        )
    rate = verify["county_entries"] / verify["county_seconds"]
    lines += [
        "",
        "| verify | figure | goal | met |",
        "| --- | ---: | --- | --- |",
        f"| county-wide ({verify['county_entries']:,} entries, {verify['county_seconds']:.1f} s)"
        f" | {rate:,.0f} entries/s | >= {VERIFY_RATE:,} | "
        f"{'yes' if rate >= VERIFY_RATE else 'NO'} |",
        f"| one village of the county ({verify['village_entries']:,} entries) | "
        f"{verify['village_seconds']:.2f} s | < {VILLAGE_VERIFY_SECONDS:.0f} s | "
        f"{'yes' if verify['village_seconds'] < VILLAGE_VERIFY_SECONDS else 'NO'} |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    settings = CountySettings()
    postgres = _bench_run().Postgres(settings.pg_url)
    workdir = Path(tempfile.mkdtemp(prefix="greenpoints-county-"))
    names = ("bench_county", "bench_county_one")
    try:
        per_village = max(1, settings.households // settings.villages)
        say(f"Seeding the county: {settings.villages} villages, {settings.households} households")
        county = seed(
            postgres, names[0], settings, settings.villages, settings.townships, settings.households
        )
        say(f"  {county.county.entries:,} entries in {county.seconds:.0f} s")
        say("Seeding the one-village county")
        single = seed(postgres, names[1], settings, 1, 1, per_village)
        config = ServerConfig.parse(settings.server)
        with (
            Server(config, county.url, settings.port, workdir / "county.log") as one,
            Server(config, single.url, settings.port + 1, workdir / "single.log") as two,
        ):
            county_reads = reads_of(
                one.port, "V001", county.township_code, county.household_id, county.today
            )
            single_reads = reads_of(
                two.port, "V001", single.township_code, single.household_id, single.today
            )
            measure(2, county_reads, single_reads)  # warm both servers
            reads = measure(settings.reads, county_reads, single_reads)
        for read in reads:
            say(f"  {read.name}: {read.county_ms:.1f} ms vs {read.single_ms:.1f} ms")
        county_seconds, county_entries = verify_seconds(county.url, settings.port, None)
        village_seconds, village_entries = verify_seconds(
            county.url, settings.port, county.county.villages[0].id
        )
        verify = dict(
            county_seconds=county_seconds,
            county_entries=county_entries,
            village_seconds=village_seconds,
            village_entries=village_entries,
        )
        settings.results.write_text(render(settings, county, single, reads, verify))
        say(settings.results.read_text())
        say(f"Wrote {settings.results}")
    finally:
        if not settings.keep:
            for name in names:
                postgres.drop(name)


if __name__ == "__main__":
    main()
