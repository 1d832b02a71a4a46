"""The futures venue: USDT-margined perpetuals with the house as counterparty. (R-MG-01 … R-MG-08)

Markets and mark prices, orders filled at the mark, one-way positions per
(account, market, slot), cross and isolated margin, liquidation and the risk
sweep, funding, and the "position closed" outbox. It knows nothing of copy
trading, vouchers or protected programs: those build on it through its
services, its selectors, the outbox consumers (``events``) and the listener
seams of ``hooks``.
"""
