"""Voucher abuse (R-VC-09, R-LC-06, R-OP-01): the bans, read-only, and "Disable for voucher abuse"
(``abuseban/disable/``) for operators holding ``vouchers.ban_voucher_abuse``, which withholds the account's unspent
payouts. The campaign page lists the flagged claimants with a link here (``vouchers.admin.campaign_desk``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.admin import ReadOnlyAdmin
from accounts.models import User
from config.errors import ServiceError
from vouchers.admin.common import BAN_VOUCHER_ABUSE, show_service_error, usdt
from vouchers.models import AbuseBan, PayoutState
from vouchers.selectors import payouts_withheld
from vouchers.services.abuse import account_disable_for_abuse


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
