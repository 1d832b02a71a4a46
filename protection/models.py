"""Data and invariants of protection: capital-protected programs, collateral, capacity, weekly cycles
and settlement statements.
"""
