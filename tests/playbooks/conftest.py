from __future__ import annotations

import pytest

from tests.playbooks.builders import FakeReceiver, usage_model


@pytest.fixture
def usage(db):
    return usage_model()


@pytest.fixture
def receiver():
    """A local HTTP receiver answering 200 (tests set ``statuses`` for other answers)."""
    fake = FakeReceiver().start()
    yield fake
    fake.stop()
