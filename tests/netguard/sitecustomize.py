"""No test ever sends a packet beyond this machine's loopback.

Installed in the test process (tests/conftest.py) and, through PYTHONPATH, in every
process a test starts (Celery workers, beat, gunicorn: see tests/workers.py), where
Python imports ``sitecustomize`` at start-up:

- a socket may connect only to a loopback address (or a Unix socket); anything else
  raises ``BlockedConnection`` and is recorded in ``ATTEMPTS``;
- names resolve only through /etc/hosts (``localhost``) or ``FAKE_NAMES`` (which a test
  fills to make a name resolve to an address of its choosing): no DNS query leaves the
  machine, and any other name does not resolve.

So an SSRF test can show that a refused address was never even attempted.
"""

from __future__ import annotations

import ipaddress
import socket

ATTEMPTS: list[tuple[str, int]] = []
FAKE_NAMES: dict[str, list[str]] = {}

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class BlockedConnection(ConnectionRefusedError):
    """A test tried to open a socket to an address beyond the loopback."""


def _hosts_names() -> set[str]:
    names = {"localhost"}
    try:
        with open("/etc/hosts") as hosts:
            for line in hosts:
                fields = line.split("#", 1)[0].split()
                if fields and ipaddress.ip_address(fields[0]).is_loopback:
                    names.update(name.lower() for name in fields[1:])
    except (OSError, ValueError):
        pass
    return names


_LOCAL_NAMES = _hosts_names()


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _check(sock: socket.socket, address) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host, port = address[0], address[1]
    if not _is_literal(host):
        host = _real_getaddrinfo(host, port)[0][4][0] if host.lower() in _LOCAL_NAMES else host
    try:
        loopback = ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        ATTEMPTS.append((host, port))
        raise BlockedConnection(f"tests may not connect beyond the loopback: {host}:{port}")


def _connect(self, address):
    _check(self, address)
    return _real_connect(self, address)


def _connect_ex(self, address):
    _check(self, address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host, port, *args, **kwargs):
    if host is None or not isinstance(host, str) or _is_literal(host):
        return _real_getaddrinfo(host, port, *args, **kwargs)
    name = host.lower().rstrip(".")
    if name in FAKE_NAMES:
        return [
            info
            for address in FAKE_NAMES[name]
            for info in _real_getaddrinfo(address, port, *args, **kwargs)
        ]
    if name in _LOCAL_NAMES:
        return _real_getaddrinfo(host, port, *args, **kwargs)
    raise socket.gaierror(socket.EAI_NONAME, f"{host}: no DNS in tests")


def install() -> None:
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    socket.getaddrinfo = _getaddrinfo


install()
