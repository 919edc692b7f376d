"""Writes of accounts: one validation and one upsert behind every door.

CSV import, the REST API, Django admin and the demo and sample seeders take account
data the same two steps:

1. ``accounts_validate`` (or ``account_validate`` for one row; ``validation``) turns
   raw values — strings from a CSV cell or a form, JSON values from the API — into
   model values, with errors keyed by field name so a door can say what is wrong and
   where;
2. ``accounts_bulk_upsert`` (``writes``) writes the cleaned values set-based, creating
   an account for an unknown external id and updating the fields given otherwise;
   ``account_upsert`` is the one-row form, ``accounts_save`` both steps at once, all or
   nothing. ``accounts_delete`` deletes.

``accounts_reassign`` (``ownership``) hands a selection of accounts to another owner in
one ``UPDATE``; ``saved_views`` is the write path of the account list's saved views.
"""

from accounts.services.ownership import (
    ReassignRefused,
    SelectionChanged,
    accounts_reassign,
    reassign_target_check,
)
from accounts.services.saved_views import (
    SavedViewInvalid,
    saved_view_create,
    saved_view_query_clean,
    saved_view_update,
    saved_view_validate,
    saved_views_delete,
)
from accounts.services.validation import (
    ACCOUNT_FIELDS,
    FIELDS_WITHOUT_BLANK,
    HIERARCHY_MAX_DEPTH,
    OWNER_INACTIVE,
    OWNER_REQUIRED,
    OWNER_UNKNOWN,
    REQUIRED_FIELDS,
    Invalid,
    Validation,
    account_validate,
    accounts_validate,
    domain_clean,
)
from accounts.services.writes import (
    UPSERT_BATCH_SIZE,
    AccountsInvalid,
    UpsertResult,
    account_upsert,
    accounts_bulk_upsert,
    accounts_delete,
    accounts_save,
)

__all__ = [
    "ACCOUNT_FIELDS",
    "FIELDS_WITHOUT_BLANK",
    "HIERARCHY_MAX_DEPTH",
    "OWNER_INACTIVE",
    "OWNER_REQUIRED",
    "OWNER_UNKNOWN",
    "REQUIRED_FIELDS",
    "UPSERT_BATCH_SIZE",
    "AccountsInvalid",
    "Invalid",
    "ReassignRefused",
    "SavedViewInvalid",
    "SelectionChanged",
    "UpsertResult",
    "Validation",
    "account_upsert",
    "account_validate",
    "accounts_bulk_upsert",
    "accounts_delete",
    "accounts_reassign",
    "accounts_save",
    "accounts_validate",
    "domain_clean",
    "reassign_target_check",
    "saved_view_create",
    "saved_view_query_clean",
    "saved_view_update",
    "saved_view_validate",
    "saved_views_delete",
]
