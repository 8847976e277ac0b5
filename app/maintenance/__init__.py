"""Housekeeping that runs from cron: pruning tables that would otherwise only grow."""
