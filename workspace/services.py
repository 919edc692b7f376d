"""Writes of the workspace app: its settings."""

from __future__ import annotations

from workspace.models import PriorityWeights


def priority_weights_save(*, weights: PriorityWeights) -> PriorityWeights:
    """Validate and save the weights of "work on next" (the one row); a ValidationError
    names the field and nothing is saved."""
    weights.pk = 1
    weights.full_clean()
    weights.save()
    return weights
