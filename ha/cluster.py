"""A PostgreSQL primary and a synchronous standby on this machine, kept by pg_auto_failover.

    python3 ha/cluster.py status | kill-primary | kill-standby | rejoin | down

The Makefile's ha-* targets call this; `make ha-up` runs `ha/pitr.py up`, which starts
the cluster with up() here and archives its WAL with pgBackRest.

Three PostgreSQL instances listen on 127.0.0.1 only: the pg_auto_failover monitor
(HA_MONITOR_PORT, 55431) and two data nodes, node1 (HA_NODE1_PORT, 55432) and node2
(HA_NODE2_PORT, 55433). Everything lives under .ha/
(HA_DIR): data, logs, pid files and `.ha/env`, the connection strings for the app.
The monitor alone decides which node is primary; this script only starts, kills and
reports. PostgreSQL refuses to run as root, so as root every process runs as the
`postgres` system user (HA_OS_USER). Standard library only: `make ha-up` runs it
before any virtualenv exists.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parent.parent
HA = Path(os.environ.get("HA_DIR", ROOT / ".ha")).resolve()
HOST = "127.0.0.1"
MONITOR = "monitor"
NODES = ("node1", "node2")
PORTS = {
    MONITOR: int(os.environ.get("HA_MONITOR_PORT", "55431")),
    "node1": int(os.environ.get("HA_NODE1_PORT", "55432")),
    "node2": int(os.environ.get("HA_NODE2_PORT", "55433")),
}
DATABASE = "greenpoints"
APP_ROLE = "greenpoints"
MONITOR_URI = f"postgres://autoctl_node@{HOST}:{PORTS[MONITOR]}/pg_auto_failover?sslmode=disable"

# Failover within seconds on one machine. pg_auto_failover's defaults (20 s before a
# node is unhealthy, then 30 s for a lost primary to demote itself) suit nodes that
# talk over a network; here a dead node refuses connections at once. The keeper's
# own network-partition timeout stays below the monitor's demote timeout, so a
# primary cut off from the monitor and its standby stops taking writes before the
# standby may be promoted (README, Production).
MONITOR_SETTINGS = """
# Green Points (ha/cluster.py): notice a lost node within seconds.
shared_buffers = '32MB'
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 4000
pgautofailover.primary_demote_timeout = 6000
pgautofailover.startup_grace_period = 2000
"""
KEEPER_SETTINGS = {"timeout.network_partition_timeout": "4"}
NODE_SETTINGS = """
# Green Points (ha/cluster.py): a small demo node; see README, Production.
shared_buffers = '128MB'
synchronous_commit = on
hot_standby_feedback = on
wal_keep_size = '256MB'
"""


def main(argv: list[str]) -> int:
    """Run one command of the cluster."""
    commands = {
        "status": status,
        "kill-primary": lambda: kill_role(primary=True),
        "kill-standby": lambda: kill_role(primary=False),
        "rejoin": rejoin,
        "down": down,
    }
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: {sys.argv[0]} {' | '.join(commands)}", file=sys.stderr)
        return 2
    try:
        return commands[argv[0]]() or 0
    except ClusterError as error:
        print(f"ha: {error}", file=sys.stderr)
        return 1


class ClusterError(Exception):
    """Something about the cluster went wrong; the message says what."""


# Who runs PostgreSQL, and where --------------------------------------------------------


def os_user() -> pwd.struct_passwd | None:
    """The system user that runs PostgreSQL: postgres when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("HA_OS_USER", "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ClusterError(f"no system user {name!r} to run PostgreSQL as (HA_OS_USER)") from None


def as_user() -> dict:
    """Popen arguments that drop root for the PostgreSQL user."""
    user = os_user()
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def data_dir() -> Path:
    """Where the instances live: .ha/data (or the folder it links to)."""
    return (HA / "data").resolve()


def pgdata(name: str) -> Path:
    return data_dir() / name


def bin_dir() -> Path:
    """The newest installed PostgreSQL whose pg_auto_failover extension is installed."""
    versions = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*") if p.name.isdigit()),
        key=lambda p: int(p.name),
        reverse=True,
    )
    for version in versions:
        control = Path(f"/usr/share/postgresql/{version.name}/extension/pgautofailover.control")
        if (version / "bin" / "pg_ctl").exists() and control.exists():
            return version / "bin"
    raise ClusterError(
        "pg_auto_failover is not installed: run `make ha-deps` "
        "(apt-get install postgresql-15-auto-failover)"
    )


def autoctl() -> str:
    """The pg_autoctl program (Debian puts it in /usr/bin)."""
    found = shutil.which("pg_autoctl", path=environment()["PATH"])
    if found is None:
        raise ClusterError("pg_autoctl is not installed: run `make ha-deps`")
    return found


