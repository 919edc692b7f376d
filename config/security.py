"""Request facts that security features depend on, read the same way everywhere."""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address a request came from, as django-axes counts failed log-ins by it.

    Behind a reverse proxy every request arrives from the proxy's address, so counting
    by REMOTE_ADDR would let five bad passwords from anyone lock everybody out. With
    ``TRUSTED_PROXY_COUNT`` = N, each of the N proxies appends the address it was
    reached from to X-Forwarded-For, so the client is the N-th entry from the right;
    anything further left was written by the client and is not trusted.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR")


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler, with a successful log-in clearing only the failures
    recorded against that user name.

    Failures count per user name and per address independently (AXES_LOCKOUT_PARAMETERS
    = ["username", "ip_address"]). django-axes' own reset on success deletes every
    attempt that matches either parameter, so one good log-in from an address wiped
    that address's failures against every other user name: someone holding one account
    could guess another's password four at a time, for ever. Here a good log-in as
    alice forgets the wrong passwords typed for alice, wherever they came from, and
    nothing else.
    """

    def reset_user_attempts(self, request: HttpRequest, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count
