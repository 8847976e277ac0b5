"""Households: the account holders, and their QR cards."""
