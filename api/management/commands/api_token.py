"""`manage.py api_token <username> [--name N] [--scope read|write]`: make an API token for a user and print
its key (the only line on stdout), for an operator's scripts and CI; people make theirs in /account/."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.models import ApiToken
from api.tokens import token_create


class Command(BaseCommand):
    help = "Make an API token for a user and print its key (shown this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="made by manage.py api_token")
        parser.add_argument("--scope", choices=[s for s, _ in ApiToken.SCOPES], default=ApiToken.READ)

    def handle(self, *args, username, name, scope, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        _, key = token_create(user=user, name=name, scope=scope)
        self.stdout.write(key)