def environment() -> dict[str, str]:
    """The environment of every PostgreSQL and pg_autoctl process."""
    data = data_dir()
    return {
        "PATH": f"{bin_dir()}:/usr/bin:/bin",
        "HOME": str(data),
        # pg_autoctl keeps its configuration and state files under the XDG folders.
        "XDG_CONFIG_HOME": str(data / "xdg" / "config"),
        "XDG_DATA_HOME": str(data / "xdg" / "data"),
        "XDG_RUNTIME_DIR": str(data / "xdg" / "run"),
        # initdb takes its encoding from the locale: UTF-8 for Chinese names.
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PGCONNECT_TIMEOUT": "2",
    }


def run(args: list[str], *, check: bool = True, quiet: bool = False) -> str:
    """Run a PostgreSQL tool as the PostgreSQL user; return its output."""
    result = subprocess.run(
        args,
        env=environment(),
        cwd=data_dir(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        **as_user(),
    )
    if check and result.returncode != 0:
        raise ClusterError(f"{' '.join(args[:3])} failed:\n{result.stdout}{result.stderr}")
    if not quiet and result.returncode == 0:
        log(result.stderr)
    return result.stdout


def log(text: str) -> None:
    """Keep a tool's chatter in .ha/logs/setup.log rather than on the terminal."""
    if text:
        (HA / "logs").mkdir(parents=True, exist_ok=True)
        with open(HA / "logs" / "setup.log", "a") as file:
            file.write(text)


def sql(name: str, query: str, *, database: str = "postgres", user: str | None = None) -> str:
    """Run one query on an instance; return its rows as psql -At prints them."""
    args = ["psql", "-X", "-At", "-h", HOST, "-p", str(PORTS[name]), "-d", database]
    if user:
        args += ["-U", user]
    return run([*args, "-c", query], quiet=True).strip()


def try_sql(name: str, query: str, **kwargs) -> str | None:
    """Run one query; None when the instance does not answer."""
    try:
        return sql(name, query, **kwargs)
    except ClusterError:
        return None


# Processes ---------------------------------------------------------------------------------


def start(name: str) -> None:
    """Start `pg_autoctl run` for one instance, in a session of its own."""
    logs = HA / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / f"{name}.log", "a") as output:
        process = subprocess.Popen(
            [autoctl(), "run", "--pgdata", str(pgdata(name))],
            env=environment(),
            cwd=data_dir(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_user(),
        )
    (HA / f"{name}.pid").write_text(f"{process.pid}\n")


def alive(pid: int) -> bool:
    """Tell whether a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def children() -> dict[int, list[int]]:
    """Map each running process to its children."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def own(pid: int, name: str) -> bool:
    """Tell whether a process is this instance's pg_autoctl or postmaster.

    A pid file outlives a killed process, and its number may since belong to another
    program: only a process whose command line names this instance's data folder is ours.
    """
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return str(pgdata(name)).encode() in command and alive(pid)


def roots(name: str) -> tuple[int | None, int | None]:
    """The pids of this instance's pg_autoctl and of its postmaster, where they run."""
    found: list[int | None] = []
    for pid_file in (HA / f"{name}.pid", pgdata(name) / "postmaster.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            pid = None
        found.append(pid if pid is not None and own(pid, name) else None)
    return found[0], found[1]


def processes(name: str) -> list[int]:
    """Every process of one instance: pg_autoctl, PostgreSQL and their children."""
    tree = children()
    found: list[int] = []
    stack = [pid for pid in roots(name) if pid is not None]
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.append(pid)
            stack.extend(tree.get(pid, []))
    return [pid for pid in found if alive(pid)]


def signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def kill(name: str) -> None:
    """Lose an instance as a machine loss would: every process of it SIGKILLed at once.

    They are stopped first so that none of them (the keeper restarting PostgreSQL, a
    backend finishing a commit) reacts to the others dying.
    """
    pids = processes(name)
    if not pids:
        raise ClusterError(f"{name} is not running")
    stopped: set[int] = set()
    while set(pids) - stopped:  # a process forked just before the stop is caught here
        signal_all(pids, signal.SIGSTOP)
        stopped.update(pids)
        pids = processes(name)
    pids = sorted(stopped)
    signal_all(pids, signal.SIGKILL)
    wait_for(lambda: not any(alive(pid) for pid in pids), 10, f"{name}'s processes to die")


def stop(names: tuple[str, ...]) -> None:
    """Stop instances: pg_autoctl's own shutdown, then SIGKILL whatever is left."""
    for name in names:
        keeper, postmaster = roots(name)
        if keeper is not None:
            signal_all([keeper], signal.SIGTERM)  # it stops PostgreSQL (fast mode)
        elif postmaster is not None:
            signal_all([postmaster], signal.SIGINT)  # PostgreSQL's fast shutdown
    deadline = time.monotonic() + 15
    while any(processes(name) for name in names) and time.monotonic() < deadline:
        time.sleep(0.2)
    for name in names:
        signal_all(processes(name), signal.SIGKILL)


def wait_for(condition, seconds: float, what: str):
    """Poll condition() until it returns something true; fail after seconds."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise ClusterError(f"gave up waiting for {what} after {seconds:.0f} s")
        time.sleep(0.2)


# What the monitor says ---------------------------------------------------------------------


def states() -> dict[str, tuple[str, str]]:
    """Each data node's (reported state, goal state), as the monitor holds them."""
    rows = try_sql(
        MONITOR,
        "SELECT nodename, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodeid",
        database="pg_auto_failover",
        user="autoctl_node",
    )
    found = {}
    for line in (rows or "").splitlines():
        node, reported, goal = line.split("|")
        found[node] = (reported, goal)
    return found


def writable(name: str) -> bool:
    """Tell whether a node answers and takes writes."""
    answer = try_sql(
        name, "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::bool"
    )
    return answer == "f"


def synchronous_standby(primary: str) -> bool:
    """Tell whether a commit on the primary now waits for a standby."""
    answer = try_sql(
        primary,
        "SELECT current_setting('synchronous_standby_names') <> '' AND EXISTS "
        "(SELECT 1 FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum'))",
    )
    return answer == "t"


def healthy() -> str | None:
    """The primary's name when one node is primary and the other its synchronous standby."""
    current = states()
    if len(current) != len(NODES):
        return None
    primaries = [n for n, (reported, goal) in current.items() if reported == goal == "primary"]
    standbys = [n for n, (reported, goal) in current.items() if reported == goal == "secondary"]
    if len(primaries) == 1 and len(standbys) == 1 and synchronous_standby(primaries[0]):
        return primaries[0]
    return None


# Commands ----------------------------------------------------------------------------------


class Archiving(Protocol):
    """What up() asks of the WAL archive (ha/pitr.py: pgBackRest)."""

    STANZA: str

    def configure(self) -> str: ...
    def stanza_create(self, node: str) -> None: ...
    def repo(self) -> Path: ...
    def backup(self, kind: str = "full") -> float: ...


def up(pitr: Archiving) -> None:
    """Create and start the monitor and both nodes; write .ha/env."""
    if HA.exists():
        raise ClusterError(f"{HA} exists: `make ha-down` first (it removes the old cluster)")
    for name, port in PORTS.items():
        if port_in_use(port):
            raise ClusterError(f"port {port} ({name}) is taken; set HA_*_PORT")
    bin_dir()
    prepare_folders()
    started = time.monotonic()
    archiving = pitr.configure()

    run(
        [
            "pg_autoctl", "create", "monitor", "--pgdata", str(pgdata(MONITOR)),
            "--pgctl", str(bin_dir() / "pg_ctl"), "--pgport", str(PORTS[MONITOR]),
            "--hostname", HOST, "--listen", HOST, "--auth", "trust", "--no-ssl",
        ]
    )  # fmt: skip
    append(pgdata(MONITOR) / "postgresql.conf", MONITOR_SETTINGS)
    start(MONITOR)
    wait_for(lambda: try_sql(MONITOR, "SELECT 1") == "1", 30, "the monitor")

    for name in NODES:
        create_node(name, archiving)
        if name == NODES[0]:
            wait_for(lambda n=name: try_sql(n, "SELECT 1") == "1", 30, f"{name} to start")
            sql(name, f"CREATE ROLE {APP_ROLE} LOGIN")
            sql(name, f"ALTER DATABASE {DATABASE} OWNER TO {APP_ROLE}")
            pitr.stanza_create(name)  # before the standby's copy closes a WAL segment
    primary = wait_for(healthy, 60, "a primary with a synchronous standby")
    write_env()
    print(
        f"ha: {primary} is primary, the other node its synchronous standby "
        f"({time.monotonic() - started:.0f} s). The app's settings are in {HA / 'env'}."
    )
    print(
        f"ha: WAL archived to {pitr.repo()} (pgBackRest stanza {pitr.STANZA}); "
        f"full backup in {pitr.backup('full'):.0f} s"
    )


def create_node(name: str, archiving: str = "") -> None:
    """Register a data node with the monitor: the first initialises, the next copies it."""
    run(
        [
            "pg_autoctl", "create", "postgres", "--pgdata", str(pgdata(name)),
            "--pgctl", str(bin_dir() / "pg_ctl"), "--pgport", str(PORTS[name]),
            "--hostname", HOST, "--listen", HOST, "--name", name, "--dbname", DATABASE,
            "--monitor", MONITOR_URI, "--auth", "trust", "--no-ssl",
            "--candidate-priority", "50", "--replication-quorum", "true",
        ]
    )  # fmt: skip
    if name == NODES[0]:
        # The standby copies this file with the data (pg_basebackup).
        append(pgdata(name) / "postgresql.conf", NODE_SETTINGS + archiving)
    for option, value in KEEPER_SETTINGS.items():
        run(["pg_autoctl", "config", "set", "--pgdata", str(pgdata(name)), option, value])
    start(name)


def prepare_folders() -> None:
    """Make .ha/ and the data folder, owned by the PostgreSQL user.

    When that user cannot reach .ha/ (a clone under a private home folder), the data
    goes to a private folder under /tmp and .ha/data links to it.
    """
    HA.mkdir(parents=True)
    (HA / "logs").mkdir()
    user = os_user()
    if user is not None:
        os.chown(HA, user.pw_uid, user.pw_gid)
    reachable = (
        subprocess.run(["test", "-w", str(HA), "-a", "-x", str(HA)], **as_user()).returncode == 0
    )
    if reachable:
        data = HA / "data"
        data.mkdir(mode=0o700)
    else:
        data = Path(tempfile.mkdtemp(prefix="greenpoints-ha-"))
        (HA / "data").symlink_to(data)
    for folder in (data, data / "xdg", data / "xdg" / "config", data / "xdg" / "data"):
        folder.mkdir(mode=0o700, exist_ok=True)
    (data / "xdg" / "run").mkdir(mode=0o700, exist_ok=True)
    if user is not None:
        for folder in (data, *data.rglob("*")):
            os.chown(folder, user.pw_uid, user.pw_gid)


def append(path: Path, text: str) -> None:
    """Append settings to a configuration file that the PostgreSQL user owns."""
    with open(path, "a") as file:
        file.write(text)


def port_in_use(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


def write_env() -> None:
    """Write the app's connection strings: writes to the primary, lagging reads anywhere."""
    hosts = "&".join(f"host={HOST}:{PORTS[name]}" for name in NODES)
    base = f"postgresql+psycopg://{APP_ROLE}@/{DATABASE}?{hosts}"
    (HA / "env").write_text(
        "# Written by `make ha-up`. Load with: set -a; . .ha/env; set +a\n"
        f"DATABASE_URL='{base}&target_session_attrs=read-write'\n"
        f"DATABASE_READ_URL='{base}&target_session_attrs=prefer-standby'\n"
    )


def status() -> int:
    """Print the monitor's view; exit 0 when healthy, 1 when writes go on alone, 2 when down."""
    current = states()
    if not current:
        print("ha: the monitor does not answer")
        return 2
    for name, (reported, goal) in current.items():
        role = (
            "writable" if writable(name) else ("read-only" if try_sql(name, "SELECT 1") else "down")
        )
        print(f"{name:6} port {PORTS[name]}  {reported:18} (goal {goal:18}) {role}")
    if healthy():
        print("ha: healthy: every commit waits for the synchronous standby")
        return 0
    if any(writable(name) for name in NODES):
        print("ha: DEGRADED: the primary takes writes alone, without a synchronous standby")
        return 1
    print("ha: DOWN: no node takes writes")
    return 2


def kill_role(*, primary: bool) -> None:
    """SIGKILL the node that is now primary (or standby), with its keeper."""
    up_nodes = [name for name in NODES if processes(name)]
    writers = [name for name in up_nodes if writable(name)]
    if len(writers) != 1:
        raise ClusterError(f"expected one writable node, found {writers or 'none'}")
    if primary:
        victim = writers[0]
    else:
        others = [name for name in up_nodes if name != writers[0]]
        if not others:
            raise ClusterError("there is no standby to kill")
        victim = others[0]
    kill(victim)
    print(f"ha: killed {victim} ({'primary' if primary else 'standby'}, port {PORTS[victim]})")


def rejoin() -> None:
    """Start the keeper of every node that is down: the monitor makes it a standby again.

    A lost primary is rewound (pg_rewind) to where the new primary took over, then
    follows it; nothing it may have written after that point survives.
    """
    down_nodes = [name for name in NODES if not processes(name)]
    if not down_nodes:
        print("ha: every node is running")
        return
    for name in down_nodes:
        start(name)
    primary = wait_for(healthy, 90, "the rejoined node to become a synchronous standby")
    print(f"ha: {', '.join(down_nodes)} rejoined; {primary} is primary")


def down() -> None:
    """Stop every instance and remove .ha/ with all its data."""
    if not HA.exists():
        print("ha: nothing to remove")
        return
    if (HA / "data").exists():
        stop((*NODES, MONITOR))
    data = (HA / "data").resolve() if (HA / "data").exists() else None
    if data is not None and data != HA / "data":
        shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(HA, ignore_errors=True)
    print("ha: removed")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
