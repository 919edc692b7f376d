"""The production packaging, read the way docker compose and an operator read it.

There is no container engine in the test environment, so these tests hold the files
to what the operations guide promises: one image for every process, services that
wait for healthy dependencies and for migrations, and every setting documented.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APP_SERVICES = ["migrate", "web", "worker", "beat"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_process_runs_from_the_one_image_with_production_settings(compose):
    services = compose["services"]
    assert set(services) == {*APP_SERVICES, "postgres", "redis"}
    images = {services[name]["image"] for name in APP_SERVICES}
    builds = {services[name]["build"] for name in APP_SERVICES}
    assert images == {"${VITALS_IMAGE:-vitals:latest}"} and builds == {"."}
    for name in APP_SERVICES:
        service = services[name]
        assert service["env_file"] == ".env", name
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_the_commands(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["command"][:3] == ["gunicorn", "--config", "gunicorn.conf.py"]
    assert services["worker"]["command"][:3] == ["celery", "--app=config", "worker"]
    assert services["beat"]["command"][:3] == ["celery", "--app=config", "beat"]
    assert (
        "--scheduler=django_celery_beat.schedulers:DatabaseScheduler" in services["beat"]["command"]
    )


def test_services_wait_for_healthy_dependencies_and_migrations(compose):
    services = compose["services"]
    for name in ["web", "worker", "beat"]:
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_postgres_and_redis_keep_their_data_and_report_health(compose):
    postgres, redis = compose["services"]["postgres"], compose["services"]["redis"]
    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert redis["image"] == "redis:7"
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert redis["volumes"] == ["redis-data:/data"]
    assert set(compose["volumes"]) == {"postgres-data", "redis-data"}


def test_the_image_runs_as_a_user_and_collects_static_files_at_build():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "\nFROM python:3.11-slim\n" in dockerfile
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in dockerfile
    assert "manage.py collectstatic --no-input" in dockerfile
    user_lines = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert user_lines == ["vitals"]
    # The build-time key is visibly not a secret, and never reaches the running image.
    assert not re.search(r"^ENV .*SECRET_KEY", dockerfile, re.M)


def setting_names() -> set[str]:
    """Every environment variable the settings and the gunicorn configuration read."""
    names: set[str] = set()
    for path in [*sorted((ROOT / "config" / "settings").glob("*.py")), ROOT / "gunicorn.conf.py"]:
        names |= set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', path.read_text()))
        names |= set(re.findall(r'_int\(\s*["\']([A-Z0-9_]+)["\']', path.read_text()))
        names |= set(re.findall(r'environ\.get\(\s*"([A-Z0-9_]+)"', path.read_text()))
    return names


def test_every_setting_is_documented_for_operators():
    guide = (ROOT / "docs" / "operations.md").read_text()
    table = {
        name
        for row in re.findall(r"^\| (.+?) \|", guide, re.M)
        for name in re.findall(r"`([A-Z0-9_]+)`", row)
    }
    # Set by the image or for tests only; not something an operator chooses.
    internal = {"VITALS_VAR_DIR", "CELERY_TASK_ALWAYS_EAGER", "PORT"}
    missing = setting_names() - table - internal
    assert not missing, f"add these to the table in docs/operations.md: {sorted(missing)}"
    example = (ROOT / ".env.example").read_text()
    for required in ["SECRET_KEY", "ALLOWED_HOSTS", "POSTGRES_PASSWORD"]:
        assert re.search(rf"^{required}=", example, re.M), required
