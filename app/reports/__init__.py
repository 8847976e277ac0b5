"""What the village sees: read-only figures over a range of village days, and exports.

Nothing here writes. Inspections are counted by their village day (local_date);
redemptions, ledger entries and stock movements by their timestamp converted to
the village's time zone, so a range of days becomes one half-open UTC interval.
"""
