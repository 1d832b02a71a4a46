"""Reads and statistics of protection."""
