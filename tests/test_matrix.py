"""Who may call what: every route of the app against every kind of caller.

MATRIX has one row per (method, rule) of the URL map, pages and API alike, and one
column per caller: nobody, the village's admin, inspector and storekeeper, a
resident (for its own household where the path names one), and the admin,
inspector and storekeeper of another village reaching for the first village's
objects. A route with no row fails the test, so no endpoint goes out unreviewed.

Every request is valid apart from who sends it, so the role and the village are
what decide. For every route the refused callers go first: a refused write must
change nothing in the database, and another village's caller must never see the
first village's data, whatever it is answered.
"""

import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import text
from testsupport import PARAMETER, PASSWORD, bearer, csrf_token, openapi_path, png_bytes

from app.appeals.models import Appeal
from app.appeals.services import file_appeal
from app.auth.models import ADMIN, HOUSEHOLD, INSPECTOR, STOREKEEPER, User
from app.auth.services import create_user, issue_token
from app.cases.models import Station
from app.cases.services import add_photo, report_case
from app.cases.stations import create_station, station_token
from app.catalogue.services import create_good
from app.db import db, utcnow
from app.errors import AlreadyInspectedToday
from app.fairness.models import SpotCheck, SpotCheckItem
from app.households.cards import make_token
from app.households.models import Household
from app.households.services import create_household
from app.inspections.models import Inspection
from app.inspections.services import record_inspection
from app.ledger.approvals import request as request_adjustment
from app.ledger.services import adjust, household_account
from app.office.services import create_village
from app.photos import store_photo
from app.redemptions.services import LineRequest, redeem_goods
from app.scope import village_today
from app.townships.services import create_township, create_township_user, move_village
from app.villages.models import Grid, Village
from app.villages.services import create_grid

CALLERS = (
    "anon",
    "admin",
    "inspector",
    "storekeeper",
    "household",
    "admin2",
    "inspector2",
    "storekeeper2",
)
OTHER_VILLAGE = ("admin2", "inspector2", "storekeeper2")
# A township's users (issue 18): "town" reads village 1's figures, "town2" is of
# another township (it has village 2). Their cells are TOWNSHIP_CELLS, below MATRIX.
TOWNSHIPS = ("town", "town2")

# Another village's object named in the path: refused, never shown.
X = frozenset({403, 404})
# Another village's object named in the body or the query: refused as above, or
# refused as a field that names nothing in the caller's village.
XB = frozenset({403, 404, 422})
# A page form that answers a refusal by redirecting back to its page (which then
# answers 404); what counts is that nothing changed.
XR = frozenset({302, 403, 404})
# A page that sends nobody to the login form.
LOGIN = "login"
# 403 read_only: a township asked to change a village's data.
RO = "read_only"

Cell = int | frozenset | str

