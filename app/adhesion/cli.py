"""``mac adhesiones-programadas``: run the day's scheduled adhesion work (start of term, expiry, reminders)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import date


def cmd_due(args: argparse.Namespace) -> int:
    from app.adhesion.scheduled import run_due_transitions
    from app.config import get_settings
    from app.database_setup import ensure_owner_url
    from app.db import Database

    settings = get_settings()
    ensure_owner_url(settings)

    async def run():  # noqa: ANN202
        db = Database(settings.runtime_url(), pool_size=2)
        try:
            return await run_due_transitions(db, date.fromisoformat(args.fecha) if args.fecha else None)
        finally:
            await db.dispose()

    for line in asyncio.run(run()).lines():
        print(line)
    return 0


def register(subparsers) -> None:  # noqa: ANN001
    p = subparsers.add_parser("adhesiones-programadas",
                              help="Inicio de vigencia, vencimientos y recordatorios de adhesiones (idempotente)")
    p.add_argument("--fecha", help="Fecha de referencia AAAA-MM-DD (por defecto, hoy en Lima)")
    p.set_defaults(func=cmd_due)
