"""Villages API: the villages a user reaches (a township's, or an admin's own)."""

from flask import g
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN, TOWNSHIP
from app.db import reads_may_lag
from app.scope import reachable_villages
from app.townships import services
from app.townships.schemas import VillageList

blp = Blueprint(
    "villages_api",
    __name__,
    url_prefix="/api/v1/villages",
    description="The villages a township reads (乡镇/街道), or an admin's own village.",
)


@blp.get("")
@role_required(ADMIN, TOWNSHIP)
@blp.response(200, VillageList)
@reads_may_lag
def list_villages():
    """List the villages the caller reads, with households and outstanding points now."""
    return {"items": services.village_list(reachable_villages(g.user))}
