"""The benchmark's parameters: environment variables, defaulting to issue 8's values."""

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _ints(name: str, default: str) -> tuple[int, ...]:
    return tuple(int(part) for part in os.environ.get(name, default).split(",") if part.strip())


@dataclass(frozen=True)
class ServerConfig:
    """How gunicorn runs the app: worker class, workers, threads per worker."""

    worker_class: str
    workers: int
    threads: int = 1

    @classmethod
    def parse(cls, text: str) -> "ServerConfig":
        """Read "sync:4" or "gthread:2x4" (workers x threads)."""
        kind, _, shape = text.strip().partition(":")
        workers, _, threads = shape.partition("x")
        return cls(kind, int(workers), int(threads or 1))

    @property
    def label(self) -> str:
        if self.worker_class == "sync":
            return f"sync, {self.workers} workers"
        return f"{self.worker_class}, {self.workers} workers x {self.threads} threads"

    @property
    def pool_size(self) -> int:
        """One database connection per thread that can run a request."""
        return self.threads

    def gunicorn_args(self) -> list[str]:
        args = ["--worker-class", self.worker_class, "--workers", str(self.workers)]
        if self.worker_class == "gthread":
            args += ["--threads", str(self.threads)]
        return args


@dataclass(frozen=True)
class Settings:
    households: int = field(default_factory=lambda: _int("BENCH_HOUSEHOLDS", 30_000))
    grids: int = field(default_factory=lambda: _int("BENCH_GRIDS", 30))
    opening_points: int = field(default_factory=lambda: _int("BENCH_OPENING_POINTS", 10_000))
    goods: int = field(default_factory=lambda: _int("BENCH_GOODS", 10))
    duration: int = field(default_factory=lambda: _int("BENCH_DURATION", 20))
    # A batch request does 50 credits and may take a second or more under load: its run
    # lasts long enough for many to finish (wrk counts only the answered ones).
    batch_duration: int = field(
        default_factory=lambda: _int("BENCH_BATCH_DURATION", max(_int("BENCH_DURATION", 20), 10))
    )
    connections: tuple[int, ...] = field(
        default_factory=lambda: _ints("BENCH_CONNECTIONS", "4,16,32")
    )
    sqlite_connections: tuple[int, ...] = field(
        default_factory=lambda: _ints("BENCH_SQLITE_CONNECTIONS", "4,16")
    )
    # The goals are judged at this number of connections.
    goal_connections: int = field(default_factory=lambda: _int("BENCH_GOAL_CONNECTIONS", 16))
    pgbench_scale: int = field(default_factory=lambda: _int("BENCH_PGBENCH_SCALE", 10))
    pgbench_clients: int = field(default_factory=lambda: _int("BENCH_PGBENCH_CLIENTS", 4))
    pgbench_duration: int = field(default_factory=lambda: _int("BENCH_PGBENCH_DURATION", 20))
    # gunicorn configurations tried on inspections before the measured runs; the
    # fastest error-free one serves every run. BENCH_SERVER skips the sweep.
    sweep: tuple[ServerConfig, ...] = field(
        default_factory=lambda: tuple(
            ServerConfig.parse(text)
            for text in os.environ.get(
                "BENCH_SWEEP", "sync:2,sync:4,sync:8,gthread:2x4,gthread:4x2"
            ).split(",")
            if text.strip()
        )
    )
    sweep_duration: int = field(default_factory=lambda: _int("BENCH_SWEEP_DURATION", 5))
    sweep_connections: int = field(default_factory=lambda: _int("BENCH_SWEEP_CONNECTIONS", 16))
    server: ServerConfig | None = field(
        default_factory=lambda: (
            ServerConfig.parse(os.environ["BENCH_SERVER"])
            if os.environ.get("BENCH_SERVER")
            else None
        )
    )
    heavy_households: int = field(default_factory=lambda: _int("BENCH_HEAVY_HOUSEHOLDS", 100))
    heavy_movements: int = field(default_factory=lambda: _int("BENCH_HEAVY_MOVEMENTS", 10_000))
    reference_movements: int = field(
        default_factory=lambda: _int("BENCH_REFERENCE_MOVEMENTS", 1_000)
    )
    reads: int = field(default_factory=lambda: _int("BENCH_READS", 100))
    profile_requests: int = field(default_factory=lambda: _int("BENCH_PROFILE_REQUESTS", 200))
    wrk_threads: int = field(default_factory=lambda: _int("BENCH_WRK_THREADS", 2))
    port: int = field(default_factory=lambda: _int("BENCH_PORT", 5089))
    pg_url: str = field(
        default_factory=lambda: os.environ.get(
            "BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
        )
    )
    app_database: str = "bench_greenpoints"
    pgbench_database: str = "bench_pgbench"
    # A line for results.md about the conditions, e.g. other work running on the machine.
    note: str = field(default_factory=lambda: os.environ.get("BENCH_NOTE", ""))
    keep: bool = field(default_factory=lambda: os.environ.get("BENCH_KEEP", "") == "1")
    results: Path = field(
        default_factory=lambda: Path(os.environ.get("BENCH_RESULTS", BENCH / "results.md"))
    )
    profile: bool = field(default_factory=lambda: os.environ.get("BENCH_PROFILE", "1") != "0")
    sqlite: bool = field(default_factory=lambda: os.environ.get("BENCH_SQLITE", "1") != "0")
    scale: bool = field(default_factory=lambda: os.environ.get("BENCH_SCALE", "1") != "0")