# fmt: off
MATRIX: dict[str, tuple[Cell, ...]] = {
    #    anon   admin  insp   store  house  admin2 insp2  store2
    # Pages anyone may open.
    "GET /":
        (LOGIN, 302,   302,   302,   302,   302,   302,   302),
    "GET /healthz":
        (200,   200,   200,   200,   200,   200,   200,   200),
    # For the monitoring, answered by address (loopback here), never by login.
    "GET /metrics":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "GET /login":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "POST /login":
        (302,   302,   302,   302,   302,   302,   302,   302),
    "POST /logout":
        (302,   302,   302,   302,   302,   302,   302,   302),
    "GET /lang/<code>":
        (302,   302,   302,   302,   302,   302,   302,   302),
    "GET /q/<token>":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "GET /home":
        (LOGIN, 200,   200,   200,   302,   200,   200,   200),
    "GET /my":
        (LOGIN, 403,   403,   403,   200,   403,   403,   403),
    # The photo of one of the resident's own 0-point grades (the target is not one: 404).
    "GET /my/feedback/<id:inspection_id>/photo":
        (LOGIN, 403,   403,   403,   404,   403,   403,   403),
    # A family member changes their own password (issue 31).
    "GET /my/password":
        (LOGIN, 403,   403,   403,   200,   403,   403,   403),
    "POST /my/password":
        (LOGIN, 403,   403,   403,   302,   403,   403,   403),
    # The inspector's pages.
    "GET /inspect":
        (LOGIN, 200,   200,   403,   403,   200,   200,   403),
    "GET /inspect/card":
        (LOGIN, 302,   302,   403,   403,   302,   302,   403),
    "GET /inspect/household/<id:household_id>":
        (LOGIN, 200,   200,   403,   403,   X,     X,     403),
    "POST /inspect/household/<id:household_id>":
        (LOGIN, 302,   302,   403,   403,   X,     X,     403),
    "GET /inspect/done/<id:inspection_id>":
        (LOGIN, 200,   200,   403,   403,   X,     X,     403),
    # Undo and note after the grade: the admin voids any grade; its inspector undoes
    # and notes his own for a few minutes (the admin's note on another's grade: 403).
    "POST /inspect/done/<id:inspection_id>/undo":
        (LOGIN, 302,   302,   403,   403,   X,     X,     403),
    "POST /inspect/done/<id:inspection_id>/note":
        (LOGIN, 403,   302,   403,   403,   X,     X,     403),
    "POST /inspect/token":
        (LOGIN, 200,   200,   403,   403,   200,   200,   403),
    "GET /sw.js":
        (200,   200,   200,   200,   200,   200,   200,   200),
    # The inspector app's words (UI text, the same for everyone).
    "GET /inspect/texts.js":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "GET /api/v1/roster":
        (401,   200,   200,   403,   403,   200,   200,   403),
    # The storekeeper's pages.
    "GET /shop":
        (LOGIN, 200,   403,   200,   403,   200,   403,   200),
    "GET /shop/card":
        (LOGIN, 302,   403,   302,   403,   302,   403,   302),
    # Finding a household without its card (issue 15): the counter and the inspector.
    "GET /find":
        (LOGIN, 200,   200,   200,   403,   200,   200,   200),
    "GET /shop/household/<id:household_id>":
        (LOGIN, 200,   403,   200,   403,   X,     403,   X),
    "POST /shop/household/<id:household_id>":
        (LOGIN, 302,   403,   302,   403,   X,     403,   X),
    "GET /shop/receipts/<id:redemption_id>":
        (LOGIN, 200,   403,   200,   403,   X,     403,   X),
    "POST /shop/receipts/<id:redemption_id>/cancel":
        (LOGIN, 302,   403,   302,   403,   XR,    403,   XR),
    # The catalogue pages: admin and storekeeper.
    "GET /admin/goods":
        (LOGIN, 200,   403,   200,   403,   200,   403,   200),
    "POST /admin/goods":
        (LOGIN, 302,   403,   302,   403,   302,   403,   302),
    "GET /admin/goods/<id:good_id>":
        (LOGIN, 200,   403,   200,   403,   X,     403,   X),
    "POST /admin/goods/<id:good_id>/<action>":
        (LOGIN, 302,   403,   302,   403,   XR,    403,   XR),
    # The admin's pages.
    "GET /admin/dashboard":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/board":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/board.pdf":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/reports":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/reports/export/<any(summary, inspections, redemptions, ledger, households, stock_movements):what>.<any(csv, xlsx):fmt>":  # noqa: E501
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/expiring":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/rules":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "POST /admin/rules":
        (LOGIN, 302,   403,   403,   403,   302,   403,   403),
    "GET /admin/cards":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/cards.pdf":
        (LOGIN, 200,   403,   403,   403,   XB,    403,   403),
    "GET /admin/households":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/households/new":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "POST /admin/households/new":
        (LOGIN, 302,   403,   403,   403,   XB,    403,   403),
    "GET /admin/households/import":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "POST /admin/households/import":
        (LOGIN, 200,   403,   403,   403,   XB,    403,   403),
    "GET /admin/households/import/template.<fmt>":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/households/<id:household_id>":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    "GET /admin/households/<id:household_id>/edit":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/edit":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "GET /admin/households/<id:household_id>/qr.svg":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/reissue":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/login":
        (LOGIN, 302,   403,   403,   403,   XR,    403,   403),
    "POST /admin/households/<id:household_id>/logins/<id:user_id>/active":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/adjust":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/split":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/merge":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/move-out":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/move-back":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/households/<id:household_id>/inspections/<id:inspection_id>/void":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "GET /admin/users":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "POST /admin/users":
        (LOGIN, 302,   403,   403,   403,   XB,    403,   403),
    "POST /admin/users/<id:user_id>/active":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/users/<id:user_id>/password":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/users/<id:user_id>/unlock":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/users/<id:user_id>/grids":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "GET /admin/audit":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/grids":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "POST /admin/grids":
        (LOGIN, 302,   403,   403,   403,   302,   403,   403),
    "POST /admin/grids/<id:grid_id>":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    # The API's documents and logging in.
    "GET /api/v1/openapi.json":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "GET /api/v1/docs":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "POST /api/v1/auth/tokens":
        (201,   201,   201,   201,   201,   201,   201,   201),
    "DELETE /api/v1/auth/tokens/current":
        (401,   204,   204,   204,   204,   204,   204,   204),
    # Grids: staff read, admin writes.
    "GET /api/v1/grids":
        (401,   200,   200,   200,   403,   200,   200,   200),
    "POST /api/v1/grids":
        (401,   201,   403,   403,   403,   201,   403,   403),
    "GET /api/v1/grids/<id:grid_id>":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "PATCH /api/v1/grids/<id:grid_id>":
        (401,   200,   403,   403,   403,   X,     403,   403),
    # Households and their cards.
    "GET /api/v1/households":
        (401,   200,   200,   200,   403,   200,   200,   200),
    "POST /api/v1/households":
        (401,   201,   403,   403,   403,   XB,    403,   403),
    "POST /api/v1/households/import":
        (401,   201,   403,   403,   403,   XB,    403,   403),
    "GET /api/v1/households/cards.pdf":
        (401,   200,   403,   403,   403,   XB,    403,   403),
    "GET /api/v1/households/<id:household_id>":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "PATCH /api/v1/households/<id:household_id>":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "GET /api/v1/households/<id:household_id>/qr.png":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "GET /api/v1/households/<id:household_id>/qr.svg":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "POST /api/v1/households/<id:household_id>/qr/reissue":
        (401,   200,   403,   403,   403,   X,     403,   403),
    # A household's logins, one for each family member (issue 31).
    "GET /api/v1/households/<id:household_id>/logins":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "POST /api/v1/households/<id:household_id>/logins":
        (401,   201,   403,   403,   403,   X,     403,   403),
    "GET /api/v1/households/<id:household_id>/ledger":
        (401,   200,   200,   200,   200,   X,     X,     X),
    # Households over time (issue 31): the admin's actions, each on a household of its own.
    "POST /api/v1/households/<id:household_id>/split":
        (401,   201,   403,   403,   403,   X,     403,   403),
    "POST /api/v1/households/<id:household_id>/merge":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "POST /api/v1/households/<id:household_id>/move-out":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "POST /api/v1/households/<id:household_id>/move-back":
        (401,   200,   403,   403,   403,   X,     403,   403),
    # Another village's card is no card at all: invalid_qr.
    "POST /api/v1/scan":
        (401,   200,   200,   200,   403,   422,   422,   422),
    "GET /api/v1/me":
        (401,   403,   403,   403,   200,   403,   403,   403),
    "POST /api/v1/me/password":
        (401,   403,   403,   403,   200,   403,   403,   403),
    # Rules: staff read, admin writes.
    "GET /api/v1/rules":
        (401,   200,   200,   200,   403,   200,   200,   200),
    "PUT /api/v1/rules":
        (401,   200,   403,   403,   403,   200,   403,   403),
    "GET /api/v1/rules/history":
        (401,   200,   403,   403,   403,   200,   403,   403),
    # Inspections: inspector and admin grade, admin voids, staff read.
    "GET /api/v1/inspections":
        (401,   200,   200,   200,   403,   200,   200,   200),
    "POST /api/v1/inspections":
        (401,   201,   201,   403,   403,   XB,    XB,    403),
    # Each item is decided alone: another village's caller gets 200 with a 404 item.
    "POST /api/v1/inspections/batch":
        (401,   200,   200,   403,   403,   200,   200,   403),
    "GET /api/v1/inspections/<id:inspection_id>":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "POST /api/v1/inspections/<id:inspection_id>/void":
        (401,   200,   200,   403,   403,   X,     X,     403),
    "POST /api/v1/inspections/<id:inspection_id>/note":
        (401,   403,   200,   403,   403,   X,     X,     403),
    "GET /api/v1/inspections/<id:inspection_id>/photo":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "POST /api/v1/inspections/<id:inspection_id>/photo":
        (401,   200,   200,   403,   403,   X,     X,     403),
    # The catalogue: everyone in the village reads, admin and storekeeper write.
    "GET /api/v1/goods":
        (401,   200,   200,   200,   200,   200,   200,   200),
    "POST /api/v1/goods":
        (401,   201,   403,   201,   403,   201,   403,   201),
    "GET /api/v1/goods/<id:good_id>":
        (401,   200,   200,   200,   200,   X,     X,     X),
    "PATCH /api/v1/goods/<id:good_id>":
        (401,   200,   403,   200,   403,   X,     403,   X),
    "GET /api/v1/goods/<id:good_id>/picture":
        (401,   200,   200,   200,   200,   X,     X,     X),
    "POST /api/v1/goods/<id:good_id>/picture":
        (401,   200,   403,   200,   403,   X,     403,   X),
    "GET /api/v1/goods/<id:good_id>/movements":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "POST /api/v1/goods/<id:good_id>/restock":
        (401,   200,   403,   200,   403,   X,     403,   X),
    "POST /api/v1/goods/<id:good_id>/stocktake":
        (401,   200,   403,   200,   403,   X,     403,   X),
    "POST /api/v1/goods/<id:good_id>/writeoff":
        (401,   200,   403,   200,   403,   X,     403,   X),
    # Redemptions: storekeeper and admin, staff read.
    "GET /api/v1/redemptions":
        (401,   200,   200,   200,   403,   200,   200,   200),
    "POST /api/v1/redemptions":
        (401,   201,   403,   201,   403,   XB,    403,   XB),
    "GET /api/v1/redemptions/<id:redemption_id>":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "POST /api/v1/redemptions/<id:redemption_id>/cancel":
        (401,   200,   403,   200,   403,   X,     403,   X),
    # The ledger and the reports: admin.
    "POST /api/v1/adjustments":
        (401,   201,   403,   403,   403,   XB,    403,   403),
    "GET /api/v1/ledger/verify":
        (401,   200,   403,   403,   403,   200,   403,   403),
    "GET /api/v1/reports/summary":
        (401,   200,   403,   403,   403,   X,     403,   403),
    # Fairness (issue 30): spot checks, the inspectors' figures, anomaly flags.
    "POST /api/v1/spot-checks":
        (401,   201,   403,   403,   403,   XB,    403,   403),
    "GET /api/v1/spot-checks":
        (401,   200,   403,   403,   403,   200,   403,   403),
    "GET /api/v1/spot-checks/<id:check_id>":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "POST /api/v1/spot-checks/<id:check_id>/items/<id:item_id>":
        (401,   200,   200,   403,   403,   X,     X,     403),
    "GET /api/v1/reports/inspectors":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "GET /api/v1/reports/anomalies":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "GET /admin/spot-checks":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "POST /admin/spot-checks":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "GET /admin/spot-checks/<id:check_id>":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    "GET /check/<id:check_id>":
        (LOGIN, 200,   200,   403,   403,   X,     X,     403),
    "GET /check/<id:check_id>/items/<id:item_id>":
        (LOGIN, 200,   200,   403,   403,   X,     X,     403),
    "POST /check/<id:check_id>/items/<id:item_id>":
        (LOGIN, 302,   302,   403,   403,   X,     X,     403),
    "GET /admin/inspectors":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    # Townships (issue 18): the township's pages, the villages a caller reads, the
    # monthly settlement.
    "GET /township":
        (LOGIN, 403,   403,   403,   403,   403,   403,   403),
    "GET /township/board.pdf":
        (LOGIN, 403,   403,   403,   403,   403,   403,   403),
    "GET /township/villages.xlsx":
        (LOGIN, 403,   403,   403,   403,   403,   403,   403),
    "GET /township/settlement.pdf":
        (LOGIN, 403,   403,   403,   403,   403,   403,   403),
    "GET /api/v1/villages":
        (401,   200,   403,   403,   403,   200,   403,   403),
    "GET /api/v1/reports/villages":
        (401,   200,   403,   403,   403,   200,   403,   403),
    "GET /api/v1/reports/settlement":
        (401,   200,   403,   200,   403,   X,     403,   X),
    "GET /api/v1/reports/settlement.pdf":
        (401,   200,   403,   200,   403,   X,     403,   X),
    # Users and the audit log: admin.
    "GET /api/v1/users":
        (401,   200,   403,   403,   403,   200,   403,   403),
    "POST /api/v1/users":
        (401,   201,   403,   403,   403,   XB,    403,   403),
    "GET /api/v1/users/<id:user_id>":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "PATCH /api/v1/users/<id:user_id>":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "POST /api/v1/users/<id:user_id>/unlock":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "GET /api/v1/audit":
        (401,   200,   403,   403,   403,   200,   403,   403),
    "GET /api/v1/reports/exports/<any(inspections, redemptions, ledger, households, stock_movements):what>.<any(csv, xlsx):fmt>":  # noqa: E501
        (401,   200,   403,   403,   403,   200,   403,   403),
    # Resident reports: anyone of the village reports; staff see the village's cases,
    # a household its own; the grid's worker and the admin fix them.
    "GET /api/v1/stations":
        (401,   200,   200,   200,   200,   200,   200,   200),
    "POST /api/v1/stations":
        (401,   201,   403,   403,   403,   XB,    403,   403),
    "GET /api/v1/stations/<id:station_id>/qr.png":
        (401,   200,   200,   200,   403,   X,     X,     X),
    "POST /api/v1/cases":
        (401,   201,   201,   201,   201,   XB,    XB,    XB),
    "GET /api/v1/cases":
        (401,   200,   200,   200,   200,   X,     X,     X),
    "GET /api/v1/cases/<id:case_id>":
        (401,   200,   200,   200,   200,   X,     X,     X),
    "POST /api/v1/cases/<id:case_id>/photos":
        (401,   201,   201,   403,   201,   X,     X,     X),
    "GET /api/v1/cases/<id:case_id>/photos/<id:photo_id>":
        (401,   200,   200,   200,   200,   X,     X,     X),
    "POST /api/v1/cases/<id:case_id>/events":
        (401,   201,   201,   201,   201,   X,     X,     X),
    "GET /api/v1/reports/cases":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "PATCH /api/v1/cases/<id:case_id>/photos/<id:photo_id>":
        (401,   200,   403,   403,   403,   X,     403,   403),
    # Resident reports' pages (issue 29): a household reports and follows its own; anyone
    # reports at a collection point's QR; the grid worker's 待办; the admin's desk.
    "GET /report":
        (LOGIN, 403,   403,   403,   200,   403,   403,   403),
    "POST /report":
        (LOGIN, 403,   403,   403,   302,   403,   403,   403),
    "GET /s/<token>":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "POST /s/<token>":
        (302,   302,   302,   302,   302,   302,   302,   302),
    "GET /my/reports":
        (LOGIN, 403,   403,   403,   200,   403,   403,   403),
    # The resident's page asks for a bearer token for its offline queue.
    "POST /my/token":
        (LOGIN, 403,   403,   403,   200,   403,   403,   403),
    "POST /my/reports/<id:case_id>":
        (LOGIN, 403,   403,   403,   302,   403,   403,   403),
    "GET /cases/<id:case_id>/photos/<id:photo_id>":
        (LOGIN, 200,   200,   200,   200,   X,     X,     X),
    "GET /inspect/cases":
        (LOGIN, 200,   200,   403,   403,   200,   200,   403),
    "GET /inspect/cases/<id:case_id>":
        (LOGIN, 200,   200,   403,   403,   X,     X,     403),
    "POST /inspect/cases/<id:case_id>":
        (LOGIN, 302,   302,   403,   403,   X,     X,     403),
    "GET /admin/cases":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/cases/<id:case_id>":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    "POST /admin/cases/<id:case_id>":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/cases/<id:case_id>/photos/<id:photo_id>":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    # The township's open reports and its 督办 (supervise): a township's pages only.
    "GET /township/cases":
        (LOGIN, 403,   403,   403,   403,   403,   403,   403),
    "POST /township/cases/<id:case_id>":
        (LOGIN, 403,   403,   403,   403,   403,   403,   403),
    "GET /admin/stations":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "POST /admin/stations":
        (LOGIN, 302,   403,   403,   403,   XB,    403,   403),
    "GET /admin/stations/<id:station_id>/qr.png":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    "GET /admin/stations/cards":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    # Open311 is public: nothing personal in a GET; a POST needs the village's api_key.
    "GET /open311/v2/services.<any(json, xml):fmt>":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "GET /open311/v2/requests.<any(json, xml):fmt>":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "GET /open311/v2/requests/<id:case_id>.<any(json, xml):fmt>":
        (200,   200,   200,   200,   200,   200,   200,   200),
    "GET /open311/v2/media/<id:photo_id>.jpg":
        (404,   404,   404,   404,   404,   404,   404,   404),
    "POST /open311/v2/requests.<any(json, xml):fmt>":
        (403,   403,   403,   403,   403,   403,   403,   403),
    # Appeals (issue 30): a household appeals its own grades; the admins decide.
    "POST /api/v1/inspections/<id:inspection_id>/appeal":
        (401,   403,   403,   403,   201,   403,   403,   403),
    "GET /api/v1/appeals":
        (401,   200,   403,   403,   200,   200,   403,   403),
    "POST /api/v1/appeals/<id:appeal_id>/photo":
        (401,   403,   403,   403,   200,   403,   403,   403),
    "GET /api/v1/appeals/<id:appeal_id>/photo":
        (401,   200,   403,   403,   200,   X,     403,   403),
    "POST /api/v1/appeals/<id:appeal_id>/decide":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "POST /my/appeals/<id:inspection_id>":
        (LOGIN, 403,   403,   403,   302,   403,   403,   403),
    "GET /admin/appeals":
        (LOGIN, 200,   403,   403,   403,   200,   403,   403),
    "GET /admin/appeals/<id:appeal_id>":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    "POST /admin/appeals/<id:appeal_id>":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "GET /admin/appeals/<id:appeal_id>/photo":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    "GET /admin/appeals/<id:appeal_id>/evidence":
        (LOGIN, 200,   403,   403,   403,   X,     403,   403),
    # Adjustments waiting for a second admin (the standing one was asked by another admin).
    "GET /api/v1/adjustments":
        (401,   200,   403,   403,   403,   200,   403,   403),
    "POST /api/v1/adjustments/<id:adjustment_id>/approve":
        (401,   201,   403,   403,   403,   X,     403,   403),
    "POST /api/v1/adjustments/<id:adjustment_id>/reject":
        (401,   200,   403,   403,   403,   X,     403,   403),
    "POST /admin/adjustments/<id:adjustment_id>/approve":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
    "POST /admin/adjustments/<id:adjustment_id>/reject":
        (LOGIN, 302,   403,   403,   403,   X,     403,   403),
}
# fmt: on

