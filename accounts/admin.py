"""Operator screens for users and money. Ledger rows are read-only; every write
goes through the services and records the operator and the reason."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.admin_actions import decide_with_reason
from accounts.models import (
    AccessRecord,
    Hold,
    JobRun,
    JournalEntry,
    LedgerAccount,
    LedgerAuditRun,
    Posting,
    User,
    Withdrawal,
)
from accounts.money import MAX_AMOUNT, parse_amount
from accounts.services.flows import deposit_credit, withdrawal_approve, withdrawal_reject
from config.errors import ServiceError


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["id"]
    list_display = ["id", "email", "is_staff", "is_active", "date_joined"]
    search_fields = ["email"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        ("Roles", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


class DepositForm(forms.Form):
    email = forms.EmailField(help_text="The user whose spot account is credited.")
    amount = forms.CharField(help_text=f"USDT, up to 8 decimal places, at most {MAX_AMOUNT}.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded on the journal entry.")
    token = forms.CharField(widget=forms.HiddenInput)

    def clean_email(self):
        user = User.objects.filter(email=self.cleaned_data["email"].lower()).first()
        if user is None:
            raise forms.ValidationError("no user with this email")
        return user

    def clean_amount(self):
        try:
            return parse_amount(self.cleaned_data["amount"])
        except ServiceError as exc:
            raise forms.ValidationError(exc.fields["amount"][0]) from None


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "owner", "kind", "ref", "currency", "balance", "held", "available"]
    list_filter = ["kind", "currency"]
    search_fields = ["owner__email", "ref"]
    list_select_related = ["owner"]

    @admin.display(description="available")
    def available(self, obj: LedgerAccount):
        return obj.available

    def get_urls(self):
        deposit = path("deposit/", self.admin_site.admin_view(self.deposit_view), name="accounts_ledgeraccount_deposit")
        return [deposit, *super().get_urls()]

    def deposit_view(self, request: HttpRequest):
        if not request.user.has_perm("accounts.credit_deposit"):
            raise PermissionDenied
        form = DepositForm(request.POST or None, initial={"token": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            try:
                entry = deposit_credit(
                    user=form.cleaned_data["email"],
                    amount=form.cleaned_data["amount"],
                    operator=request.user,
                    reason=form.cleaned_data["reason"],
                    # The form's one-time token makes a double submit credit once.
                    idempotency_key=f"admin:{request.user.pk}:{form.cleaned_data['token']}",
                )
            except ServiceError as exc:
                for field, errors in exc.fields.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.fields:
                    form.add_error(None, exc.detail)
            else:
                self.message_user(request, f"Deposit credited (journal entry #{entry.pk}).", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:accounts_ledgeraccount_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Credit a deposit",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/accounts/deposit_form.html", context)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown beside their parent, never added, changed or deleted here (records, not settings)."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PostingInline(ReadOnlyInline):
    model = Posting
    fields = ["account", "amount", "currency"]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "reference", "actor", "reason", "created_at"]
    list_filter = ["kind"]
    search_fields = ["idempotency_key", "reference", "reason"]
    list_select_related = ["actor"]
    inlines = [PostingInline]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ["id", "account", "amount", "captured", "status", "reason", "created_at", "closed_at"]
    list_filter = ["status"]
    list_select_related = ["account__owner"]


def _decide(modeladmin, request, queryset, decide, verb: str):
    return decide_with_reason(
        modeladmin,
        request,
        queryset,
        decide=decide,
        id_kwarg="withdrawal_id",
        label=lambda w: f"Withdrawal #{w.pk}",
        noun="withdrawal(s)",
        verb=verb,
        template="admin/accounts/withdrawal_decision.html",
    )


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "amount", "address", "status", "requested_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    search_fields = ["user__email", "address"]
    list_select_related = ["user", "decided_by"]
    actions = ["approve", "reject"]

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("accounts.review_withdrawal")

    @admin.action(description="Approve selected withdrawals", permissions=["review"])
    def approve(self, request, queryset):
        return _decide(self, request, queryset, withdrawal_approve, "approved")

    @admin.action(description="Reject selected withdrawals", permissions=["review"])
    def reject(self, request, queryset):
        return _decide(self, request, queryset, withdrawal_reject, "rejected")


@admin.register(LedgerAuditRun)
class LedgerAuditRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "started_at", "ok"]


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    """Operators' manual runs of the periodic jobs (``manage.py run_job`` and the ops API): who, why, the outcome."""

    list_display = ["id", "job", "period", "status", "via", "actor", "reason", "created_at", "finished_at"]
    list_filter = ["job", "status", "via"]
    search_fields = ["reason", "actor__email", "error"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"


@admin.register(AccessRecord)
class AccessRecordAdmin(ReadOnlyAdmin):
    """Where each user registered and logged in from, for voucher-abuse review (R-VC-09, R-LC-06)."""

    list_display = ["id", "user", "kind", "address", "at"]
    list_filter = ["kind"]
    search_fields = ["user__email", "address"]
    list_select_related = ["user"]
    date_hierarchy = "at"
