"""Where outbound requests (webhooks, Slack) may go: public addresses only.

A ``config:write`` token or an admin chooses the URLs that Vitals will POST to from
inside the network it runs in. Pointed at loopback, a private range, a link-local
address (the cloud metadata service at 169.254.169.254 among them) or anything else
that is not globally routable, a "webhook" becomes a way to reach services that were
never meant to be reachable. So:

1. ``url_refusal`` checks a URL when it is configured: http or https, a host, and no
   address that is not public (literal, or what the name resolves to right now);
2. ``open_url`` checks again when sending, on the very addresses it connects to (the
   name is resolved once, every address it resolves to must be public, and the socket
   is opened to one of those checked addresses: a name that resolves differently the
   second time cannot slip through);
3. no redirect is followed (a 3xx is a failed attempt), so an allowed URL cannot send
   the request on into a refused one.

``VITALS_OUTBOUND_ALLOWED_NETWORKS`` (CIDRs) names the non-public networks that are
allowed after all: a receiver on the LAN, or 127.0.0.0/8 for tests and local
development.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.error
import urllib.request
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings


class OutboundRefused(OSError):
    """The URL may not be called; the message says why (an OSError, like a connection
    that fails, so a delivery records it as a failed attempt)."""


@lru_cache(maxsize=8)
def _allowed(
    networks: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def address_refusal(address: str) -> str | None:
    """What ``address`` (an IP address) is when it may not be called, e.g. "a loopback
    address"; None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    allowed = _allowed(tuple(settings.VITALS_OUTBOUND_ALLOWED_NETWORKS))
    if ip.is_global or any(ip in network for network in allowed):
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (such as the cloud metadata service)"
    if ip.is_private:
        return "a private address"
    return "not a public address"


def _checked_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, every one of them allowed, or
    ``OutboundRefused``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OutboundRefused(f"{host} cannot be resolved ({error.strerror}).") from None
    # An inet address is a str; a Python built without IPv6 gives an IPv6 one as
    # (int, bytes), which cannot be checked and so is not connected to.
    addresses = list(dict.fromkeys(info[4][0] for info in infos if isinstance(info[4][0], str)))
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            what = address if host == address else f"{host} ({address})"
            raise OutboundRefused(
                f"Refused to call {what}: {refusal}. Outbound calls go to public addresses "
                "only (VITALS_OUTBOUND_ALLOWED_NETWORKS lists exceptions)."
            )
    return addresses


def url_refusal(url: str) -> str | None:
    """Why ``url`` may not be configured as a webhook or Slack URL, or None.

    A name that does not resolve now is let through (it is checked again at each
    delivery); a name resolving to any address that is not public is refused.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        return f"Not a valid URL ({error})."
    if parts.scheme not in ("http", "https"):
        return "Use an http:// or https:// URL."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username or parts.password:
        return "Put no user name or password in the URL."
    try:
        _checked_addresses(parts.hostname, port)
    except OutboundRefused as refused:
        return None if "cannot be resolved" in str(refused) else str(refused)
    return None


def _connect(host: str, port: int, timeout: float | None) -> socket.socket:
    error: OSError | None = None
    for address in _checked_addresses(host, port):
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as failed:
            error = failed
    raise error or OutboundRefused(f"{host} has no address to connect to")


class _HTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = _connect(self.host, self.port, self.timeout)


class _HTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        sock = _connect(self.host, self.port, self.timeout)
        # The certificate is checked against the name, not the address connected to.
        # typeshed leaves out the private _context that HTTPSConnection.__init__ sets.
        context = self._context  # type: ignore[attr-defined]
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_HTTPSConnection, req)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a success: never re-POST the body elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.OpenerDirector()
for _handler in (
    _HTTPHandler(),
    _HTTPSHandler(),
    _NoRedirects(),
    urllib.request.HTTPDefaultErrorHandler(),
    urllib.request.HTTPErrorProcessor(),
    urllib.request.UnknownHandler(),
):
    _opener.add_handler(_handler)


def open_url(request: urllib.request.Request, *, timeout: float):
    """``urllib`` open of ``request`` through the checks above; raises
    ``OutboundRefused`` (before any connection) for a refused address, ``HTTPError``
    for an answer that is not 2xx (a redirect included), ``OSError`` otherwise."""
    if request.type not in ("http", "https"):
        raise OutboundRefused(f"Refused to call a {request.type}: URL; use http or https.")
    try:
        return _opener.open(request, timeout=timeout)
    except urllib.error.URLError as error:
        if isinstance(error.reason, OutboundRefused):
            raise error.reason from None  # urllib wraps what connect() raised
        raise
