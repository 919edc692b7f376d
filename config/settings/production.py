"""Production overlay: everything in base, plus transport security.

Select it with DJANGO_SETTINGS_MODULE=config.settings.production. SECRET_KEY and
ALLOWED_HOSTS have no defaults here: a production start without them fails loudly, and
so does one with a weak or default SECRET_KEY (``config.env.env_secret_key``).
"""

from __future__ import annotations

from config.env import env_bool, env_int, env_list, env_secret_key
from config.settings.base import *  # noqa: F403
from config.settings.base import STORAGES

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
