"""The IBM Telco Customer Churn sample as a Vitals customer base (``import_telco``).

The file is one snapshot of 7,043 customers with no dates; ``Churn`` = Yes means the
customer left within the last month. The dating convention (docs/telco.md):

- the snapshot date ``S`` is given (``--snapshot``); every column is read as a signal
  observed on ``S − 30 days`` (at noon UTC), the state of the customer a month before
  the snapshot, when those who churned were still customers;
- a customer who churned gets ``churned_at = S``; the contract started ``tenure``
  months before the observation;
- so a backtest as of ``S − 1 day`` with a 30-day horizon sees every signal, every
  customer, and labels exactly the customers with ``Churn`` = Yes.

Each mapped column is a metric with the ``latest`` roll-up; a hand-weighted model
``telco`` (version 1, active) scores them. Importing again changes nothing: accounts are
upserted by external id and signals carry client ids.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from accounts.models import Account, RiskLevel
from accounts.services import accounts_save
from scoring.models import Metric, ScoringModel
from scoring.services import (
    BandInput,
    ComponentInput,
    SignalRow,
    metric_ensure,
    scoring_model_activate,
    scoring_model_draft_save,
    signals_store,
)

EXTERNAL_ID_PREFIX = "telco-"
MODEL_KEY = "telco"
OBSERVED_DAYS_BEFORE = 30
COLUMNS = (
    "customerID",
    "SeniorCitizen",
    "Partner",
    "Dependents",
    "tenure",
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
    "Contract",
    "PaperlessBilling",
    "PaymentMethod",
    "MonthlyCharges",
    "TotalCharges",
    "Churn",
)
CONTRACT_MONTHS = {"Month-to-month": 1, "One year": 12, "Two year": 24}
SERVICES = (
    "PhoneService",
    "MultipleLines",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
)


def _yes(value: str) -> float:
    return 1.0 if value == "Yes" else 0.0


def _blank_is_missing(value: str) -> float | None:
    return float(value) if value.strip() else None


def _internet_without(column: str) -> Callable[[dict], float]:
    # 1 when an internet customer goes without the add-on; no internet, nothing lacking.
    return lambda row: 1.0 if row["InternetService"] != "No" and row[column] == "No" else 0.0


@dataclass(frozen=True)
class TelcoMetric:
    key: str
    name: str
    unit: str
    description: str
    value: Callable[[dict], float | None]


METRICS = (
    TelcoMetric("tenure_months", "Tenure", "months", "tenure", lambda r: float(r["tenure"])),
    TelcoMetric(
        "contract_months",
        "Contract term",
        "months",
        "Contract: month-to-month 1, one year 12, two years 24",
        lambda r: float(CONTRACT_MONTHS[r["Contract"]]),
    ),
    TelcoMetric(
        "monthly_charges",
        "Monthly charges",
        "$",
        "MonthlyCharges",
        lambda r: float(r["MonthlyCharges"]),
    ),
    TelcoMetric(
        "total_charges",
        "Total charges",
        "$",
        "TotalCharges (blank for new customers: no signal)",
        lambda r: _blank_is_missing(r["TotalCharges"]),
    ),
    TelcoMetric(
        "services",
        "Services",
        "services",
        "How many of phone, multiple lines, security, backup, protection, support, TV, "
        "movies and internet the customer has",
        lambda r: sum(_yes(r[c]) for c in SERVICES) + (r["InternetService"] != "No"),
    ),
    TelcoMetric(
        "fiber_optic",
        "Fiber optic internet",
        "yes=1",
        "InternetService = Fiber optic",
        lambda r: 1.0 if r["InternetService"] == "Fiber optic" else 0.0,
    ),
    TelcoMetric(
        "no_tech_support",
        "Internet without tech support",
        "yes=1",
        "InternetService is not No and TechSupport = No",
        _internet_without("TechSupport"),
    ),
    TelcoMetric(
        "no_online_security",
        "Internet without online security",
        "yes=1",
        "InternetService is not No and OnlineSecurity = No",
        _internet_without("OnlineSecurity"),
    ),
    TelcoMetric(
        "electronic_check",
        "Pays by electronic check",
        "yes=1",
        "PaymentMethod = Electronic check",
        lambda r: 1.0 if r["PaymentMethod"] == "Electronic check" else 0.0,
    ),
    TelcoMetric(
        "paperless_billing",
        "Paperless billing",
        "yes=1",
        "PaperlessBilling",
        lambda r: _yes(r["PaperlessBilling"]),
    ),
    TelcoMetric(
        "senior_citizen",
        "Senior citizen",
        "yes=1",
        "SeniorCitizen",
        lambda r: float(r["SeniorCitizen"]),
    ),
    TelcoMetric(
        "dependents", "Has dependents", "yes=1", "Dependents", lambda r: _yes(r["Dependents"])
    ),
)

_NO = {"table": {"0": 100, "1": 0}}
_YES = {"table": {"1": 100, "0": 0}}
# metric, weight, rule, params: weights set by judgement, not fitted.
MODEL = (
    ("contract_months", 25, "steps", {"steps": [[0, 0], [12, 70], [24, 100]]}),
    ("tenure_months", 20, "linear", {"worst": 0, "best": 60}),
    ("fiber_optic", 10, "table", _NO),
    ("electronic_check", 10, "table", _NO),
    ("no_tech_support", 8, "table", _NO),
    ("no_online_security", 7, "table", _NO),
    ("monthly_charges", 5, "linear", {"worst": 110, "best": 20}),
    ("paperless_billing", 5, "table", _NO),
    ("senior_citizen", 5, "table", _NO),
    ("dependents", 5, "table", _YES),
    ("total_charges", 0, "linear", {"worst": 0, "best": 5000}),
    ("services", 0, "linear", {"worst": 0, "best": 9}),
)
BANDS = (
    ("At-risk", 0, "#dc2626", RiskLevel.AT_RISK),
    ("Neutral", 50, "#d97706", RiskLevel.NEUTRAL),
    ("Healthy", 75, "#16a34a", RiskLevel.HEALTHY),
)


class TelcoFileError(Exception):
    """The file is not the Telco Customer Churn CSV; the message says why and where."""


@dataclass
class TelcoImport:
    customers: int
    churned: int
    accounts_created: int
    accounts_updated: int
    signals_stored: int
    signals_duplicate: int
    model: ScoringModel
    model_created: bool
    observed_at: dt.datetime
    backtest_date: dt.date


def _months_before(day: dt.date, months: int) -> dt.date:
    return day - dt.timedelta(days=round(months * 365.25 / 12))


def telco_read(*, path: Path) -> list[dict]:
    """The file's rows, checked: the columns the mapping reads, and their values."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TelcoFileError(f"{path}: cannot be read ({exc.strerror}).") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise TelcoFileError(f"{path}: the header has no {', '.join(missing)} column(s).")
        rows = []
        for line, row in enumerate(reader, start=2):
            if row["Contract"] not in CONTRACT_MONTHS:
                raise TelcoFileError(f"{path}, line {line}: unknown Contract {row['Contract']!r}.")
            if row["Churn"] not in ("Yes", "No"):
                raise TelcoFileError(f"{path}, line {line}: Churn must be Yes or No.")
            try:
                for metric in METRICS:
                    metric.value(row)
            except ValueError as exc:
                raise TelcoFileError(f"{path}, line {line}: {exc}.") from None
            rows.append(row)
    return rows


