"""What the campaign desk shows beside the form: the history and fundings inline, each campaign's liability on the
list and its change page, the flagged claimants, and the page of a button (move, fund, grant). (R-VC-09, R-OP-01)"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.admin import ReadOnlyInline
from accounts.models import User
from vouchers.admin.common import usdt
from vouchers.models import Campaign, CampaignChange, CampaignFunding
from vouchers.selectors import Liability, campaign_flagged_claimants, campaign_liabilities

# --- inlines -------------------------------------------------------------------


class CampaignChangeInline(ReadOnlyInline):
    model = CampaignChange
    fields = ["at", "actor", "action", "reason", "changes"]
    verbose_name_plural = "history: who changed what, and why"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class CampaignFundingInline(ReadOnlyInline):
    model = CampaignFunding
    fields = ["at", "amount", "actor", "reason", "entry"]
    verbose_name_plural = "fundings by Finance"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "entry")


# --- the list and the change page ----------------------------------------------------


class CampaignChangeList(ChangeList):
    """The page's campaigns, each with its liability, read in a few grouped queries for the whole page."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        liabilities = campaign_liabilities(self.result_list)
        for campaign in self.result_list:
            campaign.liability = liabilities[campaign.pk]


def campaign_liability(campaign: Campaign) -> Liability:
    """The campaign's liability: read with the list page, or now for a campaign not from it."""
    liability = getattr(campaign, "liability", None)
    if liability is None:  # a campaign not from the list page
        liability = campaign.liability = campaign_liabilities([campaign])[campaign.pk]
    return liability


def liability_rows(liability: Liability) -> list[dict]:
    """The liability as the desk shows it: budget, funded, available, reserved, paid out (R-VC-09)."""
    books_agree = (
        liability.funded == liability.available + liability.reserved + liability.paid_out
        and liability.reserved == liability.reserved_by_claims
    )
    return [
        {"label": "Budget", "value": usdt(liability.budget), "note": "what the campaign may spend"},
        {
            "label": "Funded",
            "value": usdt(liability.funded),
            "note": f"by Finance; {usdt(liability.budget - liability.funded)} of the budget not funded yet",
        },
        {"label": "Available", "value": usdt(liability.available), "note": "for new claims"},
        {
            "label": "Reserved",
            "value": usdt(liability.reserved),
            "note": f"{liability.live_claims} live claim(s) and {liability.triggered} triggered voucher(s) awaiting "
            f"payout ({usdt(liability.pending_payouts)}) hold {usdt(liability.reserved_by_claims)}",
        },
        {"label": "Paid out", "value": usdt(liability.paid_out), "note": "to users"},
        {
            "label": "Books",
            "value": "agree" if books_agree else "DO NOT AGREE",
            "note": "funded = available + reserved + paid out, and reserved = what the vouchers hold",
        },
    ]


def flagged_claimants(campaign: Campaign, *, can_ban: bool) -> list[dict]:
    """The campaign's flagged claimants as the desk shows them (R-VC-09, R-LC-06): each with the claimants it
    shares an address or a withdrawal destination with, whether it is banned, and a link to ban it."""
    ban_url = reverse("admin:vouchers_abuseban_disable")

    def people(users: list[User]) -> str:
        return ", ".join(f"{u.email} (#{u.pk})" for u in users) or "—"

    return [
        {
            "user": f"{flag.user.email} (#{flag.user.pk})",
            "address": people(flag.shares_address_with),
            "withdrawal_address": people(flag.shares_withdrawal_destination_with),
            "banned": flag.banned,
            "ban_url": f"{ban_url}?user={flag.user.pk}" if can_ban and not flag.banned else None,
        }
        for flag in campaign_flagged_claimants(campaign=campaign)
    ]


def action_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    campaign: Campaign,
    *,
    title: str,
    form: forms.Form,
    explanation: str,
    submit: str,
) -> TemplateResponse:
    """The page of one of the campaign's buttons: what it does, the liability now, and its form."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "campaign": campaign,
        "face_value": usdt(campaign.face_value),
        "form": form,
        "explanation": explanation,
        "submit_label": submit,
        "liability_rows": liability_rows(campaign_liability(campaign)),
        "change_url": reverse("admin:vouchers_campaign_change", args=[campaign.pk]),
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/vouchers/campaign_action.html", context)
