"""Data and invariants of vouchers: voucher campaigns, claims, first-loss and liquidation coverage,
experience vouchers, loss-coverage vouchers and their payout runs.
"""
