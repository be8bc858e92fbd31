"""`mac statements reconcile`: find statements that should exist and do not, and queue lost generations again
(the same function the worker's ``reconcile_statements`` job runs; useful from cron or after an incident).

`mac costs saldos --input caso.json`: the offline balance calculator, on the same pure module as the app
(:mod:`app.billing_reports.balances`); ``--exportar`` writes its input document from the stored statements and
payments of a centre (and an entity), so an auditor re-derives every balance offline. A refused input exits
with code 2, the reason on standard error and nothing on standard output."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path


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


def cmd_balances(args: argparse.Namespace) -> int:
    if args.exportar:
        return _export_balances(args)
    if not args.input:
        print("Indique --input ARCHIVO (o --exportar con --centro y --al).", file=sys.stderr)
        return 2
    from app.billing_reports.balances import BalanceInputError, compute, parse_case

    try:
        text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"No se pudo leer el archivo de entrada «{args.input}»: {getattr(exc, 'strerror', None) or exc}.",
              file=sys.stderr)
        return 2
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"La entrada no es JSON válido (línea {exc.lineno}, columna {exc.colno}): {exc.msg}.", file=sys.stderr)
        return 2
    try:
        result = compute(parse_case(doc))
    except BalanceInputError as exc:
        print(f"Entrada no válida: {exc.message}", file=sys.stderr)
        return 2
    json.dump(result.to_json(), sys.stdout, ensure_ascii=False, indent=2 if args.pretty else None)
    sys.stdout.write("\n")
    return 0


def _export_balances(args: argparse.Namespace) -> int:
    from app.billing_reports.balances import BalanceInputError
    from app.billing_reports.payments import export_case
    from app.cli import run_with_database
    from app.errors import DomainError

    if not args.centro or not args.al:
        print("Para exportar indique --centro CÓDIGO y --al AAAA-MM-DD.", file=sys.stderr)
        return 2
    try:
        as_of = date.fromisoformat(args.al)
    except ValueError:
        print(f"La fecha «{args.al}» no es válida (use AAAA-MM-DD).", file=sys.stderr)
        return 2
    try:
        doc = run_with_database(lambda _db: export_case(args.centro, as_of, ruc=args.ruc))
    except (DomainError, BalanceInputError) as exc:
        print(f"No se pudo exportar: {exc.message}", file=sys.stderr)
        return 2
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2 if args.pretty else None)
    sys.stdout.write("\n")
    return 0


def _costs_subparsers(subparsers):  # noqa: ANN001, ANN202
    """The `mac costs` group (cost sharing registers it first); created here if that domain is absent."""
    costs = subparsers.choices.get("costs") or subparsers.add_parser("costs", help="costos compartidos")
    found = [a for a in costs._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    return found[0] if found else costs.add_subparsers(dest="costs_command", required=True)


def register(subparsers) -> None:  # noqa: ANN001
    balances = _costs_subparsers(subparsers).add_parser(
        "saldos", help="saldos, aplicación de pagos y antigüedad de deuda (JSON) sin base de datos",
        description="Con --input lee un caso en JSON (ver README, «Saldos y pagos») e imprime las cuentas, los "
                    "estados de cuenta con su estado y antigüedad, y cómo se aplicó cada pago. Con --exportar "
                    "escribe ese mismo documento de entrada desde los datos guardados de un centro.")
    balances.add_argument("--input", help="archivo JSON del caso («-» para la entrada estándar)")
    balances.add_argument("--exportar", action="store_true", help="escribe el caso desde los datos guardados")
    balances.add_argument("--centro", metavar="CÓDIGO", help="código del centro (con --exportar)")
    balances.add_argument("--ruc", metavar="RUC", help="solo la cuenta de esta entidad (con --exportar)")
    balances.add_argument("--al", metavar="AAAA-MM-DD", help="fecha de corte (con --exportar)")
    balances.add_argument("--pretty", action="store_true", help="JSON con sangría")
    balances.set_defaults(func=cmd_balances)

    statements = subparsers.add_parser("statements", help="estados de cuenta")
    sub = statements.add_subparsers(dest="statements_command", required=True)
    reconcile = sub.add_parser("reconcile", help="crea los estados de cuenta faltantes y reencola los atrasados",
                               description="Para cada periodo publicado o cerrado con estados de cuenta solicitados,"
                                           " crea los que faltan y vuelve a encolar los que esperan al worker "
                                           "desde hace demasiado. Idempotente.")
    reconcile.add_argument("--atrasados-desde", type=float, default=None, metavar="SEGUNDOS",
                           help="antigüedad mínima de una generación pendiente para reencolarla (por defecto 120)")
    reconcile.set_defaults(func=cmd_reconcile)
