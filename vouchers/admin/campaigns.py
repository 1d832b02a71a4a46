"""The operators' campaign desk; every write goes through the vouchers services. (R-VC-01, R-VC-09, R-OP-01)

Campaign operators create and edit campaigns in the admin form, and publish,
pause and end them with the buttons of the change page; each asks for a reason,
and the services record the operator and the reason (``CampaignChange``). Once
a campaign is published, what a claimed voucher is worth (kind, face value,
threshold, validity, payout periods, promotion start) is shown read-only.
Finance funds a campaign from the marketing account with "Fund" (its own page,
``<id>/fund/``, one funding per form shown). On a loss-coverage campaign,
operators grant vouchers to the users of a CSV file with "Grant loss coverage"
(``<id>/grant-loss-coverage/``, ``vouchers.admin.loss_coverage``). A service's
refusal is shown on the form, on the field it names, and nothing is written.

The list shows each campaign's live liability (R-VC-09) — funded, available,
reserved, paid out, live claims — read for the whole page at once; the change
page adds the liability in full, the last 30 days of claims, triggers and
payouts (``vouchers.reports``), the flagged claimants and the campaign's
history (``vouchers.admin.campaign_desk``).
"""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone

from accounts.admin_actions import ReasonForm
from config.errors import IdempotencyConflict, ServiceError
from vouchers.admin.campaign_desk import (
    CampaignChangeInline,
    CampaignChangeList,
    CampaignFundingInline,
    action_page,
    campaign_liability,
    flagged_claimants,
    liability_rows,
)
from vouchers.admin.campaign_forms import MOVES, CampaignForm, FundForm
from vouchers.admin.common import BAN_VOUCHER_ABUSE, CHANGE_CAMPAIGN, FUND_CAMPAIGN, show_service_error, usdt
from vouchers.admin.loss_coverage import LossCoverageGrants
from vouchers.models import Campaign, CampaignStatus
from vouchers.reports import campaign_daily
from vouchers.services.campaigns import (
    DRAFT_EDITABLE,
    LIVE_EDITABLE,
    campaign_create,
    campaign_fund,
    campaign_update,
)

DAILY_DAYS = 30
RECORD_FIELDS = ["status", "created_by", "created_at"]


class _Refused(Exception):
    """A service refused to save the campaign form: carries its error out of the admin's transaction."""

    def __init__(self, error: ServiceError):
        super().__init__(error.detail)
        self.error = error


