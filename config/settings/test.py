"""Test overlay: the same stack as base (DATABASE_URL / REDIS_URL decide which),
with fast password hashing and no login lock-outs unless a test turns them on."""

from __future__ import annotations

from config.env import env_str
from config.settings.base import *  # noqa: F403

SECRET_KEY = "tests-only-" + "k3y-" * 12
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1", "[::1]"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tests that are about lock-outs turn django-axes on with override_settings.
AXES_ENABLED = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory, so that a real Celery worker started by a test sees the data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
# Tests never feed a development worker; a test's own workers name their queue.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "vitals-tests")
# The tests' receivers listen on this machine's loopback; the refusals of every other
# non-public address are tested with this emptied (tests/playbooks/test_egress.py).
VITALS_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
