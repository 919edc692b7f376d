"""Request facts that security features depend on, read the same way everywhere."""

from __future__ import annotations

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