# A township's two callers on every route: each write answers 403 read_only (RO), and
# every read but these is refused as not its role's (403). Logging in and out works.
TOWNSHIP_CELLS: dict[str, tuple[Cell, Cell]] = {
    #    town   town2
    "GET /": (302, 302),
    "GET /healthz": (200, 200),
    "GET /metrics": (200, 200),
    "GET /login": (200, 200),
    "POST /login": (302, 302),
    "POST /logout": (302, 302),
    "GET /lang/<code>": (302, 302),
    "GET /q/<token>": (200, 200),
    "GET /home": (302, 302),
    "GET /sw.js": (200, 200),
    "GET /inspect/texts.js": (200, 200),
    "GET /api/v1/openapi.json": (200, 200),
    "GET /api/v1/docs": (200, 200),
    "POST /api/v1/auth/tokens": (201, 201),
    "DELETE /api/v1/auth/tokens/current": (204, 204),
    "GET /api/v1/villages": (200, 200),
    "GET /township": (200, 200),
    "GET /township/board.pdf": (200, 200),
    "GET /township/villages.xlsx": (200, 200),
    "GET /township/settlement.pdf": (200, X),
    "GET /api/v1/reports/villages": (200, 200),
    "GET /api/v1/reports/summary": (200, X),
    "GET /api/v1/reports/settlement": (200, X),
    "GET /api/v1/reports/settlement.pdf": (200, X),
    "GET /api/v1/cases": (200, X),
    "GET /api/v1/reports/cases": (200, X),
    "GET /api/v1/reports/anomalies": (200, X),
    # A township supervises (督办) its villages' cases and takes no other action: the
    # matrix's comment answers read_only; another township's case is not found.
    "POST /api/v1/cases/<id:case_id>/events": (RO, X),
    "GET /township/cases": (200, 200),
    "POST /township/cases/<id:case_id>": (302, X),
    "GET /open311/v2/services.<any(json, xml):fmt>": (200, 200),
    "GET /open311/v2/requests.<any(json, xml):fmt>": (200, 200),
    "GET /open311/v2/requests/<id:case_id>.<any(json, xml):fmt>": (200, 200),
    "GET /open311/v2/media/<id:photo_id>.jpg": (404, 404),
    "POST /open311/v2/requests.<any(json, xml):fmt>": (403, 403),
    # A collection point's QR takes a report from anyone, logged in or not.
    "GET /s/<token>": (200, 200),
    "POST /s/<token>": (302, 302),
}


def township_cells(route: str) -> tuple[Cell, Cell]:
    """The township's cells: as listed, else read_only for a write and 403 for a read."""
    if route in TOWNSHIP_CELLS:
        return TOWNSHIP_CELLS[route]
    return (403, 403) if route.startswith("GET ") else (RO, RO)


