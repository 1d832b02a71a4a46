"""Loss-coverage vouchers in the admin. (R-LC-01 … R-LC-06, R-VC-09, R-OP-01)

The vouchers and their compensations are records, read-only for everybody. A
campaign operator (``vouchers.change_campaign``) grants vouchers of a live
loss-coverage campaign with "Grant loss coverage" on its page
(``<id>/grant-loss-coverage/``): a CSV file of user ids and a reason, granted by
``loss_coverage_grant_many`` under a key derived from the file's ids, the same
key ``manage.py grant_loss_coverage`` derives — so the same file, submitted twice
or also run by the command, grants nobody twice. The counts (granted, already
granted, unknown ids, refused) come back as messages; a bad file is a form error.
Files of more than ``GRANT_MAX_IDS`` ids are for the command, which shows progress.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from accounts.admin import ReadOnlyAdmin
from config.errors import ServiceError
from vouchers.admin.campaign_desk import action_page
from vouchers.admin.common import CHANGE_CAMPAIGN, show_service_error, usdt
from vouchers.management.commands.grant_loss_coverage import read_user_ids
from vouchers.models import Campaign, CampaignKind, CampaignStatus, Compensation, LossCoverageVoucher
from vouchers.services.loss_coverage import loss_coverage_grant_many

if TYPE_CHECKING:
    from vouchers.services.loss_coverage import GrantReport

# One request grants at most this many users (a few batches); larger files go through the command.
GRANT_MAX_IDS = 10_000
GRANT_MAX_BYTES = 1024 * 1024
# Unknown ids and refusals listed one by one in the messages; the rest are counted.
SHOWN = 20


def file_key(user_ids: list[int]) -> str:
    """The grant run's key for a file's ids, as ``manage.py grant_loss_coverage`` derives it by default."""
    return "csv:" + hashlib.sha256(",".join(map(str, user_ids)).encode()).hexdigest()[:32]


# --- records: read-only for everybody ------------------------------------------------------------


@admin.register(LossCoverageVoucher)
class LossCoverageVoucherAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "campaign",
        "user_email",
        "total_amount",
        "remaining",
        "state",
        "granted_at",
        "expires_at",
        "granted_by",
    ]
    list_filter = ["state", ("campaign", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__email"]
    list_select_related = ["campaign", "user", "granted_by"]

    @admin.display(description="user", ordering="user__email")
    def user_email(self, obj: LossCoverageVoucher) -> str:
        return obj.user.email


@admin.register(Compensation)
class CompensationAdmin(ReadOnlyAdmin):
    list_display = [
        "close_id",
        "user",
        "voucher",
        "loss",
        "amount",
        "state",
        "closed_at",
        "credited_at",
        "withheld_at",
        "entry",
    ]
    list_filter = ["state", ("campaign", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__email"]
    list_select_related = ["user", "voucher", "entry"]
    date_hierarchy = "closed_at"


# --- granting: a button of the campaign page ---------------------------------------------------------


class GrantForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"One user id per row, in the first column, optionally under a user_id header; at most "
        f"{GRANT_MAX_IDS:,} ids (more: manage.py grant_loss_coverage).",
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded with every voucher and your name (R-OP-01)."
    )

    def clean_file(self) -> list[int]:
        """The file's user ids, in order; a form error names what is wrong with it."""
        upload = self.cleaned_data["file"]
        if upload.size > GRANT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {GRANT_MAX_BYTES // 1024:,} KB: grant it with manage.py grant_loss_coverage."
            )
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "upload.csv"
            with copy.open("wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            try:
                ids = read_user_ids(copy)
            except CommandError as exc:
                raise forms.ValidationError(str(exc).replace(str(copy), upload.name or "the file")) from None
        if len(ids) > GRANT_MAX_IDS:
            raise forms.ValidationError(
                f"The file holds {len(ids):,} ids, more than {GRANT_MAX_IDS:,}: grant it with "
                "manage.py grant_loss_coverage."
            )
        return ids


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


class LossCoverageGrants:
    """The campaign admin's "Grant loss coverage" button and page (mixed into ``CampaignAdmin``)."""

    def grant_loss_coverage_urls(self) -> list:
        return [
            path(
                "<int:campaign_id>/grant-loss-coverage/",
                self.admin_site.admin_view(self.grant_loss_coverage_view),
                name="vouchers_campaign_grant_loss_coverage",
            )
        ]

    def grant_loss_coverage_url(self, request: HttpRequest, campaign: Campaign) -> str | None:
        """The button's link: on a live loss-coverage campaign, for those who may grant (R-LC-01)."""
        if (
            campaign.kind == CampaignKind.LOSS_COVERAGE
            and campaign.status == CampaignStatus.LIVE
            and request.user.has_perm(CHANGE_CAMPAIGN)
        ):
            return reverse("admin:vouchers_campaign_grant_loss_coverage", args=[campaign.pk])
        return None

    def grant_loss_coverage_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        if not request.user.has_perm(CHANGE_CAMPAIGN):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=campaign_id)
        change_url = reverse("admin:vouchers_campaign_change", args=[campaign.pk])
        if campaign.kind != CampaignKind.LOSS_COVERAGE:
            self.message_user(
                request, f"{campaign.name} is not a loss-coverage campaign: it grants no loss coverage.", messages.ERROR
            )
            return HttpResponseRedirect(change_url)
        form = GrantForm(request.POST, request.FILES) if request.method == "POST" else GrantForm()
        if form.is_bound and form.is_valid():
            if campaign.status != CampaignStatus.LIVE:
                form.add_error(
                    None,
                    f"This campaign is {campaign.get_status_display().lower()}, not live: "
                    "it grants nothing. Publish it first.",
                )
            else:
                ids = form.cleaned_data["file"]
                try:
                    report = loss_coverage_grant_many(
                        campaign=campaign,
                        user_ids=ids,
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                        key=file_key(ids),
                    )
                except ServiceError as exc:
                    show_service_error(form, exc)
                else:
                    self._report_grants(request, campaign, report)
                    return HttpResponseRedirect(change_url)
        return action_page(
            self,
            request,
            campaign,
            title=f"Grant loss coverage: {campaign.name}",
            form=form,
            explanation=f"Each user of the file gets a loss-coverage voucher of {usdt(campaign.face_value)} USDT, "
            "reserved from the campaign's available budget (R-VC-09). Submitting the same file again grants nobody "
            "twice; ids naming no user are reported, and users beyond the budget, at the campaign's per-user limit "
            "or disabled for voucher abuse are refused.",
            submit="Grant",
        )

    def _report_grants(self, request: HttpRequest, campaign: Campaign, report: GrantReport) -> None:
        counts = (
            f"{campaign.name}: granted {len(report.granted)}, already granted {len(report.already)}, "
            f"unknown ids {len(report.unknown)}, refused {len(report.refused)}."
        )
        clean = not report.unknown and not report.refused
        self.message_user(request, counts, messages.SUCCESS if clean and report.granted else messages.INFO)
        if report.unknown:
            self.message_user(
                request,
                f"Unknown user ids (no user): {_listed([str(uid) for uid in report.unknown])}.",
                messages.WARNING,
            )
        if report.refused:
            reasons = "; ".join(f"{why}: {n}" for why, n in Counter(report.refused.values()).most_common())
            users = _listed([str(uid) for uid in report.refused])
            self.message_user(request, f"Refused ({reasons}): users {users}.", messages.WARNING)
