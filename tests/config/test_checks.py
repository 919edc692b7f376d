"""The checks before the suite run the same everywhere: bin/test (hence CI) and the
pre-commit hooks a contributor installs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def bin_test_checks() -> list[str]:
    """The commands bin/test runs before pytest, with environment assignments first."""
    text = (ROOT / "bin" / "test").read_text()
    before_pytest = text[: text.index("» pytest")]
    commands = [
        line.strip()
        for line in before_pytest.splitlines()
        if re.match(r"\s*(\w+=\S+ )*(\.venv/bin/|\$PY )", line)
    ]
    return [command.replace("$PY ", ".venv/bin/python ") for command in commands]


def hook_commands() -> list[str]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    return [hook["entry"].removeprefix("env ") for hook in hooks]


def test_pre_commit_runs_exactly_the_checks_of_bin_test():
    checks = bin_test_checks()
    assert len(checks) >= 3, checks  # ruff check, ruff format, makemigrations (at least)
    assert hook_commands() == checks
