"""Safe defaults: a start that names no settings is a production start, which refuses to
run without a strong secret key; the embedded default is asked for by name, and even
there a visitor sees the product's own pages for a missing page and an error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

# Entry points a deployment starts, each as the process would load it, then asked which
# settings it runs on.
PROBE = (
    "from django.conf import settings;"
    " print(settings.SETTINGS_MODULE, settings.DEBUG, settings.SESSION_COOKIE_SECURE)"
)
ENTRY_POINTS = {
    "manage.py": [sys.executable, "manage.py", "shell", "--no-imports", "-v", "0", "-c", PROBE],
    "wsgi": [sys.executable, "-c", f"import config.wsgi; {PROBE}"],
    "asgi": [sys.executable, "-c", f"import config.asgi; {PROBE}"],
    "celery": [sys.executable, "-c", f"from config.celery import app; {PROBE}"],
}
STRONG_KEY = "Zq8-" + "x7Vp_9Lr2Kd" * 5


def run(command: list[str], **env: str) -> subprocess.CompletedProcess:
    """``command`` in a fresh interpreter, with nothing of this test process's settings."""
    dropped = {
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DEBUG",
        "DJANGO_SETTINGS_MODULE",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
    }
    clean = {key: value for key, value in os.environ.items() if key not in dropped}
    return subprocess.run(
        command,
        cwd=settings.BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_start_that_names_no_settings_is_a_production_start(entry, tmp_path):
    refused = run(ENTRY_POINTS[entry], VITALS_VAR_DIR=str(tmp_path))
    started = run(
        ENTRY_POINTS[entry],
        VITALS_VAR_DIR=str(tmp_path),
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="vitals.example.com",
    )

    assert refused.returncode != 0
    assert "Production settings need SECRET_KEY and ALLOWED_HOSTS" in refused.stderr
    assert "DJANGO_SETTINGS_MODULE=config.settings.local" in refused.stderr
    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[-3:] == ["config.settings.production", "False", "True"]


EMBEDDED_VISIT = """
import django
django.setup()
from django.test import Client
from django.test.utils import override_settings
from tests.accounts.broken_urls import SECRET_DETAIL

with override_settings(ROOT_URLCONF="tests.accounts.broken_urls"):
    client = Client(raise_request_exception=False, HTTP_HOST="localhost")
    missing = client.get("/no-such-page/")
    broken = client.get("/broken/")
    app_css = client.get("/static/css/app.css")
from django.conf import settings
print(settings.DEBUG, missing.status_code, broken.status_code, app_css.status_code)
print("Not found" in missing.content.decode(), "There is nothing here" in missing.content.decode())
print("Something went wrong" in broken.content.decode(), SECRET_DETAIL in broken.content.decode())
print("Traceback" in broken.content.decode() or "Django" in missing.content.decode())
"""


@pytest.mark.slow
def test_the_embedded_default_is_asked_for_by_name_and_shows_the_products_own_pages(tmp_path):
    visit = run(
        [sys.executable, "-c", EMBEDDED_VISIT],
        DJANGO_SETTINGS_MODULE="config.settings.local",
        VITALS_VAR_DIR=str(tmp_path),
    )

    assert visit.returncode == 0, visit.stderr
    lines = [line.split() for line in visit.stdout.strip().splitlines()]
    assert lines == [
        ["False", "404", "500", "200"],  # no technical pages; static files served
        ["True", "True"],
        ["True", "False"],
        ["False"],
    ]
    # The installation's own secret key, made on first start and kept.
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    again = run(
        [
            sys.executable,
            "-c",
            "import django; django.setup();"
            " from django.conf import settings; print(settings.SECRET_KEY)",
        ],
        DJANGO_SETTINGS_MODULE="config.settings.local",
        VITALS_VAR_DIR=str(tmp_path),
    )
    assert again.stdout.strip() == key
