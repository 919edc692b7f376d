"""``config/`` is the ground floor: the wiring imports no domain app, so any app may
import it without a circle. Apps are named to it by dotted string (settings, URL
includes), never imported — at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CONFIG = Path(__file__).resolve().parents[2] / "config"
DOMAIN_APPS = {
    "accounts",
    "contacts",
    "scoring",
    "notifications",
    "renewals",
    "playbooks",
    "workspace",
    "samples",
}


def domain_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) for each import of a domain app anywhere in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in DOMAIN_APPS]
    return found


MODULES = sorted(CONFIG.rglob("*.py"))


def test_there_are_modules_to_check():
    assert {"urls.py", "api.py", "api_urls.py"} <= {path.name for path in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(CONFIG)))
def test_no_config_module_imports_a_domain_app(path):
    found = domain_imports(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(CONFIG.parent)} imports {found}"


@pytest.mark.parametrize(
    "source",
    [
        "from accounts.models import ApiToken",
        "import scoring.engine",
        "from playbooks import api as playbooks_api",
        "def f():\n    from samples.telco import load\n",
        "import importlib\nimportlib.import_module('accounts.tokens')",
    ],
)
def test_the_check_sees_every_kind_of_import(source):
    assert domain_imports(source)


def test_the_check_leaves_dotted_strings_and_other_packages_alone():
    source = 'from django.urls import include\nx = include("accounts.urls")\nimport config.env\n'
    assert domain_imports(source) == []


# --- The core depends one way --------------------------------------------------------------

# Contacts sit on scoring: a touch logged with a contact is also a signal of the built-in
# touch metrics (contacts.services.touch_log), which scoring rolls up like any other.
# renewals writes accounts through their write path and shows scoring's risk levels;
# playbooks reads its outcomes (a trigger) and closes a churned account's work for it.
ORDER = [
    "accounts", "scoring", "contacts", "notifications", "renewals", "playbooks", "workspace",
]  # fmt: skip
ROOT = CONFIG.parent


def _core_modules() -> list[Path]:
    """Each app's models, services, selectors and Celery tasks: what may not reach up."""
    found = []
    for app in ORDER:
        base = ROOT / app
        for name in ("models", "services", "selectors"):
            found += sorted((base / name).rglob("*.py")) if (base / name).is_dir() else []
            if (base / f"{name}.py").exists():
                found.append(base / f"{name}.py")
        if (base / "tasks.py").exists():
            found.append(base / "tasks.py")
    return found


@pytest.mark.parametrize("path", _core_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_the_core_imports_only_the_apps_below_it(path):
    app = path.relative_to(ROOT).parts[0]
    above = set(ORDER[ORDER.index(app) + 1 :])
    found = [(line, name) for line, name in domain_imports(path.read_text(encoding="utf-8"))
             if name.split(".")[0] in above]  # fmt: skip
    assert not found, f"{path.relative_to(ROOT)} reaches up to {found}"
