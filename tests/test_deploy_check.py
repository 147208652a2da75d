"""Production settings pass Django's deployment checklist (`check --deploy`) with no warning.

Run in a subprocess: production settings are a different settings module from the test run's,
and importing them has side effects (Sentry, refusing a missing secret) that must not leak here.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # Only what the deployment supplies: the developer's shell (DJANGO_DEBUG, DATABASE_URL from
    # `make test`) must not decide the outcome. A local .env is read by env.py but never
    # overrides a variable set here.
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_ALLOWED_HOSTS": "expo.example.com",
            "DATABASE_URL": "postgres://marketplace:secret@postgres:5432/marketplace",
            "REDIS_URL": "redis://redis:6379/0",
            # a production Ed25519 key (not the development default, which production refuses)
            "FULFILMENT_SIGNING_KEY": "mPaTQMGuE3rQpUtEzD4YCHbK4wHtTJvnG9D7vQ8c1zA=",
            "DJANGO_DEBUG": "false",
            "STRIPE_SECRET_KEY": "sk_live_placeholder_never_called_by_manage_check",
            "STRIPE_WEBHOOK_SECRET": "whsec_placeholder",
            "SENTRY_DSN": ""}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_production_settings_pass_the_deploy_check_without_warnings():
    # given
    secret = secrets.token_urlsafe(50)
    assert len(secret) >= 50

    # when
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_SECRET_KEY=secret)

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_security_settings_pass_the_deploy_check():
    """The security part alone: settings-level, independent of the other apps' checks."""
    # when
    result = manage("check", "--deploy", "--tag", "security", "--fail-level", "WARNING",
                    DJANGO_SECRET_KEY=secrets.token_urlsafe(50))

    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_long_secret_key():
    # when
    result = manage("check", DJANGO_SECRET_KEY="too-short")

    # then
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_ignores_a_debug_flag_from_the_environment():
    # when
    result = manage("shell", "-c", "from django.conf import settings; print(settings.DEBUG)",
                    DJANGO_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_DEBUG="true")

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_production_refuses_simulated_payments_unless_allowed():
    # Without Stripe keys production would take simulated payments any shopper can trigger
    refused = manage("check", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), STRIPE_SECRET_KEY="", STRIPE_WEBHOOK_SECRET="")
    assert refused.returncode != 0
    assert "PAYMENTS_ALLOW_SIMULATED" in refused.stderr
    allowed = manage("check", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), STRIPE_SECRET_KEY="", STRIPE_WEBHOOK_SECRET="",
                     PAYMENTS_ALLOW_SIMULATED="true")
    assert allowed.returncode == 0, allowed.stderr


def test_production_with_stripe_needs_the_webhook_secret():
    refused = manage("check", DJANGO_SECRET_KEY=secrets.token_urlsafe(50), STRIPE_WEBHOOK_SECRET="")
    assert refused.returncode != 0
    assert "STRIPE_WEBHOOK_SECRET" in refused.stderr