@transaction.atomic
def _ensure_config() -> tuple[ScoringModel, bool]:
    metrics = {}
    for m in METRICS:
        metrics[m.key] = metric_ensure(
            key=m.key,
            fields={
                "name": m.name,
                "unit": m.unit,
                "description": f"Telco: {m.description}.",
                "rollup": Metric.Rollup.LATEST,
            },
        )
    model = ScoringModel.objects.filter(key=MODEL_KEY).order_by("-version").first()
    if model is not None:
        return model, False
    model = scoring_model_draft_save(
        key=MODEL_KEY,
        fields={
            "name": "Telco churn risk",
            "kind": ScoringModel.Kind.WEIGHTED,
            "description": "Hand-weighted score of the Telco Customer Churn sample "
            "(docs/telco.md).",
        },
        components=[
            ComponentInput(metric=metrics[key], rule=rule, params=params, weight=Decimal(weight))
            for key, weight, rule, params in MODEL
        ],
        bands=[BandInput(*band) for band in BANDS],
    )
    scoring_model_activate(model=model)
    return model, True


def telco_import(*, path: Path, snapshot: dt.date) -> TelcoImport:
    """Accounts, signals, metrics and the hand-weighted model from the Telco file."""
    rows = telco_read(path=path)
    model, created = _ensure_config()
    observed_on = snapshot - dt.timedelta(days=OBSERVED_DAYS_BEFORE)
    observed_at = dt.datetime.combine(observed_on, dt.time(12), tzinfo=dt.UTC)
    accounts = []
    for row in rows:
        churned = row["Churn"] == "Yes"
        tenure = int(row["tenure"])
        stage = (
            Account.Stage.CHURNED
            if churned
            else (
                Account.Stage.ONBOARDING
                if tenure < 3
                else Account.Stage.MATURE
                if tenure >= 12
                else Account.Stage.ADOPTING
            )
        )
        accounts.append(
            {
                "external_id": f"{EXTERNAL_ID_PREFIX}{row['customerID']}",
                "name": f"Telco customer {row['customerID']}",
                "segment": Account.Segment.SMB,
                "plan": row["Contract"],
                "lifecycle_stage": stage,
                "arr": Decimal(row["MonthlyCharges"]) * 12,
                "contract_start": _months_before(observed_on, tenure),
                "churned_at": snapshot if churned else None,
                "attributes": {
                    "internet_service": row["InternetService"],
                    "payment_method": row["PaymentMethod"],
                    "source": "IBM Telco Customer Churn sample",
                },
            }
        )
    upserted = accounts_save(rows=accounts)
    ids = dict(
        Account.objects.filter(external_id__startswith=EXTERNAL_ID_PREFIX).values_list(
            "external_id", "id"
        )
    )
    metric_ids = dict(
        Metric.objects.filter(key__in=[m.key for m in METRICS]).values_list("key", "id")
    )
    signals = []
    for row in rows:
        external_id = f"{EXTERNAL_ID_PREFIX}{row['customerID']}"
        for m in METRICS:
            value = m.value(row)
            if value is None:
                continue
            signals.append(
                SignalRow(
                    account_id=ids[external_id],
                    metric_id=metric_ids[m.key],
                    value=value,
                    timestamp=observed_at,
                    source="telco",
                    client_id=f"{external_id}:{m.key}:{observed_on:%Y-%m-%d}",
                )
            )
    stored = signals_store(rows=signals)
    return TelcoImport(
        customers=len(rows),
        churned=sum(1 for r in rows if r["Churn"] == "Yes"),
        accounts_created=len(upserted.created),
        accounts_updated=len(upserted.updated),
        signals_stored=stored.accepted,
        signals_duplicate=stored.duplicates,
        model=model,
        model_created=created,
        observed_at=observed_at,
        backtest_date=snapshot - dt.timedelta(days=1),
    )
