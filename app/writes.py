"""How an API call that writes runs: one transaction, retried, and idempotent.

A view decorated with write_endpoint() runs inside run_write(): everything it
does commits together or not at all, and a transient database error runs it
again from the start. With an Idempotency-Key, the first outcome the request
reaches (a success, or a 409 business refusal) is stored in the same
transaction and replayed for every copy of the request: on PostgreSQL a copy
that arrives at the same instant waits on the key's unique index and then reads
the stored outcome; on SQLite writes queue behind BEGIN IMMEDIATE.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial, wraps
from typing import Any, NamedTuple, cast

from flask import Response, current_app, g, request
from sqlalchemy import Row, Table, bindparam, insert, select
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as AnyResponse

from app.db import OneOf, db, insert_or_skip, is_transient, run_write, utcnow
from app.errors import DomainError, IdempotencyConflict, problem
from app.idempotency import IdempotencyRecord

idempotency_records = cast(Table, IdempotencyRecord.__table__)
_STORED_OUTCOMES = select(
    idempotency_records.c.key,
    idempotency_records.c.request_hash,
    idempotency_records.c.status_code,
    idempotency_records.c.body,
    idempotency_records.c.location,
).where(
    idempotency_records.c.village_id == bindparam("village_id"),
    OneOf(idempotency_records.c.key, "keys"),
)

KEY_HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,64}")
# Outcomes worth replaying: successes and business refusals.
STORED_REFUSALS = {409}

IDEMPOTENCY_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": KEY_HEADER,
            "required": False,
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": "^[\\x21-\\x7e]{1,64}$",
            },
            "description": "Repeat the request with the same key to get the first outcome "
            "again with no second effect.",
        }
    ],
}


PAGE_KEY_PREFIX = "page:"


def page_key(form_key: str) -> str | None:
    """Return the idempotency key for a page form's hidden key, or None if it is not valid.

    Page keys live beside API keys, prefixed so that neither can replay the other.
    """
    key = PAGE_KEY_PREFIX + form_key
    return key if form_key and KEY_PATTERN.fullmatch(key) else None


class _KeyTaken(Exception):
    """Another copy of this request stored its outcome first."""


class _CheckKeyFirst(Exception):
    """The request failed before its key was checked: check it for a stored outcome first."""


class _Refused(Exception):
    """The request reached a business refusal; what it wrote must not be kept."""

    def __init__(self, response: AnyResponse):
        super().__init__(response.status_code)
        self.response = response


def request_fingerprint(user_id: int) -> str:
    """Hash who sent what to where, so a reused key with another request is caught.

    The body is hashed by meaning, not bytes: JSON with sorted keys, and a form by
    its fields and files (a retried upload gets a new multipart boundary).
    """
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        parts = sorted(f"{name}={value}" for name, value in request.form.items(multi=True))
        for name, upload in request.files.items(multi=True):
            data = upload.read()
            upload.seek(0)
            parts.append(
                f"{name}:{upload.filename}:{upload.mimetype}:{hashlib.sha256(data).hexdigest()}"
            )
        canonical = "\n".join(sorted(parts)).encode()
    else:
        body = request.get_data(cache=True)
        try:
            canonical = _canonical_json(json.loads(body or b"null"))
        except ValueError:
            canonical = body
    return fingerprint(
        request.method.encode(), request.path.encode(), str(user_id).encode(), canonical
    )


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_fingerprint(method: str, path: str, user_id: int, body: Any) -> str:
    """Return the fingerprint a JSON request with this body would have had.

    A batch item is kept under its key with the fingerprint it would have had if
    sent alone, so it replays (and is replayed by) that request.
    """
    return fingerprint(method.encode(), path.encode(), str(user_id).encode(), _canonical_json(body))


def fingerprint(*parts: bytes) -> str:
    """Hash the parts of a request unambiguously (each with its length).

    Keyed with the app's secret: a body may hold a password, and a plain hash of it
    kept beside the key could be guessed offline.
    """
    secret = current_app.secret_key or ""
    digest = hmac.new(secret.encode() if isinstance(secret, str) else secret, digestmod="sha256")
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _replay(record: Row) -> Response:
    if record.status_code >= 400:
        mimetype = "application/problem+json"
    elif 300 <= record.status_code < 400:
        mimetype = "text/html"
    else:
        mimetype = "application/json"
    response = Response(record.body, status=record.status_code, mimetype=mimetype)
    if record.location:
        response.headers["Location"] = record.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _valid_key() -> str | None:
    key = request.headers.get(KEY_HEADER)
    if key is None:
        return None
    if not KEY_PATTERN.fullmatch(key):
        raise _BadKey()
    return key


class _BadKey(DomainError):
    status, code, title = 400, "validation_error", "Validation error"

    def __init__(self):
        super().__init__(
            f"{KEY_HEADER} must be 1 to 64 visible ASCII characters.",
            errors={KEY_HEADER: ["Must be 1 to 64 visible ASCII characters."]},
        )


def problem_response(error: DomainError) -> Response:
    extra = dict(error.extra)
    extra.pop("headers", None)
    return problem(error.status, error.code, error.title, error.detail, **extra)


def _replay_stored(village_id: int, key: str, fingerprint: str) -> AnyResponse | None:
    """The outcome kept with the key, replayed; None if there is none yet."""
    stored = stored_outcomes(village_id, [key]).get(key)
    return None if stored is None else replayed(stored, fingerprint)


def replayed(stored: Row, fingerprint: str) -> Response:
    """Replay an outcome kept with a key, if the request is the one that kept it."""
    same_request(stored.request_hash, fingerprint)
    return _replay(stored)


def same_request(kept: str, fingerprint: str) -> None:
    """Refuse a key sent again with another request than the one it was kept with."""
    if kept != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was used with a different request.")


def stored_outcomes(village_id: int, keys: Collection[str]) -> dict[str, Row]:
    """The outcomes kept with any of the keys, in one read: key -> its record."""
    if not keys:
        return {}
    rows = db.session.connection().execute(
        _STORED_OUTCOMES, {"village_id": village_id, "keys": list(keys)}
    )
    return {row.key: row for row in rows}


class StoredOutcome(NamedTuple):
    """An answer as stored with its key: what every replay of it sends back."""

    status_code: int
    body: str
    location: str | None

    @classmethod
    def of(cls, response: AnyResponse) -> "StoredOutcome":
        """What a response stores with its key."""
        return cls(
            response.status_code, response.get_data(as_text=True), response.headers.get("Location")
        )


def _record(village_id: int, key: str, fingerprint: str, outcome: StoredOutcome) -> dict:
    return {
        "village_id": village_id,
        "key": key,
        "request_hash": fingerprint,
        "status_code": outcome.status_code,
        "body": outcome.body,
        "location": outcome.location,
        "created_at": utcnow(),
    }


def _store(village_id: int, key: str, fingerprint: str, response: AnyResponse) -> bool:
    """Keep the response with the key; False when another copy kept one first."""
    stored = (
        db.session.connection()
        .execute(
            insert_or_skip(idempotency_records),
            _record(village_id, key, fingerprint, StoredOutcome.of(response)),
        )
        .scalar_one_or_none()
    )
    return stored is not None


def store_all(village_id: int, outcomes: Sequence[tuple[str, str, StoredOutcome]]) -> None:
    """Keep each (key, fingerprint, outcome) in one INSERT.

    For keys read as new in this transaction: a key kept meanwhile by another
    request fails the INSERT (IntegrityError) and the caller decides again.
    """
    if outcomes:
        db.session.execute(
            insert(idempotency_records),
            [_record(village_id, key, digest, outcome) for key, digest, outcome in outcomes],
        )


def decide_once(
    village_id: int, key: str, fingerprint: str, produce: Callable[[], AnyResponse]
) -> AnyResponse:
    """Run produce() once per key in a savepoint of the open write transaction.

    What run_idempotent() does for a request, for one item of a batch that runs all
    its items in one transaction: the item's writes and its key's row are released
    together, or rolled back to the savepoint alone (a refusal, an error, a key seen
    before) so that the other items keep theirs. A key seen before, in an earlier
    request or earlier in this batch, answers its stored outcome; a business refusal
    is kept with the key like a success. Non-business errors are raised, as the
    request would have answered them; a transient database error (a serialization
    failure, a deadlock) is raised too, and run_write() runs the whole batch again.
    """
    savepoint = db.session.begin_nested()
    try:
        response = _as_response(produce())
        if _store(village_id, key, fingerprint, response):
            savepoint.commit()
            return response
        savepoint.rollback()
    except DomainError as error:
        savepoint.rollback()
        replayed = _replay_stored(village_id, key, fingerprint)
        if replayed is not None:
            return replayed
        if error.status not in STORED_REFUSALS:
            raise
        refusal = problem_response(error)
        if _store(village_id, key, fingerprint, refusal):
            return refusal
    except HTTPException:
        savepoint.rollback()
        replayed = _replay_stored(village_id, key, fingerprint)
        if replayed is not None:
            return replayed
        raise
    except DBAPIError as error:
        if savepoint.is_active:
            savepoint.rollback()
        if is_transient(error):
            raise
        replayed = _replay_stored(village_id, key, fingerprint)
        if replayed is not None:
            return replayed
        raise
    # The key was kept by another copy of the request (or an item before this one).
    replayed = _replay_stored(village_id, key, fingerprint)
    if replayed is None:  # pragma: no cover - a kept key is there to read
        raise AssertionError(f"the outcome kept with key {key!r} is missing")
    return replayed


def run_idempotent(
    village_id: int,
    key: str,
    fingerprint: str,
    produce: Callable[[], AnyResponse],
    *,
    on_refusal: Callable[[DomainError], AnyResponse] = problem_response,
    check_key_first: bool = False,
) -> AnyResponse:
    """Run produce() once per key: store its response, or a business refusal, with the key.

    Every later call with the key gets the stored response back (marked
    Idempotent-Replayed); a call with the key and another fingerprint is refused.

    The key is not looked up first: the key's row is inserted last, in the same
    transaction as what produce() wrote, with INSERT ... ON CONFLICT DO NOTHING,
    and a conflict (or an error, which a replay may meet where the first request
    did not) rolls back and runs again checking the key first. check_key_first
    checks it from the start: for work with effects outside the database (a photo
    written to disk), which a rolled-back copy would leave behind. A copy of the
    request that ran at the same instant waits there on the key's unique index;
    when it finds the key taken it rolls back everything it did and replays the
    stored outcome. A business refusal rolls back what the request wrote and
    stores the refusal alone, in a transaction of its own.
    """
    run = _KeyedRun(village_id, key, fingerprint, produce, on_refusal)
    for _ in range(3):
        try:
            return run_write(partial(run.work, check_key_first))
        except (_KeyTaken, _CheckKeyFirst):
            check_key_first = True
        except DBAPIError:
            # Such as a unique index that only a copy of this request can hit.
            if check_key_first:
                raise
            check_key_first = True
        except _Refused as refused:
            try:
                return run_write(partial(run.keep_refusal, refused.response))
            except _KeyTaken:
                check_key_first = True
    return run_write(partial(run.work, True))


@dataclass(frozen=True)
class _KeyedRun:
    """One request under its Idempotency-Key, as run_idempotent() runs it."""

    village_id: int
    key: str
    fingerprint: str
    produce: Callable[[], AnyResponse]
    on_refusal: Callable[[DomainError], AnyResponse]

    def stored(self) -> AnyResponse | None:
        return _replay_stored(self.village_id, self.key, self.fingerprint)

    def store(self, response: AnyResponse) -> bool:
        return _store(self.village_id, self.key, self.fingerprint, response)

    def work(self, check_key_first: bool) -> AnyResponse:
        """Run produce() and store its response with the key, in the open transaction.

        Optimistic unless told: a key is almost always new, so the stored-outcome
        lookup is folded into the write (the INSERT ... ON CONFLICT of store()). A
        key seen before shows as a conflict there, or as an error of a request that
        cannot be done twice; both roll back and check the key first (_CheckKeyFirst).
        """
        if check_key_first:
            replayed = self.stored()
            if replayed is not None:
                return replayed
        try:
            response = _as_response(self.produce())
        except DomainError as error:
            if error.status in STORED_REFUSALS:
                raise _Refused(self.on_refusal(error)) from None
            if check_key_first:
                raise
            raise _CheckKeyFirst() from None
        except HTTPException:
            if check_key_first:
                raise
            raise _CheckKeyFirst() from None
        if not self.store(response):
            raise _KeyTaken()
        return response

    def keep_refusal(self, response: AnyResponse) -> AnyResponse:
        """Store a business refusal alone, or replay what a copy stored first."""
        if self.store(response):
            return response
        replayed = self.stored()
        if replayed is None:
            raise _KeyTaken()
        return replayed


def write_endpoint(view: Callable, village: Callable[..., int] | None = None) -> Callable:
    """Run an API view in one retried write transaction, honouring Idempotency-Key.

    Use it below the route and above smorest's arguments/response decorators, so
    that what is stored is the response exactly as the client first got it.
    village(**path arguments): the village a key is kept in, for a caller of none
    of its own (a township); by default the caller's village.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = _valid_key()
        if key is None:
            return run_write(lambda: view(*args, **kwargs))
        user = g.user  # role_required, above this decorator, has loaded it
        return run_idempotent(
            village(**kwargs) if village is not None else user.village_id,
            key,
            request_fingerprint(user.id),
            lambda: view(*args, **kwargs),
            check_key_first=bool(request.files),  # an upload is stored on disk
        )

    return begins_write(wrapper)


def begins_write(view: Callable) -> Callable:
    """Mark a view that writes: role_required() reads the caller in the write transaction."""
    view.writes = True  # type: ignore[attr-defined]
    return view


def _as_response(result) -> Response:
    from flask import make_response

    return make_response(result)
