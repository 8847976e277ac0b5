"""Backups: a consistent copy of the database, and restoring one, on SQLite and PostgreSQL.

SQLite: the online backup API copies the pages under one read transaction, so
the copy is consistent while the server writes (WAL lets the writer go on).
PostgreSQL: pg_dump's custom format, read by pg_restore; pg_dump works from one
snapshot, so the dump is consistent too. After a restore the ledger check runs
on the restored data.
"""
