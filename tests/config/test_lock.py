"""The lock files: what CI, bin/setup and the image install, held to pyproject.toml.

pyproject.toml says which releases Vitals works with; requirements/base.txt (the image)
and requirements/dev.txt (bin/setup, hence CI) say which exact files are installed.
`bin/lock` writes both; these tests fail when a dependency changed without it.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(settings.BASE_DIR)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(name: str) -> dict[str, str]:
    """`{package: version}` of a lock file."""
    found = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if match := PIN.match(line):
            found[canonicalize_name(match[1])] = match[2]
    return found


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("base.txt", lambda p: p["dependencies"]),
        ("dev.txt", lambda p: p["dependencies"] + p["optional-dependencies"]["dev"]),
    ],
    ids=["base", "dev"],
)
def test_every_dependency_is_pinned_to_a_release_it_accepts(lock, requirements):
    pinned = pins(lock)
    for text in requirements(project()):
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{text} is not in requirements/{lock}: run bin/lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={pinned[name]}, outside {text}: run bin/lock"
        )


def test_every_pin_has_its_hashes():
    for lock in ["base.txt", "dev.txt"]:
        text = (ROOT / "requirements" / lock).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 6)[-1])
        for block in blocks:
            if PIN.match(block):
                assert "--hash=sha256:" in block, f"{lock}: {block.splitlines()[0]}"


def test_the_image_and_the_development_lock_agree():
    base, dev = pins("base.txt"), pins("dev.txt")
    assert {name: dev.get(name) for name in base} == base


def test_the_tests_run_on_the_locked_releases():
    """bin/setup installs requirements/dev.txt, so CI runs on exactly what is locked."""
    wrong = {}
    for name, version in pins("dev.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"locked vs installed: {wrong}; run bin/setup"


def test_the_image_installs_the_lock_with_hashes():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements/base.txt" in dockerfile
    assert "pip install --require-hashes -r requirements/base.txt" in dockerfile
    assert "pip install --no-deps -e ." in dockerfile
