"""The embedded default: Vitals on a machine of your own, asked for by name
(``DJANGO_SETTINGS_MODULE=config.settings.local``; ``bin/run`` sets it).

Everything in base, with what a laptop wants and production must never have:

- a secret key made once for this installation and kept in ``var/secret_key`` (or
  SECRET_KEY, if set), never a key shared by every copy of the code;
- ``localhost`` as the allowed host (ALLOWED_HOSTS to change);
- static files served by whitenoise straight from the source folders, no collectstatic.

DEBUG stays off unless DEBUG=true, so a missing page or an error shows the product's own
page, as a customer would see it, rather than Django's technical one.
"""

from __future__ import annotations

import os
import secrets

from config.env import env_list
from config.settings.base import *  # noqa: F403
from config.settings.base import STORAGES, VAR_DIR


def _installation_secret_key() -> str:
    """SECRET_KEY if set, else this installation's own key (made on first start)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        # Created readable by its owner only; a concurrent first start keeps the first key.
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                f.write(secrets.token_urlsafe(50))
        except FileExistsError:
            pass
    return path.read_text().strip()


SECRET_KEY = _installation_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_USE_FINDERS = True
