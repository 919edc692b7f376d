"""Builders for playbook tests: the usage model (logins → score), accounts moved between
bands by two recomputes, playbooks and their steps in an admin's words, and a local
HTTP server that stands in for Slack and webhook receivers."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from accounts.models import Account
from playbooks.models import Playbook, PlaybookStep
from scoring.models import ScoringModel
from scoring.services import scoring_run_create, scoring_run_execute
from tests.scoring.builders import add_signal, make_model

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


USAGE_BANDS = [("At-risk", 0, "at_risk"), ("Neutral", 50, "neutral"), ("Healthy", 75, "healthy")]


def usage_model(bands: list[tuple] = USAGE_BANDS) -> ScoringModel:
    """Score = logins × 5 (0–20 logins → 0–100): At-risk < 50 ≤ Neutral < 75 ≤ Healthy,
    unless other ``bands`` are given."""
    return make_model(
        "usage",
        components=[
            {
                "metric": "logins",
                "rule": "linear",
                "params": {"worst": 0, "best": 20},
                "weight": 100,
            }
        ],
        bands=bands,
    )


def score(accounts: list[Account] | Account, logins: float, *, at: dt.datetime) -> None:
    """Give each account ``logins`` (score = 5 × logins) and recompute as of ``at``."""
    accounts = accounts if isinstance(accounts, list) else [accounts]
    for account in accounts:
        add_signal(account, "logins", logins, at - dt.timedelta(hours=1))
    scoring_run_execute(run=scoring_run_create(as_of=at))


def score_each(logins: dict[Account, float], *, at: dt.datetime) -> None:
    """Give each account its own logins and recompute once as of ``at``."""
    for account, value in logins.items():
        add_signal(account, "logins", value, at - dt.timedelta(hours=1))
    scoring_run_execute(run=scoring_run_create(as_of=at))


def healthy_then(
    accounts: list[Account] | Account, logins: float, *, at: dt.datetime = NOW
) -> None:
    """Accounts scored Healthy (90) a day before ``at``, then ``logins`` × 5 at ``at``."""
    score(accounts, 18, at=at - dt.timedelta(days=1))
    score(accounts, logins, at=at)


def make_playbook(
    name: str = "Became At-risk", *, steps: list[dict] | None = None, **fields
) -> Playbook:
    """A playbook (band changed into At-risk unless told) with ``steps`` given as dicts of
    step fields; positions are numbered in order."""
    fields.setdefault("trigger", Playbook.Trigger.BAND_CHANGED)
    if fields["trigger"] == Playbook.Trigger.BAND_CHANGED:
        fields.setdefault("to_band_name", "At-risk")
    fields.setdefault("cooldown_days", 0)
    playbook = Playbook.objects.create(name=name, **fields)
    for position, spec in enumerate(steps if steps is not None else [task_step()], start=1):
        PlaybookStep.objects.create(playbook=playbook, position=position, **spec)
    return playbook


def task_step(title: str = "Call {account}", **fields) -> dict:
    return {"kind": PlaybookStep.Kind.CREATE_TASK, "task_title": title, **fields}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class FakeReceiver:
    """A local HTTP server: answers each POST with the next status of ``statuses`` (the
    last one repeats) and keeps what it received."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    redirect_to: str = ""  # the Location of a 3xx answer

    def start(self) -> FakeReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                index = len(receiver.received)
                receiver.received.append(Received(self.path, dict(self.headers.items()), body))
                status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                self.send_response(status)
                if 300 <= status < 400 and receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"try again later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
