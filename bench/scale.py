"""Reads that must not slow down as the ledger grows: balance, statement, scan."""

import statistics
import time
from dataclasses import dataclass

from bench.server import request

READS = ("balance", "statement", "scan")


@dataclass
class ReadTimes:
    """Median milliseconds of each read for one household."""

    label: str
    entries: int
    balance: float
    statement: float
    scan: float

    def get(self, read: str) -> float:
        return getattr(self, read)


def time_reads(
    port: int, token: str, households: list[tuple[str, int, int]], count: int
) -> list[ReadTimes]:
    """Time `count` of each read for each (label, household id, entries); medians.

    Requests go one at a time, each on a fresh connection, and alternate between the
    households, so that a burst of other work on the machine hits them alike.
    """
    calls: dict[tuple[str, str], tuple[str, str, dict | None]] = {}
    for label, household_id, _entries in households:
        status, household = request(port, "GET", f"/api/v1/households/{household_id}", token=token)
        if status != 200 or household is None:
            raise RuntimeError(f"GET household {household_id} answered {status}")
        calls[label, "balance"] = ("GET", f"/api/v1/households/{household_id}", None)
        calls[label, "statement"] = ("GET", f"/api/v1/households/{household_id}/ledger", None)
        calls[label, "scan"] = ("POST", "/api/v1/scan", {"payload": household["qr_payload"]})
    times: dict[tuple[str, str], list[float]] = {key: [] for key in calls}
    for _ in range(count):
        for key, (method, path, body) in calls.items():
            started = time.perf_counter()
            status, answer = request(port, method, path, body=body, token=token)
            times[key].append(time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"{method} {path} answered {status}: {answer}")
    return [
        ReadTimes(
            label,
            entries,
            *(1000 * statistics.median(times[label, read]) for read in READS),
        )
        for label, _household_id, entries in households
    ]
