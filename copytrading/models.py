"""Data and invariants of copytrading: markets and mark prices, orders, positions, margin and
liquidation, lead traders, followings and sub-accounts, the copy engine, profit share and trader
statistics.
"""
