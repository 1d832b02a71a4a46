"""Operator screens of vouchers; every write goes through its services."""
