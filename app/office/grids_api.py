"""Grids API."""

from flask_smorest import Blueprint

from app.actions import action, location_of, reading
from app.auth.models import ADMIN, STAFF
from app.scope import Scope, current_scope
from app.villages import services
from app.villages.models import Grid
from app.villages.schemas import GridIn, GridList, GridOut, GridPatch

blp = Blueprint(
    "grids_api", __name__, url_prefix="/api/v1/grids", description="The village's grids (网格)."
)


@reading(blp, "", roles=STAFF, out=GridList)
def list_grids():
    """List the village's grids."""
    return {"items": services.list_grids(current_scope().village_id)}


@action(
    blp,
    "",
    roles=(ADMIN,),
    schema=GridIn,
    out=GridOut,
    status=201,
    location=location_of("grids_api.get_grid", grid_id="id"),
)
def create_grid(scope: Scope, data: dict) -> Grid:
    """Add a grid."""
    return services.create_grid(scope.village_id, data["name"], actor_id=scope.user_id)


@reading(blp, "/<id:grid_id>", roles=STAFF, out=GridOut)
def get_grid(grid_id: int):
    """One grid."""
    return services.get_grid(current_scope().village_id, grid_id)


@action(blp, "/<id:grid_id>", method="PATCH", roles=(ADMIN,), schema=GridPatch, out=GridOut)
def rename_grid(scope: Scope, data: dict, grid_id: int) -> Grid:
    """Rename a grid; its number, households and inspectors stay."""
    grid = services.get_grid(scope.village_id, grid_id)
    return services.rename_grid(grid, data["name"], actor_id=scope.user_id)
