"""Writers to one SQLite file take turns on an OS file lock beside it (SQLite only)."""

import fcntl
import os
import time

# How long a writer waits for the database, here and in SQLite's own busy handler.
SQLITE_BUSY_TIMEOUT_MS = 30_000


class WriterQueue:
    """Writers to one SQLite file wait their turn on an OS file lock beside it.

    SQLite's own busy handler sleeps in growing steps (up to 100 ms) while another
    connection writes, so under load a writer goes on sleeping long after the
    database is free: gunicorn's workers saw a p99 of hundreds of milliseconds.
    Waiting on flock() instead, polled every millisecond, hands the database to the
    next writer at once. The lock is taken before BEGIN IMMEDIATE and given back at
    COMMIT or ROLLBACK; the kernel drops it if a process dies. After the busy
    timeout, or where the lock file cannot be opened (a read-only disk), SQLite's
    own waiting decides, as before.
    """

    KEY = "greenpoints_writer_lock"
    HELD = "greenpoints_writer_lock_held"

    def __init__(self, path: str):
        self.path = path

    def _descriptor(self, connection) -> int | None:
        info = connection.info  # lives as long as the SQLite connection
        if self.KEY not in info:
            try:
                info[self.KEY] = _Descriptor(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644))
            except OSError:
                info[self.KEY] = None
        held = info[self.KEY]
        return held.number if held is not None else None

    def enter(self, connection) -> None:
        descriptor = self._descriptor(connection)
        if descriptor is None:
            return
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.001)
                continue
            except OSError:
                return
            connection.info[self.HELD] = True
            return

    def leave(self, connection) -> None:
        if connection.info.pop(self.HELD, False):
            fcntl.flock(connection.info[self.KEY].number, fcntl.LOCK_UN)


class _Descriptor:
    """An open file descriptor, closed when nothing refers to it any more."""

    def __init__(self, number: int):
        self.number = number

    def __del__(self) -> None:
        os.close(self.number)
