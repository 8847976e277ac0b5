"""The village office: the admin's pages over the records every feature stands on.

The village's users (app/auth), its places (app/villages: townships, villages, grids)
and its audit log (app/audit) sit on the ground floor, below the edge every page goes
through (app/scope.py, app/actions.py), so that every feature may name a user or a
grid and record what it did. Their pages, APIs and commands (`flask villages`, `flask
users`) live here, on the top floor, with founding a village (its points accounts and
its rules). The blueprints keep the names they were born with (auth for the users
page, users_api, villages for the grids page, grids_api, audit, audit_api).
"""
