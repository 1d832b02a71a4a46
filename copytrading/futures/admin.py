"""Operator screens of copytrading; every write goes through its services.

Markets are configuration: a risk operator edits fee and funding rates and
switches trading on or off in the list. The mark price is never edited as a
field: "Set mark price" calls ``mark_price_set``, which records the tick with
the operator as actor and runs the market's risk sweep. Fields that stored
liquidation prices and open positions depend on (tick, step, maintenance
rate, maximum leverage) are fixed once a market exists. Prices, orders,
positions and closes are read-only. The token follow limit (R-CT-21) is
editable in the list. The copy engine's screens are in ``copytrading.admin``.
(R-MG-01, R-MG-08, R-OP-01)
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.admin import ReadOnlyAdmin, ReadOnlyInline
from accounts.money import parse_amount
from config.errors import ServiceError
from copytrading.futures.models import Market, MarketChange, MarkPrice, Order, Position, PositionClose, PriceSource
from copytrading.futures.selectors import platform_balances
from copytrading.futures.services.markets import (
    CREATE_FIELDS,
    EDITABLE_FIELDS,
    STRUCTURAL_FIELDS,
    market_create,
    market_has_open_positions,
    market_params_validate,
    market_update,
)
from copytrading.futures.services.prices import mark_price_set

SET_MARK_PRICE = "futures.set_mark_price"
VIEW_BALANCES = "accounts.view_ledgeraccount"

_MARK_PRICE_PAGE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<p>Current mark price of <strong>{{ market.symbol }}</strong>:
  {{ market.mark_price|default:"none yet" }}{% if market.mark_price_at %} (set {{ market.mark_price_at }}){% endif %}.
  Price tick {{ market.price_tick }}. The new price is recorded with you as its source and runs the
  market's liquidation, stop-loss and take-profit checks.</p>
<form method="post">
  {% csrf_token %}
  {{ form.non_field_errors }}
  <fieldset class="module aligned">
    {% for field in form %}
      <div class="form-row">{{ field.errors }}{{ field.label_tag }} {{ field }}
        {% if field.help_text %}<div class="help">{{ field.help_text }}</div>{% endif %}</div>
    {% endfor %}
  </fieldset>
  <div class="submit-row"><input type="submit" value="Set mark price" class="default"></div>
</form>
{% endblock %}"""
)

_BALANCES_PAGE = engines["django"].from_string(
    """{% extends "admin/base_site.html" %}
{% block content %}
<p>The platform's own ledger accounts: the house (counterparty of every fill), the insurance fund
  (liquidation fees in, shortfalls out) and fee revenue.</p>
<table>
  <thead><tr><th>Account</th><th>Kind</th><th>Balance</th><th>Currency</th></tr></thead>
  <tbody>
  {% for account in accounts %}
    <tr><td>#{{ account.pk }}</td><td>{{ account.get_kind_display }}</td>
      <td style="text-align:right">{{ account.balance }}</td><td>{{ account.currency }}</td></tr>
  {% empty %}
    <tr><td colspan="4">No platform account has been used yet.</td></tr>
  {% endfor %}
  </tbody>
</table>
{% endblock %}"""
)


class MarketListForm(forms.ModelForm):
    """A market's parameters, checked by the same service as the ops API (the list's inline edits)."""

    class Meta:
        model = Market
        fields = [*CREATE_FIELDS]

    def clean(self):
        cleaned = super().clean()
        market = self.instance if self.instance.pk else None
        names = EDITABLE_FIELDS if market else CREATE_FIELDS
        params = {name: cleaned[name] for name in names if name in cleaned and name in self.changed_data}
        if market is None:
            params = {name: cleaned[name] for name in names if cleaned.get(name) is not None}
        try:
            market_params_validate(params=params, market=market)
        except ServiceError as exc:
            for field, errors in exc.fields.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


