"""This app's own consumers of "position closed" events."""

from __future__ import annotations

from copytrading.events import register_consumer


@register_consumer("copytrading.following_finish")
def following_finish_on_close(payload: dict) -> None:
    """A copy position closed: a following stopping by "follow the trader to close" may now be flat (R-CT-17)."""
    if not payload.get("full") or not payload.get("slot"):
        return
    from copytrading.models import Following, FollowingStatus
    from copytrading.services.followings import following_finish_if_flat

    following = Following.objects.filter(pk=payload["slot"], status=FollowingStatus.STOPPING).first()
    if following is not None:
        following_finish_if_flat(following=following)
