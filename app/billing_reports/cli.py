"""`mac statements reconcile`: find statements that should exist and do not, and queue lost generations again
(the same function the worker's ``reconcile_statements`` job runs; useful from cron or after an incident)."""

from __future__ import annotations

import argparse
from datetime import timedelta


def cmd_reconcile(args: argparse.Namespace) -> int:
    from app.billing_reports.jobs import STALE_AFTER, reconcile
    from app.config import get_settings
    from app.worker.broker import WorkerRuntime

    runtime = WorkerRuntime(get_settings(), pool_size=1)
    try:
        stale = STALE_AFTER if args.atrasados_desde is None else timedelta(seconds=args.atrasados_desde)
        with runtime.transaction() as s:
            result = reconcile(s, stale_after=stale)
    finally:
        runtime.dispose()
    print(f"Estados de cuenta faltantes creados: {result.created}. Generaciones atrasadas reencoladas: "
          f"{result.requeued}.")
    return 0


def register(subparsers) -> None:  # noqa: ANN001
    statements = subparsers.add_parser("statements", help="estados de cuenta")
    sub = statements.add_subparsers(dest="statements_command", required=True)
    reconcile = sub.add_parser("reconcile", help="crea los estados de cuenta faltantes y reencola los atrasados",
                               description="Para cada periodo publicado o cerrado con estados de cuenta solicitados,"
                                           " crea los que faltan y vuelve a encolar los que esperan al worker "
                                           "desde hace demasiado. Idempotente.")
    reconcile.add_argument("--atrasados-desde", type=float, default=None, metavar="SEGUNDOS",
                           help="antigüedad mínima de una generación pendiente para reencolarla (por defecto 120)")
    reconcile.set_defaults(func=cmd_reconcile)
