"""The load generators: wrk for the app's write endpoints, pgbench for the database alone."""

import json
import re
import resource
import shutil
import subprocess
from dataclasses import dataclass, field

from bench.settings import BENCH

WRK_SCRIPT = BENCH / "wrk" / "writes.lua"
INSPECTIONS = "inspections"
REDEMPTIONS = "redemptions"
# In-process profile only (bench/profile.py): a household's report, a worker's resolve.
CASES = "cases"
RESOLVES = "cases-resolve"
BATCH = "batch"  # inspections, BATCH_SIZE to a POST /api/v1/inspections/batch
# GET /healthz: gunicorn, Flask, the pool's check-out and one SELECT 1, the floor under
# every request's cost.
HEALTHZ = "healthz"
BATCH_SIZE = 50
# wrk's own timeout for one request. A batch does 50 credits, so under load it may take
# seconds; a timeout (or a run shorter than one batch) leaves nothing counted at all.
TIMEOUT_SECONDS = {BATCH: 60}
DEFAULT_TIMEOUT_SECONDS = 10


@dataclass
class Target:
    """What a wrk run writes to: the households, the goods, and the next request number."""

    port: int
    first_household: int
    households: int
    good_ids: tuple[int, ...]
    tokens: dict[str, str]  # mode -> bearer token
    next_number: dict[str, int]  # mode -> first request number not yet sent
    case_ids: list[int] = field(default_factory=list)  # accepted cases with an after-photo


@dataclass
class WrkResult:
    label: str
    mode: str
    connections: int
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int
    wrk_cpu_seconds: float
    error_samples: list[str]
    # CPU time of the gunicorn processes per request: what the app costs, whatever else
    # the machine is doing.
    app_cpu_ms: float | None = None
    # CPU time of the PostgreSQL server processes serving the app, per request.
    database_cpu_ms: float | None = None
    # Credits (or redemptions) a request carries: BATCH_SIZE for a batch.
    items: int = 1
    # 1 when no request was answered within the run (counted as an error).
    unanswered: int = 0

    @property
    def rate(self) -> float:
        """Credits (or redemptions) a second."""
        return self.requests * self.items / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors + self.unanswered

    @property
    def tail(self) -> float:
        """p99 / p50."""
        return self.p99_ms / self.p50_ms if self.p50_ms else float("inf")

    @property
    def wrk_cpu_share(self) -> float:
        """The share of one core that wrk used: it is not the bottleneck when small."""
        return self.wrk_cpu_seconds / self.seconds if self.seconds else 0.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    target: Target, mode: str, connections: int, seconds: int, label: str, threads: int
) -> WrkResult:
    """Drive one endpoint for `seconds` at `connections`, each request distinct."""
    threads = max(1, min(threads, connections))
    offset = target.next_number.get(mode, 0)
    # Idempotency-Keys are visible ASCII: the run's label without spaces and signs.
    key_prefix = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
    args = [
        mode,
        target.tokens.get(mode, "-"),
        str(target.first_household),
        str(target.households),
        str(offset),
        key_prefix,
        ",".join(str(g) for g in target.good_ids),
        str(threads),
        str(BATCH_SIZE if mode == BATCH else 1),
    ]
    cpu_before = _children_cpu()
    completed = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            f"{TIMEOUT_SECONDS.get(mode, DEFAULT_TIMEOUT_SECONDS)}s",
            "-s",
            str(WRK_SCRIPT),
            f"http://127.0.0.1:{target.port}",
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    cpu = _children_cpu() - cpu_before
    line = next((x for x in completed.stdout.splitlines() if x.startswith("BENCH {")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    data = json.loads(line.removeprefix("BENCH "))
    target.next_number[mode] = offset + data["next"]
    samples = [
        x.removeprefix("BENCH-ERROR ")
        for x in completed.stdout.splitlines()
        if x.startswith("BENCH-ERROR ")
    ]
    if data["requests"] == 0:
        # Nothing answered within the run: say so, rather than report 0/s and no errors.
        samples.append(f"no request was answered within the {seconds} s run")
    return WrkResult(
        label=label,
        mode=mode,
        connections=connections,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        non2xx=data["non2xx"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        wrk_cpu_seconds=cpu,
        error_samples=samples,
        unanswered=1 if data["requests"] == 0 else 0,
        items=BATCH_SIZE if mode == BATCH else 1,
    )


@dataclass
class PgbenchResult:
    tps: float
    latency_ms: float
    transactions: int
    clients: int
    scale: int
    seconds: int
    init_seconds: float


def pgbench_path() -> str:
    return shutil.which("pgbench") or "/usr/bin/pgbench"


def run_pgbench(
    host: str, port: int, user: str, database: str, *, scale: int, clients: int, seconds: int
) -> PgbenchResult:
    """pgbench -i -s SCALE, then tpcb-like with CLIENTS clients for SECONDS."""
    import time

    connection = ["-h", host, "-p", str(port), "-U", user]
    started = time.monotonic()
    subprocess.run(
        [pgbench_path(), *connection, "-i", "-q", "-s", str(scale), database],
        check=True,
        capture_output=True,
        text=True,
    )
    init_seconds = time.monotonic() - started
    completed = subprocess.run(
        [
            pgbench_path(),
            *connection,
            "-b",
            "tpcb-like",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            database,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    out = completed.stdout

    def number(pattern: str) -> float:
        match = re.search(pattern, out)
        if match is None:
            raise RuntimeError(f"pgbench printed no {pattern!r}:\n{out}")
        return float(match.group(1))

    return PgbenchResult(
        tps=number(r"tps = ([\d.]+) \(without initial connection time\)"),
        latency_ms=number(r"latency average = ([\d.]+) ms"),
        transactions=int(number(r"number of transactions actually processed: (\d+)")),
        clients=clients,
        scale=scale,
        seconds=seconds,
        init_seconds=init_seconds,
    )
