"""Request bodies sent in chunks (``Transfer-Encoding: chunked``, no Content-Length), as
HTTP libraries send a generator or a file of unknown size: read whole, through gunicorn
as in production, and still refused with 413 past the size limit."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from django.test import override_settings

from accounts.tokens import api_token_create
from config.wsgi import ChunkedBodyReader
from scoring.models import Signal
from tests.factories import AccountFactory
from tests.scoring.builders import make_metric
from tests.workers import ROOT, _database_url

BATCH = {
    "signals": [
        {"account": "acme", "metric": "logins", "value": v, "timestamp": "2026-11-01T10:00:00Z"}
        for v in range(50)
    ]
}


# The web process's body limit in these tests: above BATCH, below BIG.
LIMIT = 20_000
BIG = {"signals": BATCH["signals"] * 6}


def chunks(body: bytes, size: int = 100):
    for start in range(0, len(body), size):
        yield body[start : start + size]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """gunicorn serving the application on the test database, as the web process does."""
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            "-",
            "config.wsgi:application",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _database_url(),
            "DATA_UPLOAD_MAX_MEMORY_SIZE": str(LIMIT),
            "PYTHONPATH": str(ROOT / "tests" / "netguard"),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise AssertionError((tmp_path / "gunicorn.log").read_text())
    yield port
    process.terminate()
    process.wait(timeout=10)


def post_chunked(port: int, token: str, body: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(
        "POST",
        "/api/v1/signals/",
        body=chunks(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        encode_chunked=True,
    )
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def test_a_chunked_batch_through_gunicorn_is_stored_whole(gunicorn):
    AccountFactory(external_id="acme")
    make_metric("logins")
    _, raw = api_token_create(name="Chunks", scopes=["signals:write"])
    assert len(json.dumps(BATCH)) < LIMIT < len(json.dumps(BIG))

    status, answer = post_chunked(gunicorn, raw, json.dumps(BATCH).encode())
    assert (status, answer) == (200, {"accepted": 50, "duplicates": 0, "rejected": []})
    assert Signal.objects.count() == 50

    # Past the limit, a chunked body is refused as one with a length is: 413, nothing stored.
    status, answer = post_chunked(gunicorn, raw, json.dumps(BIG).encode())
    assert (status, answer["error"]["code"]) == (413, "request_too_large")
    assert Signal.objects.count() == 50


def wsgi_call(body: bytes, **extra) -> tuple[str, bytes]:
    """The WSGI wrapper alone, before Django: the body and length Django will see."""
    seen = {}

    def app(environ, start_response):
        seen["length"] = environ.get("CONTENT_LENGTH")
        seen["body"] = environ["wsgi.input"].read()
        return []

    environ = {"wsgi.input": io.BytesIO(body), "REQUEST_METHOD": "POST", **extra}
    ChunkedBodyReader(app)(environ, lambda *a: None)
    return seen["length"], seen["body"]


def test_a_chunked_body_is_handed_on_with_its_length():
    assert wsgi_call(b"x" * 1000, HTTP_TRANSFER_ENCODING="chunked") == ("1000", b"x" * 1000)
    # A request with a length is left as it is.
    assert wsgi_call(b"abc", CONTENT_LENGTH="3") == ("3", b"abc")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_chunked_body_over_the_limit_is_read_only_one_byte_past_it():
    length, body = wsgi_call(b"x" * 10_000, HTTP_TRANSFER_ENCODING="chunked")
    assert (length, len(body)) == ("1001", 1001)  # never the whole 10,000 bytes
