"""Audit API: the village's log of admin actions."""

from flask_smorest import Blueprint

from app.audit.models import AuditEvent
from app.audit.schemas import AuditList, AuditQuery
from app.auth.decorators import role_required
from app.auth.models import ADMIN
from app.errors import ValidationFailed
from app.office.services import list_events
from app.scope import current_scope, utc_bounds

blp = Blueprint(
    "audit_api",
    __name__,
    url_prefix="/api/v1/audit",
    description="Who did which admin action, when and why (操作日志).",
)


def event_out(event: AuditEvent, username: str | None) -> dict:
    """The API's view of an audit event."""
    return {
        "id": event.id,
        "action": event.action,
        "actor_id": event.actor_id,
        "actor": username,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "details": event.details,
        "reason": event.reason,
        "created_at": event.created_at,
    }


@blp.get("")
@role_required(ADMIN)
@blp.arguments(AuditQuery(), location="query")
@blp.response(200, AuditList)
@blp.alt_response(422, description="validation_error: from after to, or an unknown action")
def list_audit_events(args):
    """The village's audit events, newest first, filtered by action, actor and village days."""
    scope = current_scope()
    village_id = scope.village_id
    day_from, day_to = args.get("day_from"), args.get("day_to")
    if day_from and day_to and day_from > day_to:
        raise ValidationFailed(
            "The range starts after it ends.", errors={"from": ["Must not be after to."]}
        )
    zone = scope.zone
    start = utc_bounds(zone, day_from, day_from)[0] if day_from else None
    end = utc_bounds(zone, day_to, day_to)[1] if day_to else None
    page = list_events(
        village_id,
        action=args.get("action"),
        actor_id=args.get("actor_id"),
        start=start,
        end=end,
        limit=args["limit"],
        offset=args["offset"],
    )
    return {
        "items": [event_out(event, username) for event, username in page.items],
        "total": page.total,
        "limit": args["limit"],
        "offset": args["offset"],
    }
