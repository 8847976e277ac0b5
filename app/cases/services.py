"""Reporting a case, moving it through the transition table, paying for a valid report."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.audit.services import CASE_SUPERVISED, record
from app.auth.models import ADMIN, INSPECTOR, TOWNSHIP, User, UserGrid
from app.auth.reach import may_write, reachable_villages
from app.cases import transitions
from app.cases.models import (
    AFTER,
    CLOSED,
    DISPATCHED,
    RESOLVED,
    WORKING_STATES,
    Case,
    CaseEvent,
    CasePhoto,
)
from app.cases.stations import get_station, village_grid
from app.db import db, utcnow
from app.errors import DomainError, Forbidden, NotFound, ReadOnly, ValidationFailed
from app.households.models import Household
from app.ledger.models import ISSUANCE, JournalKind
from app.ledger.services import Leg, post, posting_accounts, reverse
from app.photos import store_photo
from app.rules.cases import CaseRules, case_rules
from app.scope import day_start, local_date, village_zone
from app.villages.models import Village

MAX_EXTENSION_HOURS = 15 * 24
ADMIN_REOPEN_DAYS = 30
# Past this share of its time, an unresolved case escalates to the township.
TOWNSHIP_ESCALATION = 1.5


class InvalidTransition(DomainError):
    status, code, title = 409, "invalid_transition", "Not allowed in the case's state"


class PhotoRequired(DomainError):
    status, code, title = 422, "photo_required", "An after-photo is required"


def case_code(case: Case) -> str:
    village = db.session.get(Village, case.village_id)
    return f"{village.code if village else 'X'}-R{case.id:05d}"


def _assignee_for(village_id: int, grid_id: int) -> int | None:
    """The inspector of the grid with the fewest open cases; none: the village's admins."""
    open_cases = (
        select(func.count(Case.id))
        .where(Case.assignee_id == User.id, Case.state.in_(WORKING_STATES))
        .scalar_subquery()
    )
    return db.session.scalar(
        select(User.id)
        .join(UserGrid, UserGrid.user_id == User.id)
        .where(
            User.village_id == village_id,
            User.role == INSPECTOR,
            User.active.is_(True),
            UserGrid.grid_id == grid_id,
        )
        .order_by(open_cases, User.id)
        .limit(1)
    )


def add_event_row(
    case: Case, actor: User | None, action: str, before: str | None, note: str | None
) -> None:
    """Append the case's event for an action just taken (the case holds its new state)."""
    db.session.add(
        CaseEvent(
            case_id=case.id,
            village_id=case.village_id,
            actor_id=actor.id if actor else None,
            action=action,
            from_state=before,
            to_state=case.state,
            note=note,
            created_at=case.updated_at,
        )
    )


def report_case(
    reporter: User | None,
    village_id: int,
    *,
    category: str,
    description: str | None = None,
    station_id: int | None = None,
    grid_id: int | None = None,
    lat: float | None = None,
    lng: float | None = None,
    anonymous: bool = False,
    source: str = "app",
    address: str | None = None,
    contact: str | None = None,
) -> Case:
    """Record a reported problem and dispatch it at once to its grid's worker."""
    rules = case_rules(village_id)
    chosen = rules.category(category)
    if chosen is None:
        raise ValidationFailed(
            "Unknown category.",
            errors={"category": [f"One of {[c.code for c in rules.categories]}."]},
        )
    household = _reporter_household(reporter)
    if station_id is not None:
        try:
            station = get_station(village_id, station_id)
        except NotFound:
            raise ValidationFailed(
                "No such collection point in this village.",
                errors={"station_id": ["Unknown collection point."]},
            ) from None
        grid_id = station.grid_id
    elif grid_id is not None:
        village_grid(village_id, grid_id)
    elif household is not None:
        grid_id = household.grid_id
    else:
        raise ValidationFailed(
            "Say where: a collection point or a grid.",
            errors={"grid_id": ["Give station_id or grid_id."]},
        )
    now = utcnow()
    case = Case(
        village_id=village_id,
        category=chosen.code,
        description=description,
        state=DISPATCHED,
        grid_id=grid_id,
        station_id=station_id,
        assignee_id=_assignee_for(village_id, grid_id),
        reporter_id=reporter.id if reporter else None,
        reporter_household_id=household.id if household else None,
        reporter_contact=contact,
        anonymous=anonymous,
        source=source,
        lat=lat,
        lng=lng,
        address=address,
        created_at=now,
        updated_at=now,
        due_at=now + timedelta(hours=chosen.hours),
    )
    db.session.add(case)
    db.session.flush()
    add_event_row(case, reporter, "report", None, description)
    db.session.flush()
    return case


