"""manage.py create_api_token NAME --scopes ... [--user USERNAME] [--expires-in-days N]

Prints the new token alone on the last line: it is shown once, and stored hashed.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import User
from accounts.tokens import SCOPES, api_token_create


class Command(BaseCommand):
    help = "Create a REST API token and print it (once) on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What uses the token, e.g. 'Salesforce sync'.")
        parser.add_argument(
            "--scopes",
            nargs="+",
            required=True,
            metavar="SCOPE",
            help=f"One or more of: {', '.join(SCOPES)}.",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="Act within this person's access scope (default: every account).",
        )
        parser.add_argument(
            "--expires-in-days", type=int, metavar="N", help="Expire after N days (default: never)."
        )

    def handle(self, *args, name: str, scopes: list[str], user: str | None, **options):
        owner = None
        if user is not None:
            owner = User.objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"--user: no user with username '{user}'.")
            if not owner.is_active:
                raise CommandError(f"--user: '{user}' is inactive; the token could not be used.")
        days = options["expires_in_days"]
        expires_at = None
        if days is not None:
            if days < 1:
                raise CommandError(f"--expires-in-days must be 1 or more, not {days}.")
            expires_at = timezone.now() + dt.timedelta(days=days)
        # Scopes may also come comma-separated: --scopes accounts:read,accounts:write
        given = [part for scope in scopes for part in scope.split(",") if part]
        try:
            token, raw = api_token_create(
                name=name, scopes=given, user=owner, expires_at=expires_at
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None

        acting = f"acts for {owner.username}" if owner else "reaches every account"
        expiry = (
            f"expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else "never expires"
        )
        self.stdout.write(
            f"Created API token '{token.name}' ({', '.join(token.scopes)}); it {acting} and "
            f"{expiry}. It is shown once, below; store it now."
        )
        self.stdout.write(raw)
