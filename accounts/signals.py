"""What accounts tells the apps above it, which it may not import (tests/config/test_layers.py):
they connect receivers to these signals in their ``AppConfig.ready``."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by ``accounts_reassign`` inside its transaction, once the accounts have their new
# owner, with ``to`` and ``by`` (users), ``count`` (how many accounts changed hands),
# ``account`` (the one account, when it was one; else None) and ``now``. A receiver that
# fails rolls the reassignment back with it.
accounts_reassigned = Signal()
