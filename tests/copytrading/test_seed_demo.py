"""`seed_demo` never runs under production settings: demo logins have a public password."""

import runpy
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import JournalEntry, User


@pytest.mark.django_db
def test_seed_demo_refuses_where_the_demo_is_off(settings):
    settings.DEMO_ENABLED = False
    with pytest.raises(CommandError, match="DEMO_ENABLED is false"):
        call_command("seed_demo", stdout=StringIO(), stderr=StringIO())
    assert not User.objects.filter(email__endswith="@demo.local").exists()
    assert not JournalEntry.objects.exists()


def test_production_settings_keep_the_demo_off_whatever_the_environment_says(monkeypatch):
    for name, value in {
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/copytrading",
        "REDIS_URL": "redis://127.0.0.1:6379/2",
        "DEMO_ENABLED": "true",
        "DEMO_PRICE_FEED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    prod = runpy.run_module("config.settings.prod")
    assert (prod["DEMO_ENABLED"], prod["DEMO_PRICE_FEED"], prod["DEBUG"]) == (False, False, False)