class MarketForm(MarketListForm):
    """The change form adds why: every change is recorded with its reason."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Why: recorded with the change (R-OP-01)."
    )


class MarkPriceForm(forms.Form):
    price = forms.CharField(help_text="USDT, a multiple of the market's price tick.")

    def clean_price(self):
        try:
            return parse_amount(self.cleaned_data["price"], field="price")
        except ServiceError as exc:
            raise forms.ValidationError(exc.fields["price"][0]) from None


class MarketChangeInline(ReadOnlyInline):
    model = MarketChange
    fields = ["at", "actor", "reason", "changes"]


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = [
        "symbol",
        "mark_price",
        "mark_price_at",
        "max_leverage",
        "maintenance_margin_rate",
        "taker_fee_rate",
        "funding_rate",
        "token_follow_limit",
        "is_active",
        "set_price_link",
    ]
    list_display_links = ["symbol"]
    list_editable = ["taker_fee_rate", "funding_rate", "token_follow_limit", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["symbol", "base_asset"]
    actions = ["set_mark_price"]
    form = MarketForm
    inlines = [MarketChangeInline]
    # Edits made in the list have no reason field; they are recorded as such.
    LIST_EDIT_REASON = "edited in the market list"

    def get_readonly_fields(self, request, obj=None):
        always = ["mark_price", "mark_price_at"]
        if obj is None:
            return always
        # Open positions and their stored liquidation prices depend on these while any is open.
        structural = list(STRUCTURAL_FIELDS) if market_has_open_positions(market=obj) else []
        return ["symbol", "base_asset", *structural, *always]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", MarketListForm)  # the list edits rates only, without a reason field
        return super().get_changelist_form(request, **kwargs)

    def save_model(self, request, obj, form, change):
        reason = form.cleaned_data.get("reason") or self.LIST_EDIT_REASON
        if not change:
            values = form.cleaned_data
            params = {name: values[name] for name in CREATE_FIELDS if values.get(name) is not None}
            obj.pk = market_create(params=params, actor=request.user, reason=reason).pk
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        market_update(market=obj, changes=changes, actor=request.user, reason=reason)

    def has_set_mark_price_permission(self, request) -> bool:
        return request.user.has_perm(SET_MARK_PRICE)

    @admin.display(description="")
    def set_price_link(self, obj: Market):
        url = reverse("admin:futures_market_set_mark_price", args=[obj.pk])
        return format_html('<a href="{}">Set mark price</a>', url)

    @admin.action(description="Set mark price of the selected market", permissions=["set_mark_price"])
    def set_mark_price(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one market to set its mark price.", messages.WARNING)
            return None
        market = queryset.get()
        return HttpResponseRedirect(reverse("admin:futures_market_set_mark_price", args=[market.pk]))

    def get_urls(self):
        own = [
            path(
                "<int:market_id>/mark-price/",
                self.admin_site.admin_view(self.mark_price_view),
                name="futures_market_set_mark_price",
            ),
            path(
                "platform-balances/",
                self.admin_site.admin_view(self.balances_view),
                name="futures_market_platform_balances",
            ),
        ]
        return [*own, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        if (
            request.method == "GET"
            and self.has_view_or_change_permission(request)
            and request.user.has_perm(VIEW_BALANCES)
        ):
            summary = format_html_join(
                " · ", "{}: {} {}", ((a.get_kind_display(), a.balance, a.currency) for a in platform_balances())
            )
            link = reverse("admin:futures_market_platform_balances")
            self.message_user(
                request, format_html('Platform balances — {} (<a href="{}">details</a>)', summary, link), messages.INFO
            )
        return super().changelist_view(request, extra_context)

    def mark_price_view(self, request: HttpRequest, market_id: int):
        if not request.user.has_perm(SET_MARK_PRICE):
            raise PermissionDenied
        market = get_object_or_404(Market, pk=market_id)
        form = MarkPriceForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                tick = mark_price_set(
                    market=market,
                    price=form.cleaned_data["price"],
                    source=PriceSource.OPERATOR,
                    actor_id=request.user.pk,
                )
            except ServiceError as exc:
                for field, errors in exc.fields.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.fields:
                    form.add_error(None, exc.detail)
            else:
                self.message_user(
                    request, f"{market.symbol} mark price set to {tick.price} (tick #{tick.pk}).", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:futures_market_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Set the mark price of {market.symbol}",
            "form": form,
            "market": market,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, _MARK_PRICE_PAGE, context)

    def balances_view(self, request: HttpRequest):
        if not request.user.has_perm(VIEW_BALANCES):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Platform balances: house, insurance fund, fee revenue",
            "accounts": platform_balances(),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, _BALANCES_PAGE, context)


@admin.register(MarkPrice)
class MarkPriceAdmin(ReadOnlyAdmin):
    list_display = ["id", "market", "price", "source", "actor", "at"]
    list_filter = ["market", "source"]
    list_select_related = ["market", "actor"]
    date_hierarchy = "at"


class PositionCloseInline(ReadOnlyInline):
    model = PositionClose
    fields = ["created_at", "reason", "qty", "price", "realised_pnl", "fee", "funding", "margin_lost", "order"]
    show_change_link = True


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "owner",
        "account",
        "market",
        "side",
        "qty",
        "entry_price",
        "leverage",
        "margin_mode",
        "margin",
        "liquidation_price",
        "take_profit_price",
        "stop_loss_price",
        "status",
        "opened_at",
    ]
    list_filter = ["market", "status", "side", "margin_mode", "auto_add_margin"]
    search_fields = ["account__owner__email"]
    list_select_related = ["market", "account__owner"]
    inlines = [PositionCloseInline]

    @admin.display(description="owner", ordering="account__owner__email")
    def owner(self, obj: Position):
        return obj.account.owner


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "owner",
        "account",
        "market",
        "side",
        "reduce_only",
        "requested_qty",
        "filled_qty",
        "price",
        "leverage",
        "margin_mode",
        "status",
        "fee",
        "realised_pnl",
        "position",
        "created_at",
    ]
    list_filter = ["market", "status", "side", "margin_mode", "reduce_only"]
    search_fields = ["account__owner__email", "idempotency_key"]
    list_select_related = ["market", "account__owner", "position"]

    @admin.display(description="owner", ordering="account__owner__email")
    def owner(self, obj: Order):
        return obj.account.owner


@admin.register(PositionClose)
class PositionCloseAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "position",
        "market",
        "reason",
        "qty",
        "price",
        "realised_pnl",
        "fee",
        "funding",
        "margin_lost",
        "liquidation_fee",
        "created_at",
    ]
    list_filter = ["reason", "position__market", "position__margin_mode"]
    search_fields = ["position__account__owner__email"]
    list_select_related = ["position__market"]

    @admin.display(description="market", ordering="position__market__symbol")
    def market(self, obj: PositionClose):
        return obj.position.market
