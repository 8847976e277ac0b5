"""Point-in-time recovery for the `make ha-up` cluster, with pgBackRest.

    python3 ha/pitr.py up | backup [full|diff|incr] | info | verify | archive | destroy
    python3 ha/pitr.py restore 'YYYY-MM-DD HH:MM:SS.ffffff+00' | rebuild

`up` (`make ha-up`) starts the cluster (cluster.up()) with this module's configure(),
stanza_create() and backup(): every
node archives its WAL with `pgbackrest archive-push` to one stanza (STANZA) in a
repository kept apart from the nodes' data folders (.ha/data/backup-repo; `make
ha-down` removes it with the rest), so archiving goes on after a failover, and a full
backup is taken as soon as the cluster is healthy (logs: .ha/data/pgbackrest-log).
The Makefile's pitr-* targets call the commands above; `make pitr-drill`
(ha/pitr_drill.py) rehearses losing both nodes. Standard library only, like
cluster.py; PostgreSQL and pgBackRest run as the PostgreSQL user.
"""

import os
import shutil
import sys
import time
from pathlib import Path

import cluster
from cluster import HA, NODES, PORTS, ClusterError, data_dir, pgdata, run, sql, try_sql, wait_for

STANZA = "greenpoints"


def config() -> Path:
    """pgbackrest.conf, beside the nodes' folders so the PostgreSQL user can read it."""
    return data_dir() / "pgbackrest.conf"


def repo() -> Path:
    """The repository: another machine in a county; beside the nodes' folders here."""
    return data_dir() / "backup-repo"


def configure() -> str:
    """Write pgbackrest.conf and the repository's folders; return the nodes' settings.

    The archive command names the node's own data folder ($PWD: PostgreSQL runs it
    there), so the standby, which copies the primary's postgresql.conf, pushes its own
    WAL once it is promoted.
    """
    if shutil.which("pgbackrest") is None:
        raise ClusterError("pgbackrest is not installed: run `make ha-deps`")
    folders = [repo(), data_dir() / "pgbackrest-lock", data_dir() / "pgbackrest-log"]
    user = cluster.os_user()
    for folder in folders:
        folder.mkdir(mode=0o750, parents=True, exist_ok=True)
        if user is not None:
            os.chown(folder, user.pw_uid, user.pw_gid)
    config().write_text(
        "# Written by `make ha-up` (ha/pitr.py). README, Operations: the runbook.\n"
        "[global]\n"
        f"repo1-path={repo()}\n"
        "repo1-retention-full=2\n"
        "repo1-retention-diff=7\n"
        "compress-type=lz4\n"
        "start-fast=y\n"
        "archive-timeout=60\n"
        f"lock-path={data_dir() / 'pgbackrest-lock'}\n"
        f"log-path={data_dir() / 'pgbackrest-log'}\n"
        "log-level-console=warn\n"
        "log-level-file=info\n"
        f"\n[{STANZA}]\n"
        f"pg1-path={pgdata(NODES[0])}\n"
        f"pg1-port={PORTS[NODES[0]]}\n"
    )
    config().chmod(0o644)
    return (
        "archive_mode = on\n"
        "archive_timeout = '60s'\n"
        f"archive_command = 'pgbackrest --config={config()} --stanza={STANZA} "
        '--pg1-path="$PWD" archive-push "%p"\'\n'
    )


def pgbackrest(*args: str, node: str | None = None) -> str:
    """Run pgbackrest on the stanza as the PostgreSQL user, against one node if named."""
    command = ["pgbackrest", f"--config={config()}", f"--stanza={STANZA}"]
    if node is not None:
        sockets = sql(node, "SHOW unix_socket_directories").split(",")[0].strip()
        command += [
            f"--pg1-path={pgdata(node)}",
            f"--pg1-port={PORTS[node]}",
            f"--pg1-socket-path={sockets}",
        ]
    return run([*command, *args])


def primary() -> str:
    """The node that takes writes now."""
    writers = [name for name in NODES if cluster.writable(name)]
    if len(writers) != 1:
        raise ClusterError(f"expected one writable node, found {writers or 'none'}")
    return writers[0]


def stanza_create(node: str) -> None:
    """Make the stanza, once the first node runs (before a WAL segment needs archiving)."""
    pgbackrest("stanza-create", node=node)


def backup(kind: str = "full") -> float:
    """Back up the primary (full, diff or incr); return the seconds it took."""
    if kind not in ("full", "diff", "incr"):
        raise ClusterError(f"a backup is full, diff or incr, not {kind!r}")
    started = time.monotonic()
    pgbackrest(f"--type={kind}", "backup", node=primary())
    return time.monotonic() - started


