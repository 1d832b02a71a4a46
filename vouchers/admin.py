"""The operators' campaign desk; every write goes through the vouchers services. (R-VC-01, R-VC-09, R-OP-01)

Campaign operators create and edit campaigns in the admin form, and publish,
pause and end them with the buttons of the change page; each asks for a reason,
and the services record the operator and the reason (``CampaignChange``). Once
a campaign is published, what a claimed voucher is worth (kind, face value,
threshold, validity, payout periods, promotion start) is shown read-only.
Finance funds a campaign from the marketing account with "Fund" (its own page,
``<id>/fund/``, one funding per form shown). A service's refusal is shown on the
form, on the field it names, and nothing is written.

The list shows each campaign's live liability (R-VC-09) — funded, available,
reserved, paid out, live claims — read for the whole page at once; the change
page adds the liability in full, the last 30 days of claims, triggers and
payouts (``vouchers.reports``) and the campaign's history. Vouchers, changes
and fundings are records: read-only for everybody.

Voucher abuse (R-VC-09, R-LC-06): the change page lists the campaign's flagged
claimants — those sharing a registration or login address or a withdrawal
destination with another claimant — and operators holding
``vouchers.ban_voucher_abuse`` disable an account on "Disable for voucher abuse"
(``abuseban/disable/``), which withholds its unspent payouts. Payouts are records
too, but an operator holding ``vouchers.review_payout`` holds, releases or rejects
one with the buttons of its page, with a reason (R-VC-07, R-OP-01); the list
filters the held ones passing their seventh day within a day (the R-VC-07 alert).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.forms.models import construct_instance
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.admin import ReadOnlyAdmin, ReadOnlyInline
from accounts.admin_actions import ReasonForm
from accounts.models import User
from accounts.money import MAX_AMOUNT, parse_amount
from config.errors import IdempotencyConflict, ServiceError
from vouchers.models import (
    AbuseBan,
    Campaign,
    CampaignChange,
    CampaignFunding,
    CampaignStatus,
    Payout,
    PayoutState,
    Voucher,
)
from vouchers.reports import campaign_daily
from vouchers.selectors import Liability, campaign_flagged_claimants, campaign_liabilities, payouts_withheld
from vouchers.services.abuse import account_disable_for_abuse
from vouchers.services.campaigns import (
    DRAFT_EDITABLE,
    LIVE_EDITABLE,
    campaign_create,
    campaign_end,
    campaign_fund,
    campaign_pause,
    campaign_publish,
    campaign_update,
)
from vouchers.services.payouts import HELD_ALERT_AT, PAYOUT_DEADLINE, payout_hold, payout_reject, payout_release

CHANGE_CAMPAIGN = "vouchers.change_campaign"
FUND_CAMPAIGN = "vouchers.fund_campaign"
REVIEW_PAYOUT = "vouchers.review_payout"
BAN_VOUCHER_ABUSE = "vouchers.ban_voucher_abuse"
DAILY_DAYS = 30
RECORD_FIELDS = ["status", "created_by", "created_at"]


def usdt(amount: Decimal | None) -> str:
    """An amount as operators read it: thousands separated, two decimals at least, no trailing zeros beyond."""
    if amount is None:
        return "—"
    exact = amount.normalize()
    if exact.as_tuple().exponent > -2:  # whole or tenths: show cents
        exact = amount.quantize(Decimal("0.01"))
    return f"{exact:,f}"


def show_service_error(form: forms.BaseForm, exc: ServiceError) -> None:
    """A service's refusal on the form: on each field it names, or above the form."""
    for field, errors in exc.fields.items():
        if field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, [f"{field}: {e}" for e in errors])
    if not exc.fields:
        form.add_error(None, exc.detail)


# --- the campaign form -------------------------------------------------------


