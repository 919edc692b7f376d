"""Production overlay: everything in base, plus transport security.

The default of manage.py, the WSGI and ASGI applications and the Celery app: a start
that names no settings is a production start. SECRET_KEY and ALLOWED_HOSTS have no
defaults here: a production start without them fails loudly, and so does one with a
weak or default SECRET_KEY (``config.env.env_secret_key``). Trying Vitals on a machine
of your own is the embedded default, asked for by name: ``config.settings.local``.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_secret_key
from config.settings.base import *  # noqa: F403
from config.settings.base import STORAGES

if not os.environ.get("SECRET_KEY"):
    raise ImproperlyConfigured(
        "Production settings need SECRET_KEY and ALLOWED_HOSTS (see docs/operations.md). "
        "To try Vitals on this machine instead, run bin/run, or set "
        "DJANGO_SETTINGS_MODULE=config.settings.local (the embedded default)."
    )
SECRET_KEY = env_secret_key("SECRET_KEY")
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
# Behind a TLS-terminating proxy (nginx, a load balancer) that sets this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
