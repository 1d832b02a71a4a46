"""Admin actions that ask the operator for a reason, then run a service on each selected object."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.template.response import TemplateResponse

from config.errors import ServiceError


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Recorded with the decision.")


def decide_with_reason(
    modeladmin: admin.ModelAdmin,
    request,
    queryset: QuerySet,
    *,
    decide: Callable[..., object],
    id_kwarg: str,
    label: Callable[[Model], str],
    noun: str,
    verb: str,
    template: str,
    refuse: Callable[[Model], str | None] = lambda obj: None,
    context: dict | None = None,
):
    """First show the selection with a reason field; on confirm, ``decide`` each object (in id order).

    A refused or failing object is reported by ``label`` and left unchanged; the others go ahead.
    """
    if "apply" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            done = 0
            for obj in queryset.order_by("pk"):
                refusal = refuse(obj)
                if refusal:
                    modeladmin.message_user(request, f"{label(obj)}: {refusal}", messages.ERROR)
                    continue
                try:
                    decide(**{id_kwarg: obj.pk}, operator=request.user, reason=form.cleaned_data["reason"])
                    done += 1
                except ServiceError as exc:
                    modeladmin.message_user(request, f"{label(obj)}: {exc.detail}", messages.ERROR)
            if done:
                modeladmin.message_user(request, f"{done} {noun} {verb}.", messages.SUCCESS)
            return None
    else:
        form = ReasonForm()
    page = {
        **modeladmin.admin_site.each_context(request),
        "title": f"{noun.removesuffix('(s)').capitalize()}s to be {verb}",
        "verb": verb,
        "form": form,
        "queryset": queryset,
        "action": request.POST.get("action"),
        "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        **(context or {}),
    }
    return TemplateResponse(request, template, page)
