"""Accounts operators disabled for voucher abuse (R-LC-06, R-VC-09)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AbuseBan(models.Model):
    """A user disabled for voucher abuse, with who decided it and why: its pending payouts and
    compensation are withheld (shown as withheld, never dropped), and it claims nothing more."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="voucher_ban")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("ban_voucher_abuse", "Can disable an account for voucher abuse")]

    def __str__(self) -> str:
        return f"voucher ban of user {self.user_id}"
