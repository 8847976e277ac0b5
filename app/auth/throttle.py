"""The login rate limit: each failed login is kept a while, and too many make the next wait.

Limits per username and address, per username over all addresses, and per address
over all usernames (config: LOGIN_*). An admin's unlock forgets a username's
failures at once.
"""

import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, insert, select, true

from app.audit.services import LOGIN_UNLOCKED
from app.auth.models import LoginAttempt, User
from app.auth.services import audit_user
from app.db import db, run_write, utcnow
from app.errors import RateLimited

# A second, looser limit per address, so one address cannot try every username.
ADDRESS_FAILURE_FACTOR = 4
# A third per username over all addresses, so that many addresses (a botnet, or forged
# X-Forwarded-For when gunicorn is reached past the proxy) cannot guess one password
# faster: beyond LOGIN_MAX_FAILURES x 2 in a day, each try waits as a pair's does. It
# slows the guessing down; it never locks the username out for good, and an admin's
# unlock (forgetting its failures) lets the real user in at once.
USERNAME_FAILURE_FACTOR = 2


def failed_logins(usernames: list[str]) -> dict[str, int]:
    """Return how many failed logins each of these usernames has on record."""
    rows = db.session.execute(
        select(LoginAttempt.username, func.count())
        .where(LoginAttempt.username.in_(usernames))
        .group_by(LoginAttempt.username)
    )
    return {username: count for username, count in rows}


def unlock_login(user: User, *, actor_id: int | None) -> int:
    """Forget the user's failed logins, so it may log in again at once; audited.

    The limits count the failures kept in login_attempts (per username and address,
    and per address), so deleting this username's rows lifts its wait everywhere.
    """
    cleared = db.session.execute(  # type: ignore[attr-defined]
        delete(LoginAttempt).where(LoginAttempt.username == user.username),
        execution_options={"synchronize_session": False},
    ).rowcount
    audit_user(user, actor_id, LOGIN_UNLOCKED, failed_logins_cleared=cleared)
    return cleared


@dataclass(frozen=True)
class LoginTry:
    """A login try already recorded: a failure unless forget_failures() is called."""

    id: int
    username: str
    address: str


def address_key(address: str) -> str:
    """The address the login limits count by: an IPv6 address by its /64 network.

    One home, phone or server is given a whole /64 and may use any address in it, so
    counting each address apart would give a guesser 2**64 fresh limits.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def start_login(username: str, address: str) -> LoginTry:
    """Record a login try, then refuse it (429, Retry-After) if the limits say wait.

    The try is committed before the count is read, so tries racing each other see
    each other: of any number of parallel guesses, the last to commit counts them all,
    and no more than the limit are ever checked. A refused try is deleted again.
    """
    username, address = username[:64], address_key(address)
    now = utcnow()

    def add() -> int:
        return db.session.execute(
            insert(LoginAttempt)
            .values(username=username, address=address, created_at=now)
            .returning(LoginAttempt.id)
        ).scalar_one()

    attempt = LoginTry(run_write(add), username, address)
    wait = _wait(attempt, now)
    db.session.rollback()  # end the read; the next write begins afresh
    if wait is not None:
        run_write(lambda: db.session.execute(delete(LoginAttempt).filter_by(id=attempt.id)))
        raise RateLimited(
            "Too many failed logins. Try again later.",
            headers={"Retry-After": str(wait)},
        )
    return attempt


def forget_failures(attempt: LoginTry) -> None:
    """A right password: wipe this username and address's failures (and this try)."""

    def wipe() -> None:
        db.session.execute(
            delete(LoginAttempt).where(
                LoginAttempt.username == attempt.username,
                LoginAttempt.address == attempt.address,
                LoginAttempt.id <= attempt.id,
            )
        )

    run_write(wipe)


def forget_try(attempt: LoginTry) -> None:
    """Not a guess after all (a form refused before any password was checked): drop this
    try alone."""
    run_write(lambda: db.session.execute(delete(LoginAttempt).filter_by(id=attempt.id)))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _delay(config: Any, over: int) -> timedelta:
    """The wait after the latest failure, once over failures past the free ones."""
    seconds = config["LOGIN_FIRST_DELAY_SECONDS"] * 2 ** min(over, 30)
    return timedelta(seconds=min(seconds, config["LOGIN_MAX_DELAY_SECONDS"]))


def locked_logins(usernames: list[str]) -> dict[str, int]:
    """Return the seconds each locked username still waits, by the same rules as start_login().

    A login waits after its latest failure once it has more than the free failures from
    one address, or more than USERNAME_FAILURE_FACTOR times that from all addresses.
    """
    config = current_app.config
    now = utcnow()
    memory = now - timedelta(seconds=config["LOGIN_FAILURE_MEMORY_SECONDS"])
    free = config["LOGIN_MAX_FAILURES"]
    rows = db.session.execute(
        select(LoginAttempt.username, func.count(), func.max(LoginAttempt.created_at))
        .where(LoginAttempt.username.in_(usernames), LoginAttempt.created_at > memory)
        .group_by(LoginAttempt.username, LoginAttempt.address)
    ).all()
    totals: dict[str, tuple[int, datetime]] = {}
    locked: dict[str, int] = {}

    def wait(username: str, failures: int, allowed: int, latest: datetime) -> None:
        if failures < allowed:
            return
        until = _aware(latest) + _delay(config, failures - allowed)
        left = math.ceil((until - now).total_seconds())
        if left > 0:
            locked[username] = max(left, locked.get(username, 0))

    for username, failures, latest in rows:
        wait(username, failures, free, latest)
        count, newest = totals.get(username, (0, latest))
        totals[username] = (count + failures, max(newest, latest))
    for username, (failures, latest) in totals.items():
        wait(username, failures, free * USERNAME_FAILURE_FACTOR, latest)
    return locked


def _wait(attempt: LoginTry, now: datetime) -> int | None:
    """Seconds this try must wait (per username and address, per username, and per
    address), or None."""
    config = current_app.config
    free = config["LOGIN_MAX_FAILURES"]
    memory = now - timedelta(seconds=config["LOGIN_FAILURE_MEMORY_SECONDS"])
    waits = []
    for same_address, allowed in ((True, free), (False, free * USERNAME_FAILURE_FACTOR)):
        earlier, latest = db.session.execute(
            select(func.count(), func.max(LoginAttempt.created_at)).where(
                LoginAttempt.username == attempt.username,
                LoginAttempt.address == attempt.address if same_address else true(),
                LoginAttempt.created_at > memory,
                LoginAttempt.id != attempt.id,
            )
        ).one()
        if earlier >= allowed:
            waits.append((_aware(latest) + _delay(config, earlier - allowed) - now).total_seconds())
    window = timedelta(seconds=config["LOGIN_FAILURE_WINDOW_SECONDS"])
    count, oldest = db.session.execute(
        select(func.count(), func.min(LoginAttempt.created_at)).where(
            LoginAttempt.address == attempt.address, LoginAttempt.created_at > now - window
        )
    ).one()
    if count > free * ADDRESS_FAILURE_FACTOR:
        waits.append((_aware(oldest) + window - now).total_seconds())
    wait = max(waits, default=0)
    return max(1, math.ceil(wait)) if wait > 0 else None
