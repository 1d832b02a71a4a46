"""Operator screens of the copy engine; every decision goes through the services. (R-CT-01, R-CT-14, R-CT-22, R-OP-01)

Lead traders are approved, rejected, suspended and reinstated by actions that
ask for a reason, recorded with the operator by ``copytrading.services.leads``.
Followings and copy decisions are read-only. The platform's copy settings are
one row, edited in place.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.urls import reverse

from accounts.admin import ReadOnlyAdmin
from accounts.admin_actions import decide_with_reason
from copytrading.models import CopyDecision, CopySettings, Following, FollowingStatus, LeadTrader, LeadTraderStatus
from copytrading.services.leads import lead_trader_approve, lead_trader_reject, lead_trader_suspend

REVIEW_LEAD_TRADER = "copytrading.review_lead_trader"


def _lead_decision(modeladmin, request, queryset, *, decide, verb: str, allowed: tuple[str, ...], explanation: str):
    """Ask for a reason, then decide each selected lead through ``decide``; wrong-state leads are reported."""
    return decide_with_reason(
        modeladmin,
        request,
        queryset,
        decide=decide,
        id_kwarg="lead_id",
        label=lambda lead: lead.nickname,
        noun="lead trader(s)",
        verb=verb,
        template="admin/copytrading/lead_trader_decision.html",
        refuse=lambda lead: None if lead.status in allowed else f"is {lead.get_status_display().lower()}; not {verb}.",
        context={"explanation": explanation},
    )


@admin.register(LeadTrader)
class LeadTraderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "nickname",
        "user",
        "status",
        "profit_share_ratio",
        "min_following_amount",
        "max_followers",
        "followers",
        "decided_by",
        "decided_at",
        "status_reason",
        "created_at",
    ]
    list_filter = ["status"]
    search_fields = ["nickname", "user__email"]
    list_select_related = ["user", "decided_by"]
    actions = ["approve", "reject", "suspend", "reinstate"]

    def get_queryset(self, request):
        live = ~Q(followings__status=FollowingStatus.STOPPED)
        return super().get_queryset(request).annotate(live_followers=Count("followings", filter=live))

    @admin.display(description="followers", ordering="live_followers")
    def followers(self, obj: LeadTrader) -> int:
        return obj.live_followers

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm(REVIEW_LEAD_TRADER)

    @admin.action(description="Approve selected applications", permissions=["review"])
    def approve(self, request, queryset):
        return _lead_decision(
            self,
            request,
            queryset,
            decide=lead_trader_approve,
            verb="approved",
            allowed=(LeadTraderStatus.PENDING,),
            explanation="Approved lead traders can be followed and their fills are copied.",
        )

    @admin.action(description="Reject selected applications", permissions=["review"])
    def reject(self, request, queryset):
        return _lead_decision(
            self,
            request,
            queryset,
            decide=lead_trader_reject,
            verb="rejected",
            allowed=(LeadTraderStatus.PENDING,),
            explanation="Rejected applicants are never listed or copied.",
        )

    @admin.action(description="Suspend selected lead traders", permissions=["review"])
    def suspend(self, request, queryset):
        return _lead_decision(
            self,
            request,
            queryset,
            decide=lead_trader_suspend,
            verb="suspended",
            allowed=(LeadTraderStatus.APPROVED,),
            explanation="Suspended lead traders take no new followers and their new opens are not copied.",
        )

    @admin.action(description="Reinstate selected suspended lead traders", permissions=["review"])
    def reinstate(self, request, queryset):
        return _lead_decision(
            self,
            request,
            queryset,
            decide=lead_trader_approve,
            verb="reinstated",
            allowed=(LeadTraderStatus.SUSPENDED,),
            explanation="Reinstated lead traders are approved again: listed, followed and copied.",
        )


@admin.register(Following)
class FollowingAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "follower",
        "lead",
        "mode",
        "status",
        "stop_method",
        "invested",
        "sub_account",
        "started_at",
        "stopped_at",
    ]
    list_filter = ["status", "mode", "stop_method"]
    search_fields = ["follower__email", "lead__nickname"]
    list_select_related = ["follower", "lead", "sub_account__owner"]


@admin.register(CopyDecision)
class CopyDecisionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "lead_order",
        "following",
        "followed",
        "reason",
        "is_close",
        "qty",
        "price",
        "margin",
        "leverage",
        "margin_mode",
        "position",
        "created_at",
    ]
    list_filter = ["reason", "followed", "is_close"]
    search_fields = ["following__follower__email", "following__lead__nickname"]
    list_select_related = ["lead_order", "following"]
    # The table grows by one row per follower per lead fill: skip the full count.
    show_full_result_count = False


class CopySettingsForm(forms.ModelForm):
    class Meta:
        model = CopySettings
        fields = ["max_profit_share_ratio", "min_following_amount", "frequency_limit_seconds", "follower_slot_tiers"]
        help_texts = {
            "max_profit_share_ratio": "Ceiling of a lead's profit-share ratio in ordinary following, above 0 and ≤ 1.",
            "min_following_amount": "A following's first transfer is at least this (USDT, above 0).",
            "frequency_limit_seconds": "A lead open within this many seconds of its previous open is not copied.",
            "follower_slot_tiers": (
                "[[minimum futures equity, follower slots], …] by ascending equity; below the first: no slots."
            ),
        }

    def clean_max_profit_share_ratio(self):
        ratio = self.cleaned_data["max_profit_share_ratio"]
        if not Decimal(0) < ratio <= Decimal(1):
            raise forms.ValidationError("must be above 0 and at most 1")
        return ratio

    def clean_min_following_amount(self):
        amount = self.cleaned_data["min_following_amount"]
        if amount <= 0:
            raise forms.ValidationError("must be above 0")
        return amount

    def clean_follower_slot_tiers(self):
        tiers = self.cleaned_data["follower_slot_tiers"]
        message = "must be a list of [minimum equity, slots] pairs of non-negative whole numbers, equity ascending"
        if not isinstance(tiers, list) or not tiers:
            raise forms.ValidationError(message)
        previous = None
        for tier in tiers:
            if (
                not isinstance(tier, list)
                or len(tier) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in tier)
                or (previous is not None and tier[0] <= previous)
            ):
                raise forms.ValidationError(message)
            previous = tier[0]
        return tiers


@admin.register(CopySettings)
class CopySettingsAdmin(admin.ModelAdmin):
    """One row: the list opens it directly."""

    form = CopySettingsForm
    list_display = ["__str__", "max_profit_share_ratio", "min_following_amount", "frequency_limit_seconds"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)
        row = CopySettings.current()
        return HttpResponseRedirect(reverse("admin:copytrading_copysettings_change", args=[row.pk]))
