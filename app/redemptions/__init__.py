"""Redemptions at the points shop's counter: receipts and cancellations."""
