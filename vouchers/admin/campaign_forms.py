"""The campaign desk's forms: the campaign's settings with the reason, a funding, and the status moves with what
each does. (R-VC-01, R-VC-09, R-OP-01)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import construct_instance

from accounts.money import MAX_AMOUNT, parse_amount
from config.errors import ServiceError
from vouchers.admin.common import show_service_error
from vouchers.models import Campaign, CampaignStatus
from vouchers.services.campaigns import DRAFT_EDITABLE, campaign_end, campaign_pause, campaign_publish

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
