"""The copy engine's data: lead traders, followings, decisions, settlements and statistics.

Split by concern; import from here. The venue's data (markets, orders,
positions) is ``copytrading.futures.models``.
"""

from copytrading.models.copy import (
    CopyDecision,
    CopySettings,
    Following,
    FollowingStatus,
    FollowMode,
    LeadTrader,
    LeadTraderStatus,
    LeverageChoice,
    ModeChoice,
    NotFollowedReason,
    ShareSettlement,
    StopMethod,
)
from copytrading.models.statistics import EquitySnapshot, FollowingStats, SnapshotKind, TraderStats

__all__ = [
    "CopyDecision",
    "CopySettings",
    "EquitySnapshot",
    "FollowMode",
    "Following",
    "FollowingStats",
    "FollowingStatus",
    "LeadTrader",
    "LeadTraderStatus",
    "LeverageChoice",
    "ModeChoice",
    "NotFollowedReason",
    "ShareSettlement",
    "SnapshotKind",
    "StopMethod",
    "TraderStats",
]
