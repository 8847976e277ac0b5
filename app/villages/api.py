"""Grids API."""

from flask import g, url_for
from flask_smorest import Blueprint

from app.auth.decorators import role_required
from app.auth.models import ADMIN, STAFF
from app.villages import services
from app.villages.schemas import GridIn, GridList, GridOut
from app.writes import write_endpoint

blp = Blueprint(
    "grids_api", __name__, url_prefix="/api/v1/grids", description="The village's grids (网格)."
)


@blp.get("")
@role_required(*STAFF)
@blp.response(200, GridList)
def list_grids():
    """List the village's grids."""
    return {"items": services.list_grids(g.user.village_id)}


@blp.post("")
@role_required(ADMIN)
@write_endpoint
@blp.arguments(GridIn)
@blp.response(201, GridOut)
def create_grid(args):
    """Add a grid."""
    grid = services.create_grid(g.user.village_id, args["name"])
    return grid, 201, {"Location": url_for("grids_api.get_grid", grid_id=grid.id)}


@blp.get("/<id:grid_id>")
@role_required(*STAFF)
@blp.response(200, GridOut)
def get_grid(grid_id: int):
    """One grid."""
    return services.get_grid(g.user.village_id, grid_id)
