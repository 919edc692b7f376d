from __future__ import annotations

import pytest

from tests.playbooks.builders import usage_model


@pytest.fixture
def usage(db):
    return usage_model()
