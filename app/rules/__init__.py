"""A village's rules: points per grade, the daily limit, when points expire.

Rules are versioned (app/rules/models.py): a change adds a version and every
inspection keeps the version it was scored by. Inspections read them to score a
grade, the ledger's expiry to know when points expire; the rules import neither.
"""
