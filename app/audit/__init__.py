"""The audit log: who did which admin action, to what, when and why.

Append-only like the ledger (triggers refuse UPDATE and DELETE). Services call
record() in the transaction of the change they make, so the change and its
audit event commit together or not at all.
"""