@admin.register(Campaign)
class CampaignAdmin(LossCoverageGrants, admin.ModelAdmin):
    form = CampaignForm
    change_form_template = "admin/vouchers/campaign_change_form.html"
    list_display = [
        "name",
        "kind",
        "status",
        "face_value_usdt",
        "budget_usdt",
        "promotion",
        "claim_deadline",
        "funded",
        "available",
        "reserved",
        "paid_out",
        "live_claims",
    ]
    list_filter = ["kind", "status"]
    search_fields = ["name"]
    inlines = [CampaignChangeInline, CampaignFundingInline]

    # --- list columns

    def get_changelist(self, request, **kwargs):
        return CampaignChangeList

    @admin.display(description="face value", ordering="face_value")
    def face_value_usdt(self, obj: Campaign) -> str:
        return usdt(obj.face_value)

    @admin.display(description="budget", ordering="budget")
    def budget_usdt(self, obj: Campaign) -> str:
        return usdt(obj.budget)

    @admin.display(description="promotion window", ordering="promotion_starts_at")
    def promotion(self, obj: Campaign) -> str:
        starts, ends = timezone.localtime(obj.promotion_starts_at), timezone.localtime(obj.promotion_ends_at)
        return f"{starts:%Y-%m-%d %H:%M} – {ends:%Y-%m-%d %H:%M}"

    @admin.display(description="funded")
    def funded(self, obj: Campaign) -> str:
        return usdt(campaign_liability(obj).funded)

    @admin.display(description="available")
    def available(self, obj: Campaign) -> str:
        return usdt(campaign_liability(obj).available)

    @admin.display(description="reserved")
    def reserved(self, obj: Campaign) -> str:
        return usdt(campaign_liability(obj).reserved)

    @admin.display(description="paid out")
    def paid_out(self, obj: Campaign) -> str:
        return usdt(campaign_liability(obj).paid_out)

    @admin.display(description="live claims")
    def live_claims(self, obj: Campaign) -> int:
        return campaign_liability(obj).live_claims

    # --- the form

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["name", "kind", "audience"]}),
            ("Value and budget", {"fields": ["face_value", "closing_threshold", "budget", "per_user_limit"]}),
            (
                "Timing",
                {
                    "fields": [
                        "promotion_starts_at",
                        "promotion_ends_at",
                        "claim_deadline",
                        "validity_days",
                        "payout_claim_days",
                        "payout_usage_days",
                    ]
                },
            ),
        ]
        if obj is not None:
            fieldsets.append(("Record", {"fields": RECORD_FIELDS}))
        if self._writes(request, obj):
            fieldsets.append(("Why", {"fields": ["reason"]}))
        return fieldsets

    def _writes(self, request, obj: Campaign | None) -> bool:
        """Whether this page saves (add or change), and so asks for the reason."""
        return self.has_add_permission(request) if obj is None else self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status == CampaignStatus.DRAFT:
            return RECORD_FIELDS
        # Published: claimed vouchers depend on everything but its reach and timing (the service refuses the rest).
        return [*RECORD_FIELDS, *(name for name in DRAFT_EDITABLE if name not in LIVE_EDITABLE)]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if not self._writes(request, obj):
            form = type(form.__name__, (form,), {"reason": None})  # a page that only shows asks for no reason
        refusal = getattr(request, "campaign_refusal", None)
        if refusal is not None:
            form = type(form.__name__, (form,), {"refusal": refusal})
        return form

    def get_inline_instances(self, request, obj=None):
        return [] if obj is None else super().get_inline_instances(request, obj)

    def has_change_permission(self, request, obj=None):
        # An ended campaign never changes again (campaign_update refuses): its page is read-only.
        if obj is not None and obj.status == CampaignStatus.ENDED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # campaigns are records of money: they end, never disappear

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data["reason"]
        try:
            if change:
                changes = {name: form.cleaned_data[name] for name in form.changed_data if name in DRAFT_EDITABLE}
                if not changes:
                    self.message_user(request, "Nothing changed: nothing was recorded.", messages.INFO)
                    return
                campaign_update(campaign=obj, actor=request.user, reason=reason, changes=changes)
                return
            values = {name: form.cleaned_data[name] for name in DRAFT_EDITABLE if name in form.cleaned_data}
            saved = campaign_create(actor=request.user, reason=reason, **values)
        except ServiceError as exc:
            raise _Refused(exc) from exc
        for field in Campaign._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._desk_view(request, object_id, form_url, extra_context)
        except _Refused as refused:
            # The service refused: the admin's transaction rolled back and nothing was written. Validate the same
            # submission again, this time with the service's errors on the form, so the operator sees them there.
            request.campaign_refusal = refused.error
            return self._desk_view(request, object_id, form_url, extra_context)

    def _desk_view(self, request, object_id, form_url, extra_context):
        campaign = None
        if object_id is not None and self.has_view_or_change_permission(request):
            campaign = self.get_object(request, unquote(object_id))
        context = {**(extra_context or {}), **(self.desk_context(request, campaign) if campaign else {})}
        return super().changeform_view(request, object_id, form_url, context)

    def desk_context(self, request: HttpRequest, campaign: Campaign) -> dict:
        """The change page's liability, last days and buttons (R-VC-09, R-OP-01)."""
        moves = []
        if request.user.has_perm(CHANGE_CAMPAIGN):
            moves = [
                {"label": move.label, "url": reverse(f"admin:vouchers_campaign_{name}", args=[campaign.pk])}
                for name, move in MOVES.items()
                if campaign.status in move.allowed
            ]
        can_fund = request.user.has_perm(FUND_CAMPAIGN) and campaign.status != CampaignStatus.ENDED
        return {
            "liability_rows": liability_rows(campaign_liability(campaign)),
            "daily": [
                {
                    **row,
                    "claimed_value": usdt(row["claimed_value"]),
                    "triggered_value": usdt(row["triggered_value"]),
                    "paid_out": usdt(row["paid_out"]),
                }
                for row in campaign_daily(campaign=campaign, days=DAILY_DAYS)
            ],
            "moves": moves,
            "fund_url": reverse("admin:vouchers_campaign_fund", args=[campaign.pk]) if can_fund else None,
            "grant_url": self.grant_loss_coverage_url(request, campaign),
            "flags": flagged_claimants(campaign, can_ban=request.user.has_perm(BAN_VOUCHER_ABUSE)),
        }

    # --- buttons: publish, pause, end; fund; grant loss coverage (LossCoverageGrants)

    def get_urls(self):
        own = [
            path(
                "<int:campaign_id>/fund/",
                self.admin_site.admin_view(self.fund_view),
                name="vouchers_campaign_fund",
            ),
            *(
                path(
                    f"<int:campaign_id>/{name}/",
                    self.admin_site.admin_view(self.move_view),
                    {"move": name},
                    name=f"vouchers_campaign_{name}",
                )
                for name in MOVES
            ),
            *self.grant_loss_coverage_urls(),
        ]
        return [*own, *super().get_urls()]

    def move_view(self, request: HttpRequest, campaign_id: int, move: str) -> HttpResponse:
        if not request.user.has_perm(CHANGE_CAMPAIGN):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        chosen = MOVES[move]
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                campaign = chosen.decide(campaign=campaign, actor=request.user, reason=form.cleaned_data["reason"])
            except ServiceError as exc:
                show_service_error(form, exc)
            else:
                self.message_user(
                    request, f"{campaign.name}: {campaign.get_status_display().lower()}.", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:vouchers_campaign_change", args=[campaign.pk]))
        return action_page(
            self,
            request,
            campaign,
            title=f"{chosen.label} {campaign.name}",
            form=form,
            explanation=chosen.explanation,
            submit=chosen.label,
        )

    def fund_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        if not request.user.has_perm(FUND_CAMPAIGN):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        form = FundForm(request.POST if request.method == "POST" else None, initial={"key": uuid.uuid4().hex})
        if form.is_bound and form.is_valid():
            amount = form.cleaned_data["amount"]
            try:
                funding = campaign_fund(
                    campaign=campaign,
                    amount=amount,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    # The form's key: a double submit of the same form funds once.
                    idempotency_key=f"admin:{request.user.pk}:{form.cleaned_data['key']}",
                )
            except IdempotencyConflict:
                form.add_error(None, "This form was already used for another amount. Open the fund page again.")
            except ServiceError as exc:
                show_service_error(form, exc)
            else:
                self.message_user(
                    request,
                    f"{campaign.name}: funded {usdt(funding.amount)} USDT from the marketing account "
                    f"(funding #{funding.pk}, journal entry #{funding.entry_id}).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:vouchers_campaign_change", args=[campaign.pk]))
        return action_page(
            self,
            request,
            campaign,
            title=f"Fund {campaign.name}",
            form=form,
            explanation="Moves money from the platform's marketing account to the campaign's available budget; "
            "the campaign can never be funded beyond its budget (R-VC-09).",
            submit="Fund",
        )
