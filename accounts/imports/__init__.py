"""Importing from CSV files: reading a file (``csvfile``, for any importer) and the
account import (``accounts``)."""

from accounts.imports.accounts import (
    AccountImport,
    Duplicate,
    Rejection,
    account_import_columns,
    accounts_import_csv,
)
from accounts.imports.csvfile import CsvFile, CsvFileError, csv_file_open

__all__ = [
    "AccountImport",
    "CsvFile",
    "CsvFileError",
    "Duplicate",
    "Rejection",
    "account_import_columns",
    "accounts_import_csv",
    "csv_file_open",
]
