"""The WSGI application gunicorn serves, with request bodies sent in chunks made readable.

A client that streams its body (``Transfer-Encoding: chunked``, as HTTP libraries do for
a generator or a file of unknown size) sends no Content-Length. gunicorn decodes the
chunks and says so with ``wsgi.input_terminated``, but Django reads exactly
CONTENT_LENGTH bytes of ``wsgi.input`` and, without one, reads nothing: a valid batch of
signals arrived as an empty body. ``ChunkedBodyReader`` reads such a body before Django
sees the request, at most one byte past DATA_UPLOAD_MAX_MEMORY_SIZE (so a body over the
limit is still refused with 413, and never read whole), and hands it on with its length.

Each process reads the API's schema as it starts (the query parameters every API
request is held to: config/api_query.py), so that no client's first request to a
fresh worker waits the ~0.4 s that takes.

A web process's PostgreSQL sessions plan without parallel workers
(``VITALS_WEB_PARALLEL_WORKERS``, 0 by default): a page reads a page's worth of rows,
and starting workers for it costs more than it saves (the home page's recent band
changes took 17.9 ms with two workers, 8.3 ms without, median of 20 each, interleaved,
on a 1,000,000-account book), while the workers would take cores from the other
requests. The background workers keep PostgreSQL's setting for the nightly recompute.
"""

from __future__ import annotations

import io
import os

from django.core.wsgi import get_wsgi_application
from django.db.backends.signals import connection_created

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")


class ChunkedBodyReader:
    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            from django.conf import settings

            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            body = _read_at_most(environ["wsgi.input"], None if limit is None else limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _read_at_most(stream, limit: int | None) -> bytes:
    parts: list[bytes] = []
    size = 0
    while limit is None or size < limit:
        part = stream.read(65536 if limit is None else min(65536, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def web_session(sender, connection, **kwargs) -> None:
    """``connection_created``: a web request's session settings."""
    from django.conf import settings

    if connection.vendor == "postgresql":
        workers = int(settings.VITALS_WEB_PARALLEL_WORKERS)
        # On the driver's connection, as Django sets its own session up: part of opening
        # the connection, not a query of whichever request happened to open it.
        connection.connection.execute(f"SET max_parallel_workers_per_gather = {workers}")


application = ChunkedBodyReader(get_wsgi_application())
connection_created.connect(web_session, dispatch_uid="vitals-web-session")

from config.api_query import declared_parameters  # noqa: E402  (after Django is set up)

declared_parameters()