def _reporter_household(reporter: User | None) -> Household | None:
    if reporter is None or reporter.household_id is None or reporter.role != "household":
        return None
    return db.session.get(Household, reporter.household_id)


def get_case(village_id: int, case_id: int, *, lock: bool = False) -> Case:
    """The village's case; lock: its row locked, read afresh.

    A page reads the case before it writes (the after-photo); under READ COMMITTED
    the locked read returns the row another transaction just committed, and
    populate_existing makes the session take it instead of the copy read before.
    """
    query = select(Case).where(Case.id == case_id, Case.village_id == village_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    case = db.session.scalar(query)
    if case is None:
        raise NotFound("No such case.")
    return case


def township_case_village(user: User, case_id: int) -> int:
    """The village of a case in one of the township user's villages; any other: 404."""
    village_id = db.session.scalar(select(Case.village_id).where(Case.id == case_id))
    if village_id is None or village_id not in reachable_villages(user):
        raise NotFound("No such case.")
    return village_id


def visible_case(viewer: User, village_id: int, case_id: int) -> Case:
    """A case the viewer may see; any other answers 404, as a missing one does."""
    case = get_case(village_id, case_id)
    if not transitions.may_see(viewer, case):
        raise NotFound("No such case.")
    return case


def add_photo(viewer: User, case: Case, stage: str, data: bytes) -> CasePhoto:
    """Keep a photo of a case: the reporter's or the worker's, before or after the fix."""
    if not (transitions.is_worker(viewer, case) or transitions.is_reporter(viewer, case)):
        raise Forbidden("Only the reporter, the grid's worker or an admin adds photos.")
    if stage == AFTER and not transitions.is_worker(viewer, case):
        raise Forbidden("The after-photo is taken by the worker who fixed it.")
    photo = CasePhoto(
        case_id=case.id,
        village_id=case.village_id,
        stage=stage,
        filename=store_photo(data, field="file"),
        actor_id=viewer.id,
    )
    db.session.add(photo)
    db.session.flush()
    return photo


def set_photo_public(case: Case, photo_id: int, public: bool) -> CasePhoto:
    photo = db.session.get(CasePhoto, photo_id)
    if photo is None or photo.case_id != case.id:
        raise NotFound("No such photo.")
    photo.public = public
    db.session.flush()
    return photo


@dataclass
class EventRequest:
    action: str
    note: str | None = None
    duplicate_of: int | None = None
    assignee_id: int | None = None
    grid_id: int | None = None
    hours: int | None = None
    extra: dict = field(default_factory=dict)


def act(actor: User, village_id: int, case_id: int, request: EventRequest) -> Case:
    """Take one action on a case by the transition table; the case row is locked meanwhile."""
    move = transitions.TRANSITIONS.get(request.action)
    if move is None:
        raise ValidationFailed("Unknown action.", errors={"action": ["Unknown action."]})
    case = get_case(village_id, case_id, lock=True)
    if not transitions.may_see(actor, case):
        raise NotFound("No such case.")
    if not may_write(actor) and request.action not in transitions.READ_ONLY_ACTIONS:
        raise ReadOnly("A township supervises (督办) a case and changes nothing else.")
    if not move.who(actor, case):
        raise Forbidden("Your role may not do this to this case.")
    if move.sources is not None and case.state not in move.sources:
        raise InvalidTransition(f"A case that is {case.state} cannot be {request.action}ed.")
    before = case.state
    case.updated_at = utcnow()
    CHECKS.get(request.action, _no_check)(actor, case, request)
    if move.target is not None:
        case.state = move.target
    EFFECTS.get(request.action, _no_effect)(actor, case, request)
    add_event_row(case, actor, request.action, before, request.note)
    db.session.flush()
    return case


def _no_check(actor: User, case: Case, request: EventRequest) -> None:
    pass


def _no_effect(actor: User, case: Case, request: EventRequest) -> None:
    pass


def _check_resolve(actor: User, case: Case, request: EventRequest) -> None:
    has_after = db.session.scalar(
        select(CasePhoto.id).where(CasePhoto.case_id == case.id, CasePhoto.stage == AFTER).limit(1)
    )
    if has_after is None:
        raise PhotoRequired("Take the after-photo first: POST /api/v1/cases/{id}/photos.")


def _check_reopen(actor: User, case: Case, request: EventRequest) -> None:
    now = case.updated_at
    if transitions.is_reporter(actor, case) and actor.role != ADMIN:
        if case.state != RESOLVED:
            raise InvalidTransition("A closed case is reopened by the village's admins.")
        if not request.note:
            raise ValidationFailed(
                "Say what is still wrong.", errors={"note": ["Required to reopen."]}
            )
        days = case_rules(case.village_id).confirm_days
        if case.resolved_at and now > case.resolved_at + timedelta(days=days):
            raise InvalidTransition(f"A case is reopened within {days} days of being resolved.")
        return
    if case.state != CLOSED:
        raise InvalidTransition("An admin reopens a closed case.")
    if case.closed_at and now > case.closed_at + timedelta(days=ADMIN_REOPEN_DAYS):
        raise InvalidTransition(f"A case is reopened within {ADMIN_REOPEN_DAYS} days of closing.")


def _check_duplicate(actor: User, case: Case, request: EventRequest) -> None:
    original = request.duplicate_of
    if original is None:
        raise ValidationFailed("Name the case it repeats.", errors={"duplicate_of": ["Required."]})
    other = db.session.get(Case, original)
    if other is None or other.village_id != case.village_id or other.id == case.id:
        raise ValidationFailed(
            "No such other case in this village.", errors={"duplicate_of": ["Unknown case."]}
        )


def _check_transfer(actor: User, case: Case, request: EventRequest) -> None:
    if request.grid_id is None:
        raise ValidationFailed("Name the grid.", errors={"grid_id": ["Required."]})
    village_grid(case.village_id, request.grid_id)


def _check_reassign(actor: User, case: Case, request: EventRequest) -> None:
    user = db.session.get(User, request.assignee_id) if request.assignee_id else None
    if user is None or user.village_id != case.village_id or user.role not in (ADMIN, INSPECTOR):
        raise ValidationFailed(
            "Name an inspector or admin of the village.", errors={"assignee_id": ["Unknown user."]}
        )


def _check_extend(actor: User, case: Case, request: EventRequest) -> None:
    hours = request.hours
    if hours is None or hours < 1 or case.extended_hours + hours > MAX_EXTENSION_HOURS:
        raise ValidationFailed(
            f"A case is extended by at most {MAX_EXTENSION_HOURS} hours in all.",
            errors={"hours": [f"1 to {MAX_EXTENSION_HOURS - case.extended_hours} hours."]},
        )


def _check_comment(actor: User, case: Case, request: EventRequest) -> None:
    if not request.note:
        raise ValidationFailed("Write the comment.", errors={"note": ["Required."]})


def _resolved(actor: User, case: Case, request: EventRequest) -> None:
    case.resolved_at = case.updated_at


def _closed(actor: User, case: Case, request: EventRequest) -> None:
    case.closed_at = case.updated_at
    pay_reward(case, actor_id=actor.id if actor else None)


def _reopened(actor: User, case: Case, request: EventRequest) -> None:
    case.reopened += 1
    case.resolved_at = None
    case.closed_at = None
    case.auto_confirmed = False


def _duplicated(actor: User, case: Case, request: EventRequest) -> None:
    case.duplicate_of_id = request.duplicate_of


def _invalidated(actor: User, case: Case, request: EventRequest) -> None:
    if case.reward_journal_id is not None:
        reverse(
            case.reward_journal_id,
            village_id=case.village_id,
            actor_id=actor.id,
            reason=request.note or "上报无效",
        )


def _transferred(actor: User, case: Case, request: EventRequest) -> None:
    assert request.grid_id is not None
    case.grid_id = request.grid_id
    case.station_id = None
    case.assignee_id = _assignee_for(case.village_id, request.grid_id)


def _reassigned(actor: User, case: Case, request: EventRequest) -> None:
    case.assignee_id = request.assignee_id


def _extended(actor: User, case: Case, request: EventRequest) -> None:
    assert request.hours is not None
    case.extended_hours += request.hours
    case.due_at = case.due_at + timedelta(hours=request.hours)


def _supervised(actor: User, case: Case, request: EventRequest) -> None:
    case.supervised = True
    record(
        case.village_id,
        actor.id,
        CASE_SUPERVISED,
        "case",
        case.id,
        {"name": case_code(case)},
        reason=request.note,
    )


CHECKS = {
    "resolve": _check_resolve,
    "reopen": _check_reopen,
    "mark_duplicate": _check_duplicate,
    "transfer": _check_transfer,
    "reassign": _check_reassign,
    "extend": _check_extend,
    "comment": _check_comment,
}
EFFECTS = {
    "resolve": _resolved,
    "confirm": _closed,
    "reopen": _reopened,
    "mark_duplicate": _duplicated,
    "mark_invalid": _invalidated,
    "transfer": _transferred,
    "reassign": _reassigned,
    "extend": _extended,
    "supervise": _supervised,
}


def pay_reward(case: Case, *, actor_id: int | None, rules: CaseRules | None = None) -> None:
    """Credit the reporting household for a valid closed case: once, within the daily cap.

    The caller holds the case's row lock; the household's row is locked too, so two
    cases closing at once cannot both take the day's last rewarded slot. The journal's
    business key names the case: a second posting for it collides in the database.
    """
    rules = rules or case_rules(case.village_id)
    if case.reporter_household_id is None or rules.points <= 0 or case.reward_journal_id:
        return
    household = db.session.scalar(
        select(Household).where(Household.id == case.reporter_household_id).with_for_update()
    )
    if household is None or household.status != "active":
        return
    zone = village_zone(case.village_id)
    day = local_date(case.created_at, zone)
    rewarded = db.session.scalar(
        select(func.count(Case.id)).where(
            Case.reporter_household_id == household.id,
            Case.reward_journal_id.is_not(None),
            Case.created_at >= day_start(zone, day),
            Case.created_at < day_start(zone, day + timedelta(days=1)),
        )
    )
    if (rewarded or 0) >= rules.daily_cap:
        return
    account, issuance = posting_accounts(case.village_id, household.id, ISSUANCE)
    posted = post(
        case.village_id,
        JournalKind.REPORT,
        [Leg(issuance, account, rules.points)],
        memo=f"上报 {case_code(case)}",
        actor_id=actor_id,
        business_key=f"report:{case.id}",
    )
    case.reward_journal_id = posted.id
    case.reward_points = rules.points


def escalation(case: Case, now: datetime) -> str | None:
    """Who an unresolved case has escalated to by now: "admins", "township" or none."""
    if case.state not in WORKING_STATES or now < case.due_at:
        return None
    township_at = case.created_at + (case.due_at - case.created_at) * TOWNSHIP_ESCALATION
    return "township" if now >= township_at else "admins"


def is_overdue(case: Case, now: datetime) -> bool:
    return case.state in WORKING_STATES and now > case.due_at


def reporter_visible(viewer: User | None, case: Case) -> bool:
    """Admins and the reporter see who reported; the grid worker unless anonymous; no other."""
    if viewer is None or viewer.role == TOWNSHIP:
        return False
    if viewer.role == ADMIN or transitions.is_reporter(viewer, case):
        return True
    return viewer.role in (INSPECTOR, "storekeeper") and not case.anonymous