class CampaignForm(forms.ModelForm):
    """A campaign's settings and why they change; saved only by ``campaign_create`` / ``campaign_update``."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why: recorded with the change and your name (R-OP-01).",
    )
    # The service's refusal of the previous attempt to save this same submission (see CampaignAdmin.changeform_view).
    refusal: ServiceError | None = None

    class Meta:
        model = Campaign
        fields = list(DRAFT_EDITABLE)

    def clean(self):
        cleaned = super().clean()
        if self.refusal is not None:
            show_service_error(self, self.refusal)
        return cleaned

    def _post_clean(self):
        # Fields are validated as usual, but not the model's check constraints: the services check the same
        # rules across fields and name the field concerned ("promotion_ends_at: must be after the promotion
        # starts"), where a constraint would only say "Constraint … is violated". The database still enforces them.
        try:
            self.instance = construct_instance(self, self.instance, self._meta.fields, self._meta.exclude)
        except ValidationError as e:
            self._update_errors(e)
        try:
            self.instance.full_clean(
                exclude=self._get_validation_exclusions(), validate_unique=False, validate_constraints=False
            )
        except ValidationError as e:
            self._update_errors(e)


class FundForm(forms.Form):
    amount = forms.CharField(
        help_text=f"USDT moved from the marketing account, up to 8 decimal places, at most the budget not yet funded "
        f"(and {MAX_AMOUNT}).",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded on the journal entry.")
    # A key per form shown: submitting the same form twice funds once.
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean_amount(self) -> Decimal:
        try:
            return parse_amount(self.cleaned_data["amount"], field="amount")
        except ServiceError as exc:
            raise forms.ValidationError(exc.fields["amount"][0]) from None


class _Refused(Exception):
    """A service refused to save the campaign form: carries its error out of the admin's transaction."""

    def __init__(self, error: ServiceError):
        super().__init__(error.detail)
        self.error = error


# --- status moves --------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    label: str
    decide: Callable[..., Campaign]
    # The statuses the move starts from (as the service allows them): only used to offer the button.
    allowed: tuple[str, ...]
    explanation: str


MOVES: dict[str, Move] = {
    "publish": Move(
        "Publish",
        campaign_publish,
        (CampaignStatus.DRAFT, CampaignStatus.PAUSED),
        "Users can claim its vouchers in the app during the promotion window, until the collection deadline, "
        "while its funded budget lasts.",
    ),
    "pause": Move(
        "Pause",
        campaign_pause,
        (CampaignStatus.LIVE,),
        "No new claims while it is paused; vouchers already claimed keep working. Publish it again to resume.",
    ),
    "end": Move(
        "End",
        campaign_end,
        (CampaignStatus.DRAFT, CampaignStatus.LIVE, CampaignStatus.PAUSED),
        "No new claims, for good; vouchers already claimed keep working until they expire. This cannot be undone.",
    ),
}


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


# --- the campaign admin ---------------------------------------------------------


