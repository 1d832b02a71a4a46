"""The copy engine: lead traders, followings, the fan-out of a lead's fills, the Net Value Guardian,
profit share with a high-water mark, loans against unrealised profit, and statistics. (R-CT, R-PS)

Built on the futures venue (``copytrading.futures``), which it uses through its
services and listens to through ``copytrading.futures.hooks`` and its events.
"""
