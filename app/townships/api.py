"""Villages API: the villages a user reaches (a township's, or an admin's own)."""

from flask import g
from flask_smorest import Blueprint

from app.actions import reading
from app.auth.models import ADMIN, TOWNSHIP
from app.auth.reach import reachable_villages
from app.townships import services
from app.townships.schemas import VillageList

blp = Blueprint(
    "villages_api",
    __name__,
    url_prefix="/api/v1/villages",
    description="The villages a township reads (乡镇/街道), or an admin's own village.",
)


@reading(blp, "", roles=(ADMIN, TOWNSHIP), out=VillageList, may_lag=True)
def list_villages():
    """List the villages the caller reads, with households and outstanding points now."""
    return {"items": services.village_list(reachable_villages(g.user))}
