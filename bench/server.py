"""The app under gunicorn, as production runs it, and a small JSON client for set-up."""

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench.load import WrkResult
from bench.settings import ROOT, ServerConfig

SECRET_KEY = "bench-secret-key-not-for-production"
START_TIMEOUT = 60


def gunicorn_path() -> str:
    beside = Path(sys.executable).parent / "gunicorn"
    return str(beside) if beside.exists() else (shutil.which("gunicorn") or "gunicorn")


def app_environment(database_url: str, port: int, config: ServerConfig | None = None) -> dict:
    """The production environment (API.md): secret, base URL, database, pool size."""
    env = {
        **os.environ,
        "GREENPOINTS_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "BASE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": database_url,
    }
    if config is not None:
        env["GREENPOINTS_SQLALCHEMY_ENGINE_OPTIONS"] = json.dumps(
            {"pool_size": config.pool_size, "max_overflow": 0}
        )
    return env


def command(config: ServerConfig, port: int) -> list[str]:
    return [gunicorn_path(), *config.gunicorn_args(), "--bind", f"127.0.0.1:{port}", "wsgi:app"]


class Server:
    """gunicorn in its own process group, stopped as a whole."""

    def __init__(self, config: ServerConfig, database_url: str, port: int, log: Path):
        self.config = config
        self.port = port
        self.log = log
        self.env = app_environment(database_url, port, config)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command(self.config, self.port),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited ({self.process.returncode}); see {self.log}:\n"
                    + self.log.read_text(errors="replace")[-2000:]
                )
            try:
                if request(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"gunicorn did not answer /healthz in {START_TIMEOUT} s")
        # Every worker imports the app when it starts; let them all be up before timing.
        for _ in range(self.config.workers * 2):
            request(self.port, "GET", "/healthz")

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's children."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def cpu_seconds(self) -> float:
        """User and system CPU time of the master and its workers so far."""
        assert self.process is not None
        return sum(process_cpu([self.process.pid, *self.worker_pids()]).values())

    def settle(self, limit: float = 60) -> None:
        """Wait until the workers are idle: requests still running when wrk stopped are done.

        Left running, they would be counted in the next run's CPU and slow its requests.
        """
        deadline = time.monotonic() + limit
        before = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.cpu_seconds()
            if now - before < 0.02:
                return
            before = now

    def measure(
        self,
        run: Callable[[], WrkResult],
        database_cpu: Callable[[], dict[int, float]] | None = None,
    ) -> WrkResult:
        """Run a load; note the app's (and the database's) CPU time per request."""
        before = self.cpu_seconds()
        database_before = database_cpu() if database_cpu else {}
        result = run()
        app_after = self.cpu_seconds()
        database_after = database_cpu() if database_cpu else {}
        self.settle()
        if result.requests:
            result.app_cpu_ms = 1000 * (app_after - before) / result.requests
            if database_cpu:
                spent = sum(
                    cpu - database_before.get(pid, 0.0) for pid, cpu in database_after.items()
                )
                result.database_cpu_ms = 1000 * spent / result.requests
        return result


def process_cpu(pids: list[int]) -> dict[int, float]:
    """User and system CPU seconds of each process so far (from /proc; gone ones left out)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return out


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: dict | None = None,
    token: str | None = None,
    timeout: float = 30,
) -> tuple[int, dict | None]:
    """One JSON request on a fresh connection: (status, decoded body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        return response.status, decoded
    finally:
        connection.close()


def log_in(port: int, username: str, password: str) -> str:
    """POST /api/v1/auth/tokens and return the bearer token."""
    status, body = request(
        port, "POST", "/api/v1/auth/tokens", body={"username": username, "password": password}
    )
    if status != 201 or body is None:
        raise RuntimeError(f"logging in as {username} answered {status}: {body}")
    return body["token"]
