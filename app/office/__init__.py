"""The village office: the admin's pages over the records every feature stands on.

The village's users (app/auth) and its audit log (app/audit) sit on the ground floor,
below the edge every page goes through (app/scope.py, app/actions.py), so that every
feature may name a user and record what it did: their pages, APIs and commands
(`flask users`) live here, on the top floor. The blueprints keep the names they were
born with (auth for the users page, users_api, audit, audit_api).
"""
