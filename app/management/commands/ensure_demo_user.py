from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo users (demo / alice) for the local stack, if they do not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD", "demo-password")
        model = get_user_model()
        for name in ("demo", "alice"):
            if not model._default_manager.filter(username=name).exists():
                model._default_manager.create_user(name, password=password)
                self.stdout.write(f"Created demo user {name!r} (password {password!r}).")
