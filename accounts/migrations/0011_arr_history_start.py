"""ARR history starts with each account's ARR as it stands, effective from its contract
start (or the day it was created): the retention figures read an account's ARR on a day
from its history."""

from django.db import migrations


def start(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    ArrChange = apps.get_model("accounts", "ArrChange")
    batch = []
    for pk, arr, contract_start, created_at in (
        Account.objects.filter(arr__gt=0)
        .order_by("pk")
        .values_list("pk", "arr", "contract_start", "created_at")
        .iterator(chunk_size=5000)
    ):
        day = contract_start or created_at.date()
        batch.append(
            ArrChange(
                account_id=pk, effective_date=day, arr_before=0, arr_after=arr, source="initial"
            )
        )
        if len(batch) >= 5000:
            ArrChange.objects.bulk_create(batch)
            batch = []
    ArrChange.objects.bulk_create(batch)


def undo(apps, schema_editor):
    apps.get_model("accounts", "ArrChange").objects.filter(source="initial").delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_arr_change")]

    operations = [migrations.RunPython(start, undo)]