def archive() -> str:
    """Close the current WAL segment and wait until it is in the repository.

    Everything committed before this call can then be restored without the nodes.
    """
    node = primary()
    segment = sql(node, "SELECT pg_walfile_name(pg_switch_wal())")

    def archived() -> bool:
        last = try_sql(node, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        # Same timeline: segment names sort in WAL order.
        return bool(last) and last[8:] >= segment[8:] and last[:8] == segment[:8]

    wait_for(archived, 60, f"WAL segment {segment} to be archived")
    return segment


def destroy() -> None:
    """Lose both database machines: every process SIGKILLed, their files removed."""
    for name in NODES:
        if cluster.processes(name):
            cluster.kill(name)
        forget(name)
    print(f"pitr: destroyed {', '.join(NODES)} (processes killed, data folders removed)")


def forget(name: str) -> None:
    """Remove a node's data folder and its keeper's configuration and state."""
    shutil.rmtree(pgdata(name), ignore_errors=True)
    (HA / f"{name}.pid").unlink(missing_ok=True)
    for kind in ("config", "data", "run"):
        keeper = data_dir() / "xdg" / kind / "pg_autoctl" / str(pgdata(name)).lstrip("/")
        shutil.rmtree(keeper, ignore_errors=True)


def restore(target: str, node: str = NODES[0]) -> float:
    """Restore one node from the repository to the time target; start it as the primary.

    pgBackRest picks the newest backup before the target and replays the archived WAL
    up to it; PostgreSQL then promotes. The restored node runs alone under pg_ctl (the
    monitor still remembers the lost nodes) until rebuild() makes the pair again.
    Returns the seconds from the start of the restore to the first write taken.
    """
    if cluster.processes(node) or pgdata(node).exists():
        raise ClusterError(f"{pgdata(node)} exists: a restore goes into an empty folder")
    started = time.monotonic()
    pgdata(node).mkdir(mode=0o700)
    user = cluster.os_user()
    if user is not None:
        os.chown(pgdata(node), user.pw_uid, user.pw_gid)
    run(
        [
            "pgbackrest", f"--config={config()}", f"--stanza={STANZA}",
            f"--pg1-path={pgdata(node)}", "--type=time", f"--target={target}",
            "--target-action=promote", "restore",
        ]
    )  # fmt: skip
    # Alone, the node must not wait for a standby that no longer exists.
    with open(pgdata(node) / "postgresql.auto.conf", "a") as file:
        file.write("# Restored by ha/pitr.py: no standby yet.\nsynchronous_standby_names = ''\n")
    pg_ctl = str(cluster.bin_dir() / "pg_ctl")
    log = data_dir() / f"{node}-restored.log"  # the PostgreSQL user writes it
    run([pg_ctl, "start", "-D", str(pgdata(node)), "-l", str(log), "-w", "-t", "300"])
    wait_for(lambda: cluster.writable(node), 300, f"{node} to reach the target and promote")
    # Forget the target: a standby copied from this node, or this node demoted one day,
    # would otherwise stop at T and promote itself.
    for setting in ("recovery_target_time", "recovery_target_action", "restore_command"):
        sql(node, f"ALTER SYSTEM RESET {setting}")
    sql(node, "SELECT pg_reload_conf()")
    return time.monotonic() - started


def rebuild() -> float:
    """Make the restored node the primary of the pair again, with a new standby.

    The monitor forgets both lost nodes; the restored node, stopped, is registered
    again (pg_autoctl adopts an existing data folder) and the other node is created
    as its standby, copied from it. Then a full backup, the first of the new timeline.
    Returns the seconds it took.
    """
    restored, lost = NODES
    if not cluster.writable(restored):
        raise ClusterError(f"{restored} does not take writes: restore it first")
    started = time.monotonic()
    for name in NODES:
        run(
            [
                "pg_autoctl", "drop", "node", "--monitor", cluster.MONITOR_URI,
                "--formation", "default", "--name", name, "--force", "--wait", "0",
            ],
            check=False,
        )  # fmt: skip
    run([str(cluster.bin_dir() / "pg_ctl"), "stop", "-D", str(pgdata(restored)), "-m", "fast"])
    cluster.create_node(restored)
    wait_for(lambda: cluster.states().get(restored, ("", ""))[0] == "single", 60, "single")
    if cluster.processes(lost):
        cluster.stop((lost,))
    forget(lost)
    cluster.create_node(lost)
    wait_for(cluster.healthy, 120, "a primary with a synchronous standby again")
    if try_sql(lost, "SELECT pg_is_in_recovery()") != "t":
        raise ClusterError(f"{lost} was to be a standby, but it takes writes")
    backup("full")
    return time.monotonic() - started


def main(argv: list[str]) -> int:
    """Run one command; exit 0 when it worked."""
    usage = "up | backup [full|diff|incr] | info | verify | archive | destroy | restore TIME"
    usage += " | rebuild"
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    arity = {"up": (0, 0), "backup": (0, 1), "info": (0, 0), "verify": (0, 0), "archive": (0, 0)}
    arity |= {"destroy": (0, 0), "restore": (1, 1), "rebuild": (0, 0)}
    if command not in arity or not arity[command][0] <= len(args) <= arity[command][1]:
        print(f"usage: {sys.argv[0]} {usage}", file=sys.stderr)
        return 2
    try:
        if command == "up":
            cluster.up(sys.modules[__name__])  # type: ignore[arg-type]
        elif command == "backup":
            kind = args[0] if args else "full"
            print(f"pitr: {kind} backup of the primary in {backup(kind):.1f} s")
        elif command == "info":
            print(pgbackrest("info"), end="")
        elif command == "verify":
            pgbackrest("verify")
            print("pitr: every backup and WAL file in the repository reads back intact")
        elif command == "archive":
            print(f"pitr: archived up to {archive()}")
        elif command == "destroy":
            destroy()
        elif command == "rebuild":
            seconds = rebuild()
            print(
                f"pitr: {NODES[0]} primary, {NODES[1]} its standby, a full backup: {seconds:.0f} s"
            )
        else:
            seconds = restore(args[0])
            print(f"pitr: {NODES[0]} restored to {args[0]} and promoted in {seconds:.1f} s")
    except ClusterError as error:
        print(f"pitr: {error}", file=sys.stderr)
        if command == "up":
            where = f"ha: logs in {HA / 'logs'}; `make ha-down` removes what started"
            print(where, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
