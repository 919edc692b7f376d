"""The scoring app's refusals: domain errors (``config.errors.DomainError``) that say why
in words and carry the code and status the API answers with, so that no view has to
guess them. Pages, commands and admin show the message."""

from __future__ import annotations

from rest_framework import status

from config.errors import DomainError


class ScoringError(DomainError):
    """A request the scoring app cannot carry out (bad input: 400 ``invalid``)."""


class NotDraft(ScoringError):
    """Only drafts change: an active or retired version is what stored scores point at."""

    status_code = status.HTTP_409_CONFLICT
    code = "not_draft"


class InvalidModel(ScoringError):
    """A model version that cannot score as it is (weights, bands, rules)."""

    code = "invalid_model"


class InUse(ScoringError):
    """Something still refers to the object (a metric used by a model, or with signals)."""

    status_code = status.HTTP_409_CONFLICT
    code = "in_use"
