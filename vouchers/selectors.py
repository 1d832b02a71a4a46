"""Reads and statistics of vouchers."""
