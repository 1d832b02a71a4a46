"""Operator screens of copytrading; every write goes through its services."""
