"""The security baseline: log-in lock-outs, the Content-Security-Policy, error pages
that tell a visitor nothing about the server, and a production configuration that
passes Django's deployment checks."""

from __future__ import annotations

import os
import re
import secrets
import string
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from tests.conftest import PASSWORD

LOGIN_URL = reverse("login")
HOME_URL = reverse("home")


# --- django-axes lock-outs ----------------------------------------------------------------


@pytest.fixture
def axes_on(db):
    """django-axes switched on (the test settings leave it off), with no attempts on record."""
    with override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=5):
        axes_reset()
        yield
        axes_reset()


def log_in(username: str, password: str, address: str = "203.0.113.10", **headers):
    """One attempt through the log-in form, from ``address``, in a fresh browser."""
    return Client(REMOTE_ADDR=address).post(
        LOGIN_URL, {"username": username, "password": password}, **headers
    )


def is_locked_out(response) -> bool:
    return response.status_code == 429 and b"Too many failed log-in attempts" in response.content


def test_five_wrong_passwords_lock_a_username_from_everywhere(axes_on, alice, bob):
    # A password-guessing run that spreads itself over several addresses.
    for attempt in range(1, 5):
        response = log_in("alice", "wrong", address=f"198.51.100.{attempt}")
        assert response.status_code == 200, attempt
        assert b"didn't match" in response.content
    fifth = log_in("alice", "wrong", address="198.51.100.5")
    assert is_locked_out(fifth)

    # Now even the right password, from a new address, does not get Alice in ...
    assert is_locked_out(log_in("alice", PASSWORD, address="192.0.2.99"))
    # ... while Bob, from one of the same addresses, is not affected.
    assert log_in("bob", PASSWORD, address="198.51.100.1").status_code == 302


def test_five_failures_from_one_address_lock_that_address(axes_on, alice, bob, charlie):
    # Someone trying usernames from one place.
    for username in ["root", "admin", "alice", "bob"]:
        assert log_in(username, "wrong", address="203.0.113.66").status_code == 200
    assert is_locked_out(log_in("charlie", "wrong", address="203.0.113.66"))

    # The address is locked for every username, the right password included ...
    assert is_locked_out(log_in("charlie", PASSWORD, address="203.0.113.66"))
    # ... the same people elsewhere are not (four failures each is under the limit).
    assert log_in("alice", PASSWORD, address="192.0.2.1").status_code == 302


