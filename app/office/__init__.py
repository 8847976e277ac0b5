"""The village office: the admin's pages over the records every feature stands on.

The audit log (app/audit) sits on the ground floor, below the edge every page goes
through (app/scope.py, app/actions.py), so that every feature may record in it: its
page and its API live here, on the top floor. The blueprints keep the names they
were born with (audit, audit_api).
"""
