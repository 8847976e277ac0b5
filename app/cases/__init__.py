"""Resident reports (随手拍): cases reported, dispatched to a grid worker, fixed and counted.

A case moves through one transition table (transitions.py); every move is an
append-only CaseEvent. Time limits come from the server's clock and the category's
hours; overdue is computed on read, and `flask cases tick` only closes what nobody
confirmed and records escalations. Points for a report are paid once, when a valid
case is closed, through the ledger (journal kind `report`, business key per case).
"""
