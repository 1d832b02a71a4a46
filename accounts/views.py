"""Web pages of the accounts app."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import account_list


def home(request: HttpRequest) -> HttpResponse:
    accounts = account_list(user=request.user) if request.user.is_authenticated else []
    return render(request, "accounts/home.html", {"accounts": accounts})
