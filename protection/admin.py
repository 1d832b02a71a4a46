"""Operator screens of protection; every write goes through its services."""
