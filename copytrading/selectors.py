"""Reads and statistics of copytrading."""
