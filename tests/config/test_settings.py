"""Production settings need real secrets and pass Django's deployment checks; the API schema is complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
    "SECRET_KEY": "k7Yq2v9XrLw4Zp1Hs8Ud3Nf6Jc0Ba5Tg_" * 2,
    "ALLOWED_HOSTS": "copytrade.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/copytrading",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in PROD_ENV}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_the_deployment_checks_without_a_warning():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_the_openapi_schema_validates_without_a_warning(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ["/api/v1/auth/register", "/api/v1/accounts", "/api/v1/transfers", "/api/v1/ops/deposits"]:
        assert path in text
    assert "Idempotency-Key" in text


@pytest.mark.parametrize("batch", ["0", "-5"])
def test_a_fanout_batch_below_one_follower_is_refused_at_startup(batch):
    result = _manage("check", env={**PROD_ENV, "COPY_FANOUT_BATCH": batch})
    assert result.returncode != 0
    assert "COPY_FANOUT_BATCH must be a positive number of followings" in result.stderr