# Public by design: the door page shows a masked name and the balance to anyone.
PUBLIC = {
    "GET /q/<token>",
    "GET /metrics",
    "GET /open311/v2/services.<any(json, xml):fmt>",
    "GET /open311/v2/requests.<any(json, xml):fmt>",
    "GET /open311/v2/requests/<id:case_id>.<any(json, xml):fmt>",
    "GET /s/<token>",
    "POST /s/<token>",
}
# Revoking the caller's token: each caller sends a token of its own for it.
OWN_TOKEN = {"DELETE /api/v1/auth/tokens/current"}

# Tables whose rows a refused request may add (tokens, failed logins, the log of
# who tried what); every other table must be exactly as it was.
BOOKKEEPING_TABLES = {"api_tokens", "login_attempts", "idempotency_records", "audit_events"}

HTML = "text/html,application/xhtml+xml,*/*;q=0.8"
# The API's refusals are problem+json with one of these codes.
PROBLEM_CODES = {
    401: {"unauthorized"},
    403: {"forbidden", "read_only", "not_own_inspection"},
    404: {"not_found"},
    422: {"validation_error", "invalid_qr"},
}


@dataclass
class World:
    """Two villages with one of everything; village 1's objects are the targets.

    Ids and texts are kept as plain values: every request commits, and an ORM object
    would reload itself at each use.
    """

    v1: Village
    grid1: Grid
    users: dict[str, User]
    ids: dict[str, int]
    h_other_id: int
    h2_id: int
    grid1_name: str
    h1_code: str
    secrets: list[str]
    # What a township must never be shown: households' names and phones.
    personal: list[str] = field(default_factory=list)
    user_ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    @property
    def v1_id(self) -> int:
        return self.ids["village_id"]

    def unique(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def fresh_household(self) -> int:
        household = create_household(
            self.v1, self.grid1, self.unique("新户"), "青山村5组 松树路1号"
        )
        db.session.commit()
        return household.id

    def code_of(self, household_id: int) -> str:
        return db.session.get_one(Household, household_id).code

    def fresh_moved_out_household(self) -> int:
        household = db.session.get_one(Household, self.fresh_household())
        household.status = "moved_out"
        household.moved_out_on = date.today()
        household.forfeit_on = date.today() + timedelta(days=28)
        db.session.commit()
        return household.id

    def fresh_inspection(self) -> int:
        household = db.session.get_one(Household, self.fresh_household())
        inspection = record_inspection(household, self.users["inspector"], "A")
        db.session.commit()
        return inspection.id

    def fresh_inspection_of_household(self) -> dict[str, int]:
        inspection = db.session.get_one(Inspection, self.fresh_inspection())
        return {"inspection_id": inspection.id, "household_id": inspection.household_id}

    def fresh_redemption(self) -> int:
        household = db.session.get_one(Household, self.ids["household_id"])
        redemption = redeem_goods(
            household, self.users["storekeeper"], [LineRequest(self.ids["good_id"], 1)]
        ).redemption
        db.session.commit()
        return redemption.id

    def fresh_own_inspection(self) -> int:
        """A grade of the resident's own household on an earlier day it has none yet."""
        household = db.session.get_one(Household, self.ids["household_id"])
        for days in range(1, 7):
            try:
                with db.session.begin_nested():
                    inspection = record_inspection(
                        household, self.users["inspector"], "B", at=utcnow() - timedelta(days=days)
                    )
            except AlreadyInspectedToday:
                continue
            db.session.commit()
            return inspection.id
        raise AssertionError("no free day for another grade")

    def fresh_appeal(self) -> int:
        inspection = db.session.get_one(Inspection, self.fresh_inspection())
        appeal = Appeal(
            village_id=inspection.village_id,
            inspection_id=inspection.id,
            household_id=inspection.household_id,
            inspector_id=inspection.inspector_id,
            reason="分类是对的",
            state="open",
            created_by=self.user_ids["household"],
        )
        db.session.add(appeal)
        db.session.commit()
        return appeal.id

    def fresh_pending(self) -> int:
        pending = request_adjustment(
            self.v1_id, self.ids["household_id"], 200, reason="补录", actor_id=self.ids["maker_id"]
        )
        db.session.commit()
        return pending.id

    def fresh_case(self) -> int:
        resident = db.session.get_one(User, self.user_ids["household"])
        case = report_case(resident, self.v1_id, category="overflow")
        db.session.commit()
        return case.id

    def today(self) -> str:
        return village_today(self.v1_id).isoformat()

    def fresh_spot_item(self) -> dict[str, int]:
        """A spot check of a fresh grade given by the spare inspector: admin and inspector may
        check it."""
        household = db.session.get_one(Household, self.fresh_household())
        spare = db.session.get_one(User, self.ids["user_id"])
        inspection = record_inspection(household, spare, "A")
        check, item = spot_check_of(inspection, self.users["admin"])
        db.session.commit()
        return {"check_id": check.id, "item_id": item.id}

    def station_card(self) -> str:
        """The token of village 1's collection point's QR card."""
        return station_token(db.session.get_one(Station, self.ids["station_id"]))

    def card(self) -> str:
        """The payload of village 1's household's card as it is now."""
        return make_token(db.session.get_one(Household, self.ids["household_id"]))

    def params(self, route: str) -> dict[str, object]:
        """Path parameters: village 1's objects, the resident's own household."""
        return {
            **self.ids,
            "token": self.station_card()
            if route.endswith(" /s/<token>")
            else self.card()
            if route in CARD_ROUTES or "<token>" in route
            else None,
            "action": "restock",
            "code": "en",
            "fmt": "json" if "/open311/" in route else "csv",
            "what": "households",
        }

    def all_secrets(self) -> list[str]:
        """What of village 1 another village must never be shown."""
        return [*self.secrets, self.card()]

    def balance_figure(self) -> re.Pattern:
        balance = household_account(self.ids["household_id"]).balance
        return re.compile(rf"(?<!\d){balance}(?!\d)")


def spot_check_of(inspection: Inspection, admin: User) -> tuple[SpotCheck, SpotCheckItem]:
    """A spot check that drew this one inspection."""
    check = SpotCheck(
        village_id=inspection.village_id,
        grid_id=None,
        local_date=inspection.local_date,
        size=1,
        seed="0" * 16,
        population=str(inspection.id),
        population_count=1,
        created_by=admin.id,
    )
    db.session.add(check)
    db.session.flush()
    item = SpotCheckItem(
        spot_check_id=check.id,
        village_id=inspection.village_id,
        inspection_id=inspection.id,
        inspector_id=inspection.inspector_id,
        original_grade=inspection.grade,
        position=1,
    )
    db.session.add(item)
    db.session.flush()
    return check, item


def build_world() -> World:
    """Make both villages, their users with a token each, and village 1's targets."""
    v1 = create_village("青山村", "QSC")
    v2 = create_village("白水村", "BSC")
    grid1 = create_grid(v1.id, "银杏网格")
    grid2 = create_grid(v2.id, "柳树网格")
    h1 = create_household(v1, grid1, "钱多多", "青山村3组 银杏路17号", phone="13912345678")
    h_other = create_household(v1, grid1, "赵有余", "青山村4组 银杏路21号")
    h2 = create_household(v2, grid2, "孙小白", "白水村1组 柳树路2号")
    users = {
        "admin": create_user(v1, "qs-admin", PASSWORD, ADMIN),
        "inspector": create_user(v1, "qs-inspector", PASSWORD, INSPECTOR),
        "storekeeper": create_user(v1, "qs-storekeeper", PASSWORD, STOREKEEPER),
        "household": create_user(v1, "qs-household", PASSWORD, HOUSEHOLD, household=h1),
        "admin2": create_user(v2, "bs-admin", PASSWORD, ADMIN),
        "inspector2": create_user(v2, "bs-inspector", PASSWORD, INSPECTOR),
        "storekeeper2": create_user(v2, "bs-storekeeper", PASSWORD, STOREKEEPER),
    }
    # The user that the user-management routes act on.
    spare = create_user(v1, "qs-spare-user", PASSWORD, INSPECTOR)
    # Township 1 has village 1, township 2 has village 2.
    t1, t2 = create_township("青山镇", "QSZ"), create_township("白水镇", "BSZ")
    move_village(v1, t1)
    move_village(v2, t2)
    users["town"] = create_township_user(t1, "qsz-staff", PASSWORD)
    users["town2"] = create_township_user(t2, "bsz-staff", PASSWORD)
    adjust(v1.id, h1.id, 7391, reason="期初积分", actor_id=None)
    adjust(v2.id, h2.id, 40, reason="期初积分", actor_id=None)
    good1 = create_good(v1.id, name="竹炭牙刷", unit="支", price_points=2, stock=500)
    good1.picture = store_photo(png_bytes(), field="picture")
    create_good(v2.id, name="草木灰皂", unit="块", price_points=3, stock=50)
    station = create_station(v1.id, name="银杏路收集点", grid_id=grid1.id)
    db.session.flush()
    case = report_case(users["household"], v1.id, category="overflow", description="桶满了")
    photo = add_photo(users["household"], case, "before", png_bytes())
    inspection = record_inspection(h1, users["inspector"], "A", note="分类很好")
    inspection.photo = store_photo(png_bytes())
    redemption = redeem_goods(h1, users["storekeeper"], [LineRequest(good1.id, 1)]).redemption
    db.session.flush()
    check, item = spot_check_of(inspection, users["admin"])
    appeal = file_appeal(users["household"], inspection.id, "我家分类是对的")
    appeal.photo = store_photo(png_bytes())
    # An admin who asks for adjustments that wait for another admin's approval.
    maker = create_user(v1, "qs-maker", PASSWORD, ADMIN)
    pending = request_adjustment(v1.id, h1.id, 200, reason="补录", actor_id=maker.id)
    db.session.flush()
    world = World(
        v1=v1,
        grid1=grid1,
        users=users,
        ids={
            "household_id": h1.id,
            "inspection_id": inspection.id,
            "redemption_id": redemption.id,
            "good_id": good1.id,
            "grid_id": grid1.id,
            "user_id": spare.id,
            "village_id": v1.id,
            "station_id": station.id,
            "case_id": case.id,
            "photo_id": photo.id,
            "check_id": check.id,
            "item_id": item.id,
            "appeal_id": appeal.id,
            "adjustment_id": pending.id,
            "maker_id": maker.id,
        },
        h_other_id=h_other.id,
        h2_id=h2.id,
        grid1_name=grid1.name,
        h1_code=h1.code,
        secrets=[
            v1.name,
            h1.name,
            h1.code,
            h1.address,
            "13912345678",
            h_other.name,
            h_other.code,
            good1.name,
            grid1.name,
            redemption.receipt_no,
            "分类很好",
            spare.username,
        ],
        personal=[h1.name, h_other.name, h2.name, "13912345678", h1.address],
        user_ids={caller: user.id for caller, user in users.items()},
    )
    world.tokens = {caller: issue_token(user).token for caller, user in users.items()}
    db.session.commit()
    return world


def roster_csv(world: World) -> io.BytesIO:
    row = f"{world.unique('孙导入')},青山村6组 枫树路3号,{world.grid1_name},,2\n"
    return io.BytesIO(("户主姓名,地址,网格,电话,人口\n" + row).encode())


# How to call each route besides its path: a function of the world and the path
# parameters giving the test client's keyword arguments (json=, data=, query_string=).
Spec = Callable[[World, dict], dict]

REQUESTS: dict[str, Spec] = {
    # Lists filtered by village 1's objects: another village must get none of them.
    "GET /inspect": lambda w, p: {"query_string": {"grid_id": p["grid_id"]}},
    "GET /admin/households": lambda w, p: {"query_string": {"grid_id": p["grid_id"]}},
    "GET /api/v1/households": lambda w, p: {"query_string": {"grid_id": p["grid_id"]}},
    "GET /api/v1/inspections": lambda w, p: {
        "query_string": {"household_id": p["household_id"], "grid_id": p["grid_id"]}
    },
    "GET /api/v1/redemptions": lambda w, p: {"query_string": {"household_id": p["household_id"]}},
    "GET /api/v1/audit": lambda w, p: {"query_string": {"actor_id": w.user_ids["admin"]}},
    "POST /login": lambda w, p: {"data": {"username": "qs-admin", "password": PASSWORD}},
    "GET /inspect/card": lambda w, p: {"query_string": {"payload": p["token"]}},
    "POST /inspect/household/<id:household_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "grade": "A"}
    },
    "GET /shop/card": lambda w, p: {"query_string": {"payload": p["token"]}},
    "GET /find": lambda w, p: {"query_string": {"q": w.h1_code}},
    "POST /shop/household/<id:household_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, f"qty-{p['good_id']}": "1"}
    },
    "POST /shop/receipts/<id:redemption_id>/cancel": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "reason": "退货"}
    },
    "POST /admin/goods": lambda w, p: {
        "data": {
            "name": w.unique("毛巾"),
            "unit": "条",
            "price_points": "5",
            "stock": "10",
            "key": uuid.uuid4().hex,
        }
    },
    "POST /admin/goods/<id:good_id>/<action>": lambda w, p: {
        "data": {"quantity": "1", "note": "到货", "key": uuid.uuid4().hex}
    },
    "POST /admin/rules": lambda w, p: {
        "data": {
            **{
                f"points-{grade}": str(points)
                for grade, points in zip("ABCD", (3, 2, 1, 0), strict=True)
            },
            **{f"label-{grade}": grade for grade in "ABCD"},
            "daily_limit": "1",
            "key": uuid.uuid4().hex,
        }
    },
    "GET /admin/cards.pdf": lambda w, p: {"query_string": {"grid_id": p["grid_id"]}},
    "POST /admin/households/new": lambda w, p: {
        "data": {
            "key": uuid.uuid4().hex,
            "name": w.unique("周新"),
            "address": "青山村7组 桃树路9号",
            "grid_id": str(p["grid_id"]),
        }
    },
    "POST /admin/households/import": lambda w, p: {"data": {"file": (roster_csv(w), "roster.csv")}},
    "POST /admin/households/<id:household_id>/edit": lambda w, p: {
        "data": {
            "key": uuid.uuid4().hex,
            "name": "钱多多",
            "address": "青山村3组 银杏路17号",
            "grid_id": str(p["grid_id"]),
            "phone": "13912345678",
            "members": "3",
            "status": "active",
        }
    },
    "POST /admin/households/<id:household_id>/reissue": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "reason": "丢失"}
    },
    "POST /admin/households/<id:household_id>/adjust": lambda w, p: {
        "data": {"amount": "1", "reason": "补录", "key": w.unique("adjust")}
    },
    "POST /admin/households/<id:household_id>/split": lambda w, p: {
        "data": {
            "name": w.unique("分户"),
            "address": "青山村5组",
            "grid_id": str(p["grid_id"]),
            "points": "0",
            "key": w.unique("split"),
        }
    },
    "POST /admin/households/<id:household_id>/merge": lambda w, p: {
        "data": {"into_code": w.code_of(w.h_other_id), "key": w.unique("merge")}
    },
    "POST /admin/households/<id:household_id>/move-out": lambda w, p: {
        "data": {"on": "2026-01-01", "key": w.unique("move-out")}
    },
    "POST /admin/households/<id:household_id>/move-back": lambda w, p: {
        "data": {"key": w.unique("move-back")}
    },
    "POST /admin/households/<id:household_id>/inspections/<id:inspection_id>/void": lambda w, p: {
        "data": {"reason": "误录", "key": w.unique("void")}
    },
    "POST /admin/households/<id:household_id>/login": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "username": w.unique("qs-home"), "password": PASSWORD}
    },
    # Enabling the resident's login, which is enabled: the other routes go on using it.
    "POST /admin/households/<id:household_id>/logins/<id:user_id>/active": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "active": "1"}
    },
    "POST /api/v1/households/<id:household_id>/logins": lambda w, p: {
        "json": {"username": w.unique("qs-member"), "password": PASSWORD}
    },
    # The same password again: the resident's other sessions and tokens end all the same.
    "POST /api/v1/me/password": lambda w, p: {
        "json": {"current_password": PASSWORD, "new_password": PASSWORD}
    },
    "POST /my/password": lambda w, p: {
        "data": {
            "key": uuid.uuid4().hex,
            "current_password": PASSWORD,
            "new_password": PASSWORD,
            "new_password_again": PASSWORD,
        }
    },
    "POST /api/v1/auth/tokens": lambda w, p: {
        "json": {"username": "qs-admin", "password": PASSWORD}
    },
    "POST /api/v1/grids": lambda w, p: {"json": {"name": w.unique("新网格")}},
    # Renamed to the name it has, so that later rows still find the grid by its name.
    "PATCH /api/v1/grids/<id:grid_id>": lambda w, p: {"json": {"name": "银杏网格"}},
    "POST /admin/grids": lambda w, p: {
        "data": {"name": w.unique("新网格"), "key": uuid.uuid4().hex}
    },
    "POST /admin/grids/<id:grid_id>": lambda w, p: {
        "data": {"name": "银杏网格", "key": uuid.uuid4().hex}
    },
    "POST /api/v1/households": lambda w, p: {
        "json": {
            "name": w.unique("吴新"),
            "address": "青山村8组 李树路4号",
            "grid_id": p["grid_id"],
        }
    },
    "POST /api/v1/households/import": lambda w, p: {
        "data": {"file": (roster_csv(w), "roster.csv")}
    },
    "GET /api/v1/households/cards.pdf": lambda w, p: {"query_string": {"grid_id": p["grid_id"]}},
    "PATCH /api/v1/households/<id:household_id>": lambda w, p: {"json": {"members": 4}},
    "POST /api/v1/households/<id:household_id>/qr/reissue": lambda w, p: {
        "json": {"reason": "丢失"}
    },
    "POST /api/v1/scan": lambda w, p: {"json": {"payload": p["token"]}},
    "POST /api/v1/households/<id:household_id>/split": lambda w, p: {
        "json": {
            "name": w.unique("分户"),
            "address": "青山村5组",
            "grid_id": p["grid_id"],
            "points": 0,
        }
    },
    "POST /api/v1/households/<id:household_id>/merge": lambda w, p: {
        "json": {"into": w.h_other_id}
    },
    "POST /api/v1/households/<id:household_id>/move-out": lambda w, p: {
        "json": {"on": "2026-01-01"}
    },
    "POST /api/v1/households/<id:household_id>/move-back": lambda w, p: {"json": {}},
    "PUT /api/v1/rules": lambda w, p: {
        "json": {"grades": {"A": 3, "B": 2, "C": 1, "D": 0}, "daily_limit": 1}
    },
    "POST /api/v1/inspections": lambda w, p: {
        "json": {"household_id": p["household_id"], "grade": "A"}
    },
    "POST /api/v1/inspections/batch": lambda w, p: {
        "json": {
            "items": [{"key": uuid.uuid4().hex, "household_id": p["household_id"], "grade": "A"}]
        }
    },
    "POST /api/v1/inspections/<id:inspection_id>/void": lambda w, p: {"json": {"reason": "误录"}},
    "POST /api/v1/inspections/<id:inspection_id>/note": lambda w, p: {"json": {"note": "桶边有袋"}},
    "POST /inspect/done/<id:inspection_id>/undo": lambda w, p: {
        "data": {"reason": "误点", "key": w.unique("undo")}
    },
    "POST /inspect/done/<id:inspection_id>/note": lambda w, p: {
        "data": {"note": "桶边有袋", "key": w.unique("note")}
    },
    "POST /api/v1/inspections/<id:inspection_id>/photo": lambda w, p: {
        "data": {"photo": (io.BytesIO(png_bytes()), "photo.png")}
    },
    "POST /api/v1/goods": lambda w, p: {
        "json": {"name": w.unique("肥皂"), "unit": "块", "price_points": 4, "stock": 10}
    },
    "PATCH /api/v1/goods/<id:good_id>": lambda w, p: {"json": {"price_points": 2}},
    "POST /api/v1/goods/<id:good_id>/picture": lambda w, p: {
        "data": {"picture": (io.BytesIO(png_bytes()), "picture.png")}
    },
    "POST /api/v1/goods/<id:good_id>/restock": lambda w, p: {"json": {"quantity": 5}},
    "POST /api/v1/goods/<id:good_id>/stocktake": lambda w, p: {
        "json": {"counted": 400, "reason": "盘点"}
    },
    "POST /api/v1/goods/<id:good_id>/writeoff": lambda w, p: {
        "json": {"quantity": 1, "reason": "破损"}
    },
    "POST /api/v1/redemptions": lambda w, p: {
        "json": {
            "household_id": p["household_id"],
            "lines": [{"good_id": p["good_id"], "quantity": 1}],
        }
    },
    "POST /api/v1/redemptions/<id:redemption_id>/cancel": lambda w, p: {"json": {"reason": "退货"}},
    "POST /admin/users": lambda w, p: {
        "data": {
            "key": uuid.uuid4().hex,
            "username": w.unique("qs-new"),
            "password": PASSWORD,
            "role": "household",
            "household": w.h1_code,
        }
    },
    "POST /admin/users/<id:user_id>/active": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "active": "0"}
    },
    "POST /admin/users/<id:user_id>/password": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "password": PASSWORD}
    },
    "POST /admin/users/<id:user_id>/unlock": lambda w, p: {"data": {"key": uuid.uuid4().hex}},
    "POST /admin/users/<id:user_id>/grids": lambda w, p: {"data": {"key": uuid.uuid4().hex}},
    "POST /api/v1/users": lambda w, p: {
        "json": {
            "username": w.unique("qs-new"),
            "password": PASSWORD,
            "role": "household",
            "household_id": p["household_id"],
        }
    },
    "PATCH /api/v1/users/<id:user_id>": lambda w, p: {"json": {"active": False}},
    "GET /api/v1/reports/summary": lambda w, p: {"query_string": {"village_id": w.v1_id}},
    "GET /township/settlement.pdf": lambda w, p: {"query_string": {"village_id": w.v1_id}},
    "GET /api/v1/reports/settlement": lambda w, p: {"query_string": {"village_id": w.v1_id}},
    "GET /api/v1/reports/settlement.pdf": lambda w, p: {"query_string": {"village_id": w.v1_id}},
    "POST /api/v1/spot-checks": lambda w, p: {
        "json": {"date": w.today(), "grid_id": p["grid_id"], "size": 2}
    },
    "POST /admin/spot-checks": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "date": w.today(), "grid_id": p["grid_id"], "size": "2"}
    },
    "POST /api/v1/spot-checks/<id:check_id>/items/<id:item_id>": lambda w, p: {
        "json": {"grade": "B", "note": "复核"}
    },
    "POST /check/<id:check_id>/items/<id:item_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "grade": "B"}
    },
    "GET /api/v1/reports/inspectors": lambda w, p: {"query_string": {"village_id": w.v1_id}},
    "GET /api/v1/reports/anomalies": lambda w, p: {"query_string": {"village_id": w.v1_id}},
    "POST /api/v1/adjustments": lambda w, p: {
        "json": {"household_id": p["household_id"], "amount": 5, "reason": "补录"}
    },
    "POST /api/v1/stations": lambda w, p: {
        "json": {"name": w.unique("收集点"), "grid_id": p["grid_id"]}
    },
    "POST /api/v1/cases": lambda w, p: {
        "json": {"category": "overflow", "station_id": p["station_id"]}
    },
    "GET /api/v1/cases": lambda w, p: {
        "query_string": {"village_id": w.v1_id, "grid_id": p["grid_id"]}
    },
    "POST /api/v1/cases/<id:case_id>/photos": lambda w, p: {
        "data": {"file": (io.BytesIO(png_bytes()), "before.png"), "stage": "before"}
    },
    "POST /api/v1/cases/<id:case_id>/events": lambda w, p: {
        "json": {"action": "comment", "note": "已知悉"}
    },
    "GET /api/v1/reports/cases": lambda w, p: {"query_string": {"village_id": w.v1_id}},
    "PATCH /api/v1/cases/<id:case_id>/photos/<id:photo_id>": lambda w, p: {
        "json": {"public": False}
    },
    "GET /open311/v2/services.<any(json, xml):fmt>": lambda w, p: {
        "query_string": {"jurisdiction_id": "QSC"}
    },
    "GET /open311/v2/requests.<any(json, xml):fmt>": lambda w, p: {
        "query_string": {"jurisdiction_id": "QSC"}
    },
    "GET /open311/v2/requests/<id:case_id>.<any(json, xml):fmt>": lambda w, p: {
        "query_string": {"jurisdiction_id": "QSC"}
    },
    "POST /report": lambda w, p: {"data": {"key": uuid.uuid4().hex, "category": "overflow"}},
    "POST /s/<token>": lambda w, p: {"data": {"key": uuid.uuid4().hex, "category": "mixed"}},
    "POST /my/reports/<id:case_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "action": "withdraw"}
    },
    "POST /inspect/cases/<id:case_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "action": "comment", "note": "已知悉"}
    },
    "POST /admin/cases/<id:case_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "action": "comment", "note": "已知悉"}
    },
    "POST /township/cases/<id:case_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "note": "请尽快处理"}
    },
    "POST /admin/cases/<id:case_id>/photos/<id:photo_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "public": "false"}
    },
    "POST /admin/stations": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "name": w.unique("收集点"), "grid_id": p["grid_id"]}
    },
    "POST /open311/v2/requests.<any(json, xml):fmt>": lambda w, p: {
        "data": {"jurisdiction_id": "QSC", "service_code": "overflow", "lat": "30", "long": "120"}
    },
    "POST /api/v1/inspections/<id:inspection_id>/appeal": lambda w, p: {
        "json": {"reason": "分类是对的"}
    },
    "POST /api/v1/appeals/<id:appeal_id>/photo": lambda w, p: {
        "data": {"photo": (io.BytesIO(png_bytes()), "bin.png")}
    },
    "POST /api/v1/appeals/<id:appeal_id>/decide": lambda w, p: {
        "json": {"decision": "overturned", "note": "改判", "grade": "B"}
    },
    "POST /my/appeals/<id:inspection_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "reason": "分类是对的"}
    },
    "POST /admin/appeals/<id:appeal_id>": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "decision": "upheld", "note": "维持"}
    },
    "POST /api/v1/adjustments/<id:adjustment_id>/reject": lambda w, p: {
        "json": {"reason": "没有依据"}
    },
    "POST /admin/adjustments/<id:adjustment_id>/approve": lambda w, p: {
        "data": {"key": uuid.uuid4().hex}
    },
    "POST /admin/adjustments/<id:adjustment_id>/reject": lambda w, p: {
        "data": {"key": uuid.uuid4().hex, "reason": "没有依据"}
    },
}

