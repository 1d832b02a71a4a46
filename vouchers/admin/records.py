"""The campaigns' records, read-only for everybody: claimed vouchers, the campaigns' changes and their fundings.
(R-VC-09, R-OP-01)"""

from __future__ import annotations

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from vouchers.models import CampaignChange, CampaignFunding, Voucher


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdmin):
    list_display = ["id", "campaign", "user_email", "kind", "face_value", "state", "claimed_at", "valid_until"]
    list_filter = ["state", "kind"]
    search_fields = ["user__email"]
    list_select_related = ["campaign", "user"]

    @admin.display(description="user", ordering="user__email")
    def user_email(self, obj: Voucher) -> str:
        return obj.user.email


@admin.register(CampaignChange)
class CampaignChangeAdmin(ReadOnlyAdmin):
    list_display = ["id", "at", "campaign", "action", "actor", "reason"]
    list_filter = ["action"]
    search_fields = ["campaign__name", "actor__email", "reason"]
    list_select_related = ["campaign", "actor"]
    date_hierarchy = "at"


@admin.register(CampaignFunding)
class CampaignFundingAdmin(ReadOnlyAdmin):
    list_display = ["id", "at", "campaign", "amount", "actor", "reason", "entry"]
    search_fields = ["campaign__name", "actor__email", "reason"]
    list_select_related = ["campaign", "actor", "entry"]
    date_hierarchy = "at"