class CampaignChangeList(ChangeList):
    """The page's campaigns, each with its liability, read in a few grouped queries for the whole page."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        liabilities = campaign_liabilities(self.result_list)
        for campaign in self.result_list:
            campaign.liability = liabilities[campaign.pk]


def _liability(campaign: Campaign) -> Liability:
    liability = getattr(campaign, "liability", None)
    if liability is None:  # a campaign not from the list page
        liability = campaign.liability = campaign_liabilities([campaign])[campaign.pk]
    return liability


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
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
        return usdt(_liability(obj).funded)

    @admin.display(description="available")
    def available(self, obj: Campaign) -> str:
        return usdt(_liability(obj).available)

    @admin.display(description="reserved")
    def reserved(self, obj: Campaign) -> str:
        return usdt(_liability(obj).reserved)

    @admin.display(description="paid out")
    def paid_out(self, obj: Campaign) -> str:
        return usdt(_liability(obj).paid_out)

    @admin.display(description="live claims")
    def live_claims(self, obj: Campaign) -> int:
        return _liability(obj).live_claims

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
            "liability_rows": liability_rows(_liability(campaign)),
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
            "flags": flagged_claimants(campaign, can_ban=request.user.has_perm(BAN_VOUCHER_ABUSE)),
        }

    # --- buttons: publish, pause, end; fund

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
        ]
        return [*own, *super().get_urls()]

    def _page(self, request, campaign: Campaign, *, title: str, form: forms.Form, explanation: str, submit: str):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "campaign": campaign,
            "face_value": usdt(campaign.face_value),
            "form": form,
            "explanation": explanation,
            "submit_label": submit,
            "liability_rows": liability_rows(_liability(campaign)),
            "change_url": reverse("admin:vouchers_campaign_change", args=[campaign.pk]),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/vouchers/campaign_action.html", context)

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
        return self._page(
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
        return self._page(
            request,
            campaign,
            title=f"Fund {campaign.name}",
            form=form,
            explanation="Moves money from the platform's marketing account to the campaign's available budget; "
            "the campaign can never be funded beyond its budget (R-VC-09).",
            submit="Fund",
        )


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


# --- records: read-only for everybody ---------------------------------------------


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


# --- payouts: records, reviewed with buttons (R-VC-07, R-OP-01) ----------------------------


@dataclass(frozen=True)
class Review:
    label: str
    decide: Callable[..., Payout]
    allowed: str  # the state the service accepts: only used to offer the button
    explanation: str


REVIEWS: dict[str, Review] = {
    "hold": Review(
        "Hold",
        payout_hold,
        PayoutState.PENDING,
        "The daily run will not issue this payout until it is released or rejected. You are alerted a day "
        "before it passes its seventh day after the trigger (R-VC-07).",
    ),
    "release": Review(
        "Release",
        payout_release,
        PayoutState.HELD,
        "Issues the payout now: the user can claim it in the app for the campaign's claim days.",
    ),
    "reject": Review(
        "Reject",
        payout_reject,
        PayoutState.HELD,
        "The user never gets this payout; its amount returns to the campaign's available budget (R-VC-09).",
    ),
}


class HeldAlertFilter(admin.SimpleListFilter):
    """Held payouts passing their seventh day after the trigger within a day, or already past it (R-VC-07)."""

    title = "review deadline"
    parameter_name = "held_alert"

    def lookups(self, request, model_admin):
        return [("due", "held, passing its seventh day within a day")]

    def queryset(self, request, queryset):
        if self.value() == "due":
            return queryset.filter(state=PayoutState.HELD, triggered_at__lte=timezone.now() - HELD_ALERT_AT)
        return queryset


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    change_form_template = "admin/vouchers/payout_change_form.html"
    list_display = [
        "id",
        "user_email",
        "campaign",
        "amount",
        "state",
        "triggered_at",
        "pay_by",
        "issued_at",
        "claim_by",
        "held_at",
        "reviewed_by",
    ]
    list_filter = [HeldAlertFilter, "state"]
    search_fields = ["user__email", "campaign__name"]
    list_select_related = ["campaign", "user", "reviewed_by"]
    date_hierarchy = "triggered_at"

    @admin.display(description="user", ordering="user__email")
    def user_email(self, obj: Payout) -> str:
        return obj.user.email

    @admin.display(description="pay by (R-VC-07)", ordering="triggered_at")
    def pay_by(self, obj: Payout):
        return obj.triggered_at + PAYOUT_DEADLINE

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payout = self.get_object(request, unquote(object_id))
        reviews = []
        if payout is not None and request.user.has_perm(REVIEW_PAYOUT):
            reviews = [
                {"label": review.label, "url": reverse(f"admin:vouchers_payout_{name}", args=[payout.pk])}
                for name, review in REVIEWS.items()
                if payout.state == review.allowed
            ]
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "reviews": reviews})

    def get_urls(self):
        own = [
            path(
                f"<int:payout_id>/{name}/",
                self.admin_site.admin_view(self.review_view),
                {"review": name},
                name=f"vouchers_payout_{name}",
            )
            for name in REVIEWS
        ]
        return [*own, *super().get_urls()]

    def review_view(self, request: HttpRequest, payout_id: int, review: str) -> HttpResponse:
        if not request.user.has_perm(REVIEW_PAYOUT):
            raise PermissionDenied
        payout = get_object_or_404(Payout.objects.select_related("user", "campaign"), pk=payout_id)
        chosen = REVIEWS[review]
        change_url = reverse("admin:vouchers_payout_change", args=[payout.pk])
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            try:
                payout = chosen.decide(payout=payout, actor=request.user, reason=form.cleaned_data["reason"])
            except ServiceError as exc:
                show_service_error(form, exc)
            else:
                self.message_user(
                    request, f"Payout #{payout.pk}: {payout.get_state_display().lower()}.", messages.SUCCESS
                )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{chosen.label} payout #{payout.pk}",
            "payout": payout,
            "amount": usdt(payout.amount),
            "pay_by": payout.triggered_at + PAYOUT_DEADLINE,
            "form": form,
            "explanation": chosen.explanation,
            "submit_label": chosen.label,
            "change_url": change_url,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/vouchers/payout_action.html", context)


# --- voucher abuse: bans (R-LC-06, R-VC-09, R-OP-01) ------------------------------------------


class DisableForm(forms.Form):
    user = forms.CharField(help_text="The user's id or email.")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded with the ban and your name (R-OP-01)."
    )

    def clean_user(self) -> User:
        given = self.cleaned_data["user"].strip()
        found = User.objects.filter(pk=int(given)) if given.isdigit() else User.objects.filter(email__iexact=given)
        user = found.first()
        if user is None:
            raise forms.ValidationError(f"No user {given}.")
        return user


@admin.register(AbuseBan)
class AbuseBanAdmin(ReadOnlyAdmin):
    change_list_template = "admin/vouchers/abuseban_change_list.html"
    list_display = ["id", "at", "user", "actor", "reason", "withheld"]
    search_fields = ["user__email", "actor__email", "reason"]
    list_select_related = ["user", "actor"]
    date_hierarchy = "at"

    def get_queryset(self, request):
        withheld = Count("user__voucher_payouts", filter=Q(user__voucher_payouts__state=PayoutState.WITHHELD))
        return super().get_queryset(request).annotate(withheld_payouts=withheld)

    @admin.display(description="payouts withheld")
    def withheld(self, obj: AbuseBan) -> int:
        return obj.withheld_payouts

    def changelist_view(self, request, extra_context=None):
        context = {**(extra_context or {}), "can_disable": request.user.has_perm(BAN_VOUCHER_ABUSE)}
        return super().changelist_view(request, context)

    def get_urls(self):
        own = [
            path("disable/", self.admin_site.admin_view(self.disable_view), name="vouchers_abuseban_disable"),
        ]
        return [*own, *super().get_urls()]

    def disable_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(BAN_VOUCHER_ABUSE):
            raise PermissionDenied
        form = DisableForm(
            request.POST if request.method == "POST" else None, initial={"user": request.GET.get("user", "")}
        )
        if form.is_bound and form.is_valid():
            user = form.cleaned_data["user"]
            already = AbuseBan.objects.filter(user=user).exists()
            try:
                ban = account_disable_for_abuse(user=user, actor=request.user, reason=form.cleaned_data["reason"])
            except ServiceError as exc:
                show_service_error(form, exc)
            else:
                count, amount = payouts_withheld(user_id=user.pk)
                if already:
                    self.message_user(
                        request,
                        f"{user.email} was already disabled for voucher abuse on {timezone.localtime(ban.at):%Y-%m-%d}"
                        f" by {ban.actor.email}: nothing changed ({count} payout(s) withheld).",
                        messages.WARNING,
                    )
                else:
                    self.message_user(
                        request,
                        f"{user.email} is disabled for voucher abuse: {count} payout(s) withheld, {usdt(amount)} "
                        "USDT returned to the campaigns' available budget.",
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(reverse("admin:vouchers_abuseban_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Disable an account for voucher abuse",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/vouchers/abuseban_disable.html", context)