# Routes that send the card of village 1's household.
CARD_ROUTES = {"GET /inspect/card", "GET /shop/card", "POST /api/v1/scan"}

# Objects made afresh for each allowed caller, where an action succeeds once per
# object (a household's inspection of the day, a void, a cancellation). The
# refused callers try the standing objects, which must come out untouched.
FRESH: dict[str, Callable[[World], dict[str, int]]] = {
    "POST /inspect/household/<id:household_id>": lambda w: {"household_id": w.fresh_household()},
    "POST /shop/receipts/<id:redemption_id>/cancel": lambda w: {
        "redemption_id": w.fresh_redemption()
    },
    "POST /api/v1/inspections": lambda w: {"household_id": w.fresh_household()},
    "POST /api/v1/inspections/batch": lambda w: {"household_id": w.fresh_household()},
    "POST /api/v1/inspections/<id:inspection_id>/void": lambda w: {
        "inspection_id": w.fresh_inspection()
    },
    "POST /api/v1/inspections/<id:inspection_id>/note": lambda w: {
        "inspection_id": w.fresh_inspection()
    },
    "POST /inspect/done/<id:inspection_id>/undo": lambda w: {"inspection_id": w.fresh_inspection()},
    "POST /inspect/done/<id:inspection_id>/note": lambda w: {"inspection_id": w.fresh_inspection()},
    "POST /admin/households/<id:household_id>/inspections/<id:inspection_id>/void": lambda w: (
        w.fresh_inspection_of_household()
    ),
    "POST /api/v1/redemptions/<id:redemption_id>/cancel": lambda w: {
        "redemption_id": w.fresh_redemption()
    },
    "POST /my/reports/<id:case_id>": lambda w: {"case_id": w.fresh_case()},
    # The resident's login, of village 1's household (the standing user_id is staff's).
    "POST /admin/households/<id:household_id>/logins/<id:user_id>/active": lambda w: {
        "user_id": w.user_ids["household"]
    },
    "POST /api/v1/spot-checks/<id:check_id>/items/<id:item_id>": lambda w: w.fresh_spot_item(),
    "POST /check/<id:check_id>/items/<id:item_id>": lambda w: w.fresh_spot_item(),
    "POST /admin/households/<id:household_id>/merge": lambda w: {
        "household_id": w.fresh_household()
    },
    "POST /admin/households/<id:household_id>/move-out": lambda w: {
        "household_id": w.fresh_household()
    },
    "POST /admin/households/<id:household_id>/move-back": lambda w: {
        "household_id": w.fresh_moved_out_household()
    },
    "POST /api/v1/households/<id:household_id>/merge": lambda w: {
        "household_id": w.fresh_household()
    },
    "POST /api/v1/households/<id:household_id>/move-out": lambda w: {
        "household_id": w.fresh_household()
    },
    "POST /api/v1/households/<id:household_id>/move-back": lambda w: {
        "household_id": w.fresh_moved_out_household()
    },
    "POST /api/v1/inspections/<id:inspection_id>/appeal": lambda w: {
        "inspection_id": w.fresh_own_inspection()
    },
    "POST /my/appeals/<id:inspection_id>": lambda w: {"inspection_id": w.fresh_own_inspection()},
    "POST /api/v1/appeals/<id:appeal_id>/decide": lambda w: {"appeal_id": w.fresh_appeal()},
    "POST /admin/appeals/<id:appeal_id>": lambda w: {"appeal_id": w.fresh_appeal()},
    "POST /api/v1/adjustments/<id:adjustment_id>/approve": lambda w: {
        "adjustment_id": w.fresh_pending()
    },
    "POST /api/v1/adjustments/<id:adjustment_id>/reject": lambda w: {
        "adjustment_id": w.fresh_pending()
    },
    "POST /admin/adjustments/<id:adjustment_id>/approve": lambda w: {
        "adjustment_id": w.fresh_pending()
    },
    "POST /admin/adjustments/<id:adjustment_id>/reject": lambda w: {
        "adjustment_id": w.fresh_pending()
    },
}

