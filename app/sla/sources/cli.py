"""`mac sla novosga ...`: one sync of a centre's Novo SGA database now, from the console."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path


def cmd_sync(args: argparse.Namespace) -> int:
    from app.cli import run_with_database
    from app.errors import DomainError
    from app.localtime import today_lima
    from app.sla.sources.registry import console_source
    from app.sla.sources.sync import sync_source

    try:
        since = date.fromisoformat(args.desde) if args.desde else None
    except ValueError:
        print(f"Error: --desde «{args.desde}» no es una fecha AAAA-MM-DD.", file=sys.stderr)
        return 2
    try:
        mapping_csv = Path(args.mapa).read_bytes() if args.mapa else None
    except OSError:
        print(f"Error: no se pudo leer el archivo de mapeo {args.mapa}", file=sys.stderr)
        return 2
    default_from = since or (today_lima().replace(day=1) - timedelta(days=1)).replace(day=1)

    async def go(db):  # noqa: ANN001, ANN202
        source_id = await console_source(db, centre_code=args.centro, dsn=args.dsn, version=int(args.version),
                                         zone=args.zona, mapping_csv=mapping_csv, default_from=default_from)
        return await sync_source(db, source_id, trigger="consola", since=since)

    try:
        outcome = run_with_database(go)
    except DomainError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(outcome.as_json(), ensure_ascii=False, default=str))
    if outcome.busy:
        print("Otra sincronización de esta fuente está en curso; no se hizo nada.", file=sys.stderr)
        return 1
    return 2 if outcome.error else 0


def register(sla_subparsers) -> None:  # noqa: ANN001
    novo = sla_subparsers.add_parser("novosga", help="bases de datos Novo SGA de los centros (solo lectura)")
    sub = novo.add_subparsers(dest="novosga_command", required=True)
    sync = sub.add_parser("sincronizar", help="sincroniza ahora las atenciones de una base Novo SGA 1.x o 2.x; "
                                               "imprime el resultado como un objeto JSON")
    sync.add_argument("--centro", required=True, help="código del centro (p. ej. MAC-CALLAO)")
    sync.add_argument("--dsn", required=True, help="mysql://usuario:clave@host:puerto/base (usuario de solo lectura)")
    sync.add_argument("--version", required=True, choices=("1", "2"), help="versión de Novo SGA")
    sync.add_argument("--zona", help="zona horaria de las horas de Novo (por defecto America/Lima)")
    sync.add_argument("--mapa", help="CSV servicio_novo,ruc,servicio[,desde] con el mapeo de servicios")
    sync.add_argument("--desde", help="AAAA-MM-DD: relee desde ese día (por defecto, desde la última lectura)")
    sync.set_defaults(func=cmd_sync)