def test_fewer_than_five_failures_do_not_lock(axes_on, alice):
    for _ in range(4):
        log_in("alice", "wrong")
    response = log_in("alice", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == HOME_URL
    # A success wipes the slate: four more failures still do not lock.
    for _ in range(4):
        assert log_in("alice", "wrong").status_code == 200
    assert log_in("alice", PASSWORD).status_code == 302


def test_log_in_works_again_after_a_reset(axes_on, alice):
    for _ in range(5):
        log_in("alice", "wrong")
    assert is_locked_out(log_in("alice", PASSWORD))
    assert AccessAttempt.objects.filter(username="alice").exists()

    axes_reset(username="alice")  # what an admin does (also: manage.py axes_reset_username)
    axes_reset(ip="203.0.113.10")

    response = log_in("alice", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == HOME_URL


def test_a_good_log_in_clears_only_its_own_user_names_failures(axes_on, alice, charlie):
    # Someone who knows Charlie's password guesses Alice's from the same place, four
    # wrong guesses at a time, each batch followed by a good log-in as Charlie.
    address = "203.0.113.77"
    for batch in range(4):
        for guess in range(4):
            response = log_in("alice", f"guess-{batch}-{guess}", address=address)
            if is_locked_out(response):
                break
            assert response.status_code == 200
        else:
            assert log_in("charlie", PASSWORD, address=address).status_code == 302
            continue
        break
    # The fifth wrong guess for Alice locked her name and that address.
    assert (batch, guess) == (1, 0)
    assert is_locked_out(log_in("alice", PASSWORD, address="192.0.2.50"))
    assert is_locked_out(log_in("charlie", PASSWORD, address=address))
    # Charlie elsewhere is not locked: his own name has no failures.
    assert log_in("charlie", PASSWORD, address="192.0.2.51").status_code == 302


def test_a_good_log_in_leaves_the_failures_of_an_address_against_others(axes_on, alice, bob):
    for username in ["root", "admin", "oracle", "alice"]:
        assert log_in(username, "wrong", address="203.0.113.80").status_code == 200
    # Bob logs in from the same address (a shared office): he gets in ...
    assert log_in("bob", PASSWORD, address="203.0.113.80").status_code == 302
    # ... but the address's four failures stand, and the fifth locks it.
    assert is_locked_out(log_in("test", "wrong", address="203.0.113.80"))
    # Alice's own good log-in from elsewhere clears her name's failure only.
    assert log_in("alice", PASSWORD, address="192.0.2.60").status_code == 302
    assert AccessAttempt.objects.filter(username="alice").count() == 0
    assert AccessAttempt.objects.filter(ip_address="203.0.113.80").count() == 4


def test_the_lock_out_answer_is_the_same_for_a_user_who_does_not_exist(axes_on, alice):
    def lock(username: str, address: str):
        for _ in range(4):
            log_in(username, "wrong", address=address)
        return log_in(username, "wrong", address=address)

    real, ghost = lock("alice", "198.51.100.20"), lock("nobody-here", "198.51.100.21")
    assert is_locked_out(real) and is_locked_out(ghost)

    def page(response) -> bytes:
        # Every page carries a fresh CSRF token (in the form and in hx-headers).
        return re.sub(rb"[A-Za-z0-9]{64}", b"<csrf>", response.content)

    assert page(real) == page(ghost)
    assert sorted(real.headers) == sorted(ghost.headers)
    # Before the lock-out too: a wrong password reads the same for both.
    first = log_in("alice", "wrong", address="198.51.100.30")
    other = log_in("nobody-here", "wrong", address="198.51.100.31")
    assert (first.status_code, page(first)) == (other.status_code, page(other))


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_addresses_come_from_the_forwarded_header(axes_on, alice, bob):
    # Every request reaches the web process from the proxy's address, 10.0.0.2.
    def through_proxy(username, password, client_address, spoofed=""):
        forwarded = f"{spoofed}, {client_address}" if spoofed else client_address
        return log_in(username, password, address="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    for username in ["root", "admin", "guest", "test"]:
        through_proxy(username, "wrong", "198.51.100.7")
    # The fifth failure from the attacker's address locks it, whatever it claims to be.
    assert is_locked_out(through_proxy("oracle", "wrong", "198.51.100.7", spoofed="192.0.2.4"))
    # Other people behind the same proxy still get in.
    assert through_proxy("bob", PASSWORD, "192.0.2.4").status_code == 302


# --- Content-Security-Policy and other headers ----------------------------------------------


def csp_directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


@pytest.mark.parametrize(
    ("persona", "url"),
    [
        (None, LOGIN_URL),
        ("alice", HOME_URL),
        ("alice", reverse("accounts:list")),
        ("alice", "own-account"),
        ("alice", reverse("password_change")),
        ("alice", "/no-such-page/"),
    ],
)
def test_pages_send_a_strict_content_security_policy(request, book, client_as, persona, url):
    client = client_as(request.getfixturevalue(persona)) if persona else Client()
    if url == "own-account":
        url = book["alice"].get_absolute_url()
    response = client.get(url)
    assert response.status_code in (200, 404)

    policy = csp_directives(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"

    # Nothing on the page that this policy would block: no inline script, style or handler.
    body = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), "inline <script>"
    assert "<style" not in body
    assert not re.search(r"\sstyle=", body), "style attribute"
    assert not re.search(r"\son[a-z]+=", body), "inline event handler"


# --- Error pages --------------------------------------------------------------------------


def assert_tells_nothing(body: str) -> None:
    for leak in [
        "Traceback",
        str(settings.BASE_DIR),
        "config.settings",
        "config/settings",
        "SECRET_KEY",
        "DEBUG",
        "urlpatterns",
        "URLconf",
        "RuntimeError",
        "site-packages",
    ]:
        assert leak not in body, leak


@override_settings(DEBUG=False)
@pytest.mark.parametrize("persona", [None, "alice"])
def test_the_404_page_tells_nothing(request, client_as, persona):
    client = client_as(request.getfixturevalue(persona)) if persona else Client()
    response = client.get("/config/settings/base.py")
    assert response.status_code == 404
    body = response.content.decode()
    assert "<h1>Not found</h1>" in body
    assert "There is nothing here, or it is not yours to see." in body
    assert_tells_nothing(body)


@override_settings(DEBUG=False, ROOT_URLCONF="tests.accounts.broken_urls")
def test_the_500_page_tells_nothing(client_as, alice, caplog):
    from tests.accounts.broken_urls import SECRET_DETAIL

    client = client_as(alice)
    client.raise_request_exception = False
    response = client.get("/broken/")

    assert response.status_code == 500
    body = response.content.decode()
    assert "<h1>Something went wrong</h1>" in body
    assert SECRET_DETAIL not in body
    assert_tells_nothing(body)
    # The policy covers the error page too.
    assert csp_directives(response)["script-src"] == "'self'"
    # "The error has been logged", the page says: it has, with the detail for the operator.
    logged = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    assert logged and logged[0].exc_info[1].args == (SECRET_DETAIL,)


def test_browsers_asking_for_favicon_ico_get_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.svg"


# --- Production settings -------------------------------------------------------------------


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh interpreter with the production settings and ``env``."""
    # Nothing from this test process that a deployment would not have.
    dropped = {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    dropped.add("DJANGO_ALLOW_ASYNC_UNSAFE")  # set around the browser tests
    clean = {key: value for key, value in os.environ.items() if key not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.production", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def random_secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(50))


@pytest.mark.slow
def test_production_settings_pass_the_deployment_checks():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=random_secret_key(),
        ALLOWED_HOSTS="vitals.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALLOWED_HOSTS": "vitals.example.com"}, "Production settings need SECRET_KEY"),
        ({"SECRET_KEY": random_secret_key(), "DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean"),
    ],
)
def test_production_settings_refuse_to_start_half_configured(env, message):
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "key",
    [
        "short-but-random-Q8f3kZ",  # under 50 characters
        "k" * 60,  # long, but one character
        "insecure-development-key-change-me-in-production-0123456789",  # the base default
        "django-insecure-" + "x7Qp2Lm9Zt4Rb8Wc1Ys6Kd3Hf5Jg0Nv" * 2,  # startproject's kind
        "please-change-me-" + "a1b2c3d4e5f6g7h8i9j0" * 3,  # a placeholder
    ],
)
def test_a_weak_or_default_secret_key_is_refused(monkeypatch, key):
    from django.core.exceptions import ImproperlyConfigured

    from config.env import env_secret_key

    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is weak or a default") as refused:
        env_secret_key("SECRET_KEY")
    assert key not in str(refused.value)  # the key itself is never printed
    monkeypatch.setenv("SECRET_KEY", random_secret_key())
    assert env_secret_key("SECRET_KEY")


@pytest.mark.slow
def test_production_settings_refuse_to_start_with_a_weak_secret_key():
    result = run_manage(
        "check", SECRET_KEY="django-insecure-" + "ab" * 30, ALLOWED_HOSTS="vitals.example.com"
    )
    assert result.returncode != 0
    assert "SECRET_KEY is weak or a default" in result.stderr