# Routes that end the caller's other tokens (a new password): the caller gets a new one.
ENDS_TOKENS = {"POST /my/password"}


def routes(app) -> set[str]:
    """Every (method, rule) of the URL map but HEAD, OPTIONS and static files."""
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def fill(rule: str, params: dict[str, object]) -> str:
    return PARAMETER.sub(lambda m: str(params[m.group(1)]), rule)


def snapshot() -> dict[str, object]:
    """Every committed row of every table but the bookkeeping ones.

    PostgreSQL answers with a digest per table, in one round trip.
    """
    tables = [t.name for t in db.metadata.sorted_tables if t.name not in BOOKKEEPING_TABLES]
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            digest = " UNION ALL ".join(
                f"SELECT '{name}', md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), ''))"
                f" FROM {name} t"
                for name in tables
            )
            return {name: value for name, value in connection.execute(text(digest))}
        return {
            name: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {name}"))), key=repr)
            for name in tables
        }


def changed_tables(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def is_refusal(cell: Cell) -> bool:
    """Tell whether the cell refuses the caller (every set in MATRIX is a refusal)."""
    return cell in (LOGIN, RO) or isinstance(cell, frozenset) or cell >= 400  # type: ignore[operator]


def outcome_matches(response, cell: Cell) -> bool:
    if cell == RO:
        if response.status_code != 403:
            return False
        return response.mimetype != "application/problem+json" or (
            (response.get_json(silent=True) or {}).get("code") == "read_only"
        )
    if cell == LOGIN:
        return response.status_code == 302 and response.headers["Location"].startswith("/login")
    if isinstance(cell, frozenset):
        return response.status_code in cell
    return response.status_code == cell


def body_text(response) -> str | None:
    """The response's text as a reader sees it (JSON with its escapes undone)."""
    mimetype = response.mimetype or ""
    if "json" in mimetype:
        return json.dumps(response.get_json(silent=True), ensure_ascii=False)
    if mimetype.startswith("text/") or mimetype.endswith("+xml"):
        return response.get_data(as_text=True)
    return None


def shown_as_text(value: object) -> str:
    if isinstance(value, io.BytesIO):
        return value.getvalue().decode(errors="replace")
    return repr(value)


def prepare(client, world: World, route: str, caller: str, cell: Cell) -> tuple[str, dict, str]:
    """Build the route's request as the caller: its path, the client's arguments, and
    all that it sends as text."""
    method, rule = route.split(" ", 1)
    params = world.params(route)
    if route in FRESH and not is_refusal(cell):
        params.update(FRESH[route](world))
    path = fill(rule, params)
    kwargs = REQUESTS[route](world, params) if route in REQUESTS else {}
    headers = {}
    if rule.startswith("/api/"):
        if caller == "anon":
            pass
        elif route in OWN_TOKEN:
            headers.update(bearer(issue_token(world.users[caller]).token))
            db.session.commit()
        else:
            headers.update(bearer(world.tokens[caller]))
    else:
        headers["Accept"] = HTML
        with client.session_transaction() as session:
            session.clear()
            if caller != "anon":
                session["user_id"] = world.user_ids[caller]
                # As a login would: the cookie carries the user's current session version.
                user = db.session.get_one(User, world.user_ids[caller])
                session["session_version"] = user.session_version
        if method != "GET":
            kwargs.setdefault("data", {})["csrf_token"] = csrf_token(client)
    sent = path + json.dumps(kwargs, default=shown_as_text, ensure_ascii=False)
    return path, {"method": method, "headers": headers, **kwargs}, sent


def check_cell(
    client, world: World, route: str, caller: str, cell: Cell, before: dict | None = None
) -> tuple[list[str], dict | None]:
    """Make one request of the matrix; return what is wrong with its answer.

    A refused write is checked against before (the database as it was, taken now if
    not given); the database after it is returned for the next refusal to compare.
    """
    path, request, sent = prepare(client, world, route, caller, cell)
    guard = request["method"] != "GET" and is_refusal(cell)
    if guard and before is None:
        before = snapshot()
    other_village = caller in (*OTHER_VILLAGE, "town2") and route not in PUBLIC
    secrets = world.all_secrets() if other_village else []
    if caller == "town":
        secrets = world.personal
    figure = world.balance_figure() if other_village else None
    response = client.open(path, **request)
    where = f"{route} as {caller}"
    problems = []
    if response.status_code >= 500:
        problems.append(f"{where}: {response.status_code} (a 5xx is always a bug)")
    elif not outcome_matches(response, cell):
        expected = sorted(cell) if isinstance(cell, frozenset) else cell
        detail = response.headers.get("Location") or (body_text(response) or "")[-160:]
        detail = " ".join(detail.split())
        problems.append(f"{where}: {response.status_code}, expected {expected} ({detail})")
    if cell is XR and response.status_code == 302:
        # The page it goes back to must refuse as well, and show nothing either.
        response = client.get(response.headers["Location"], headers=request["headers"])
        if response.status_code not in X:
            problems.append(f"{where}: redirected to a page that answers {response.status_code}")
    if route.split(" ", 1)[1].startswith("/api/") and response.status_code in PROBLEM_CODES:
        body = response.get_json(silent=True) or {}
        if response.mimetype != "application/problem+json" or (
            body.get("code") not in PROBLEM_CODES[response.status_code]
        ):
            problems.append(f"{where}: {response.status_code} is not problem+json with its code")
    if route in ENDS_TOKENS and not is_refusal(cell):
        world.tokens[caller] = issue_token(world.users[caller]).token
        db.session.commit()
    after = None
    if guard and before is not None:
        after = snapshot()
        if changed := changed_tables(before, after):
            problems.append(f"{where}: refused, yet it changed {', '.join(changed)}")
    if figure is not None:
        shown = (body_text(response) or "") + response.headers.get("Location", "")
        leaked = [s for s in secrets if s in shown and s not in sent]
        if figure.search(shown) and not figure.search(sent):
            leaked.append("the household's balance")
        if leaked:
            problems.append(f"{where}: shows village 1's {', '.join(leaked)}")
    return problems, after


def run_route(client, world: World, route: str) -> list[str]:
    """Run a route's row: the refused callers first, then the allowed ones."""
    cells = dict(zip(CALLERS, MATRIX[route], strict=True))
    cells.update(zip(TOWNSHIPS, township_cells(route), strict=True))
    order = sorted(cells, key=lambda caller: not is_refusal(cells[caller]))
    problems = []
    state = None
    for caller in order:
        found, state = check_cell(client, world, route, caller, cells[caller], state)
        problems += found
    return problems


def test_every_route_has_a_row_and_every_row_a_route(app):
    present = routes(app)
    missing = sorted(present - MATRIX.keys())
    stale = sorted(MATRIX.keys() - present)

    assert not missing, "routes with no row in MATRIX (add one):\n" + "\n".join(missing)
    assert not stale, "rows of MATRIX for routes that are gone:\n" + "\n".join(stale)
    assert all(len(cells) == len(CALLERS) for cells in MATRIX.values())


def test_the_openapi_document_describes_exactly_the_api_routes(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    served = {
        f"{method} {openapi_path(rule)}"
        for method, _, rule in (route.partition(" ") for route in routes(app))
        if rule.startswith("/api/v1/") and rule not in ("/api/v1/openapi.json", "/api/v1/docs")
    }

    assert sorted(served - documented) == [], "served but not in the OpenAPI document"
    assert sorted(documented - served) == [], "in the OpenAPI document but not served"


def test_matrix(client):
    world = build_world()
    problems = []
    for route in MATRIX:
        problems += run_route(client, world, route)

    assert not problems, f"{len(problems)} cells of the matrix are wrong:\n" + "\n".join(problems)


def test_the_leak_check_knows_village_1s_data_when_it_sees_it(client):
    world = build_world()
    headers = headers_of(world, "admin")
    household = client.get(f"/api/v1/households/{world.ids['household_id']}", headers=headers)
    receipt = client.get(f"/api/v1/redemptions/{world.ids['redemption_id']}", headers=headers)
    goods = client.get("/api/v1/goods", headers=headers)
    log_in_page(client, world, "admin")
    page = client.get(f"/admin/households/{world.ids['household_id']}", headers={"Accept": HTML})

    shown = "".join(body_text(r) or "" for r in (household, receipt, goods, page))
    # Shown here: everything of the household, its card, receipt, good, grid and village.
    unseen = [s for s in world.all_secrets() if s not in shown]
    assert len(unseen) <= 4
    neighbour = db.session.get_one(Household, world.h_other_id)
    assert set(unseen) <= {neighbour.name, neighbour.code, "分类很好", "qs-spare-user"}
    assert world.balance_figure().search(body_text(household))
    assert world.balance_figure().search(page.text)


def log_in_page(client, world: World, caller: str) -> None:
    with client.session_transaction() as session:
        session.clear()
        session["user_id"] = world.user_ids[caller]
        user = db.session.get_one(User, world.user_ids[caller])
        session["session_version"] = user.session_version


def headers_of(world: World, caller: str) -> dict[str, str]:
    return bearer(world.tokens[caller])


def test_a_resident_cannot_read_another_households_ledger(client):
    world = build_world()
    adjust(world.v1.id, world.h_other_id, 4321, reason="邻户奖励", actor_id=None)
    db.session.commit()

    for household_id in (world.h_other_id, world.h2_id):
        response = client.get(
            f"/api/v1/households/{household_id}/ledger", headers=headers_of(world, "household")
        )

        assert response.status_code in (403, 404)
        assert "4321" not in response.text
        assert "邻户奖励" not in response.text
    own = client.get(
        f"/api/v1/households/{world.ids['household_id']}/ledger",
        headers=headers_of(world, "household"),
    )
    assert own.status_code == 200
    assert own.get_json()["balance"] == household_account(world.ids["household_id"]).balance


def test_a_residents_page_shows_only_its_own_statement(client):
    world = build_world()
    adjust(world.v1.id, world.ids["household_id"], 11, reason="本户奖励", actor_id=None)
    adjust(world.v1.id, world.h_other_id, 4321, reason="邻户奖励", actor_id=None)
    db.session.commit()
    log_in_page(client, world, "household")

    for query in ("", "?show=in", "?show=out", "?before=1000"):
        page = client.get(f"/my{query}", headers={"Accept": HTML})

        assert page.status_code == 200
        assert "邻户奖励" not in page.text
        assert "4321" not in page.text
        assert "赵有余" not in page.text
    page = client.get("/my", headers={"Accept": HTML}).text
    assert "本户奖励" in page
    assert str(household_account(world.ids["household_id"]).balance) in page


def test_a_disabled_users_token_and_session_stop_at_once(client):
    world = build_world()
    inspector = db.session.get_one(User, world.user_ids["inspector"])
    # Only the flag: the check on every request must not rely on the tokens being
    # revoked when a user is disabled.
    inspector.active = False
    db.session.commit()

    response = client.get("/api/v1/grids", headers=headers_of(world, "inspector"))
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    log_in_page(client, world, "inspector")
    page = client.get("/inspect", headers={"Accept": HTML})
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login")


def test_an_inspector_adds_a_photo_only_to_their_own_inspection(client):
    world = build_world()
    other = create_user(world.v1, "qs-inspector-b", PASSWORD, INSPECTOR)
    token = issue_token(other).token
    db.session.commit()

    response = client.post(
        f"/api/v1/inspections/{world.ids['inspection_id']}/photo",
        headers=bearer(token),
        data={"photo": (io.BytesIO(png_bytes()), "photo.png")},
    )

    assert response.status_code == 403
    assert db.session.get_one(Inspection, world.ids["inspection_id"]).photo is not None


def test_the_api_ignores_a_page_session(client):
    world = build_world()
    log_in_page(client, world, "admin")

    response = client.get("/api/v1/households")
    write = client.post("/api/v1/grids", json={"name": "不该建的网格"})

    assert response.status_code == 401
    assert write.status_code == 401
    grids = client.get("/api/v1/grids", headers=headers_of(world, "admin")).get_json()["items"]
    assert "不该建的网格" not in [grid["name"] for grid in grids]


def test_the_township_leak_check_knows_a_households_name_and_phone(client):
    world = build_world()
    household = client.get(
        f"/api/v1/households/{world.ids['household_id']}", headers=headers_of(world, "admin")
    )

    shown = body_text(household) or ""
    # What the township's cells look for is what a village's own page does show.
    assert [s for s in world.personal if s in shown] == world.personal[0:1] + world.personal[3:]
