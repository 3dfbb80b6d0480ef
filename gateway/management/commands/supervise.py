"""`python manage.py supervise [--procfile Procfile] [--port 8000]`: what `make run` runs.

Starts every process of the Procfile, restarts one that dies (with back-off) and writes each exit
to the System log as `process.exited` with its reason. Ctrl-C stops everything.
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from gateway.models import SystemLog, system_log
from gateway.supervisor import Exit, Supervisor, procfile_processes


def record_exit(exit: Exit) -> None:
    """One System log entry per process death (no secrets: URL passwords are masked)."""
    close_old_connections()
    try:
        _write(exit)
    finally:
        connection.close()  # an idle supervisor holds no database connection


def _write(exit: Exit) -> None:
    system_log(
        event="process.exited",
        level=SystemLog.Level.ERROR if exit.returncode else SystemLog.Level.WARNING,
        message=(
            f"{exit.name} {exit.reason} after {exit.ran_s:g} s; "
            f"restarting in {exit.restart_in_s:g} s"
        ),
        process=exit.name,
        returncode=exit.returncode,
        restart_in_s=exit.restart_in_s,
        restarts_in_a_row=exit.restarts,
        last_output=exit.last_output,
    )


class Command(BaseCommand):
    help = "Run the Procfile's processes and restart any that dies, with back-off."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--procfile", default=str(settings.BASE_DIR / "Procfile"))
        parser.add_argument("--port", type=int, default=8000, help="web's PORT, as honcho -p.")

    def handle(self, *args: Any, procfile: str, port: int, **options: Any) -> None:
        supervisor = Supervisor(
            procfile_processes(procfile, port=port),
            on_exit=record_exit,
            output=sys.stdout,
            cwd=settings.BASE_DIR,
        )
        close_old_connections()
        sys.exit(supervisor.run())
