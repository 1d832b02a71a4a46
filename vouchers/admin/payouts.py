"""Payouts: records, but an operator holding ``vouchers.review_payout`` holds, releases or rejects one with the
buttons of its page, with a reason (R-VC-07, R-OP-01); the list filters the held ones passing their seventh day
within a day (the R-VC-07 alert)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.admin import ReadOnlyAdmin
from accounts.admin_actions import ReasonForm
from config.errors import ServiceError
from vouchers.admin.common import REVIEW_PAYOUT, show_service_error, usdt
from vouchers.models import Payout, PayoutState
from vouchers.services.payouts import HELD_ALERT_AT, PAYOUT_DEADLINE, payout_hold, payout_reject, payout_release


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
