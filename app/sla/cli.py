"""`mac sla ...`: the offline calculator, file import and rollup rebuild."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path


def cmd_compliance(args: argparse.Namespace) -> int:
    """Read one case (JSON), print the results (JSON). Pure: needs no database."""
    from app.sla.calculator import CaseError, run_case

    try:
        text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text(encoding="utf-8")
        doc = json.loads(text)
    except FileNotFoundError:
        print(f"Error: no existe el archivo {args.input}", file=sys.stderr)
        return 2
    except json.JSONDecodeError as exc:
        print(f"Error: el archivo no es JSON válido (línea {exc.lineno}, columna {exc.colno}): {exc.msg}",
              file=sys.stderr)
        return 2
    try:
        result = run_case(doc)
    except CaseError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _run(coro_factory):  # noqa: ANN001, ANN202
    from app.cli import run_with_database

    return run_with_database(coro_factory)


FORMATS = ("plataforma", "detalle-atenciones", "marcaciones-zkteco", "mac-express")


def cmd_import_source(args: argparse.Namespace) -> int:
    """A real source's file (national export, ZKTeco clock, MAC Express): prints the result as one JSON object."""
    from app.errors import DomainError
    from app.sla.sources.imports import import_source_file

    async def go(db):  # noqa: ANN001, ANN202
        return await import_source_file(db, Path(args.file), centre_code=args.centro, cli_name=args.formato)

    try:
        result = _run(go)
    except FileNotFoundError:
        print(f"Error: no existe el archivo {args.file}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2
    out = {**result.counts, "lote": str(result.batch_id),
           "errores": [e.as_dict() for e in result.errors[:200]],
           "avisos": [w.as_dict() for w in result.warnings[:200]]}
    print(json.dumps(out, ensure_ascii=False))
    return 0 if not result.errors else 1


def cmd_import(args: argparse.Namespace) -> int:
    """Load a CSV file (bulk path: COPY into staging, set-based validation, upsert) for one centre."""
    from app.sla.ingest import import_file

    if args.formato != "plataforma":
        return cmd_import_source(args)

    async def go(db):  # noqa: ANN001, ANN202
        return await import_file(db, Path(args.file), centre_code=args.centro, kind=args.tipo)

    try:
        report = _run(go)
    except FileNotFoundError:
        print(f"Error: no existe el archivo {args.file}", file=sys.stderr)
        return 2
    except Exception as exc:  # a domain error: print its Spanish message
        from app.errors import DomainError

        if isinstance(exc, DomainError):
            print(f"Error: {exc.message}", file=sys.stderr)
            return 2
        raise
    print(f"Filas leídas: {report.total}; guardadas: {report.stored}; sin cambios: {report.unchanged}; "
          f"rechazadas: {len(report.errors)}")
    for err in report.errors[:200]:
        print(f"  línea {err.line}, campo «{err.field}»: {err.reason}")
    if len(report.errors) > 200:
        print(f"  … y {len(report.errors) - 200} más")
    return 0 if not report.errors else 1


def _day(value: str, option: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        print(f"Error: {option} debe ser una fecha AAAA-MM-DD (se recibió «{value}»).", file=sys.stderr)
        return None


def cmd_export(args: argparse.Namespace) -> int:
    """Print the calculator's input document (``mac sla compliance``) for a centre and range, from stored data."""
    from app.errors import DomainError
    from app.sla.export import export_centre

    start, end = _day(args.desde, "--desde"), _day(args.hasta, "--hasta")
    if start is None or end is None:
        return 2

    async def go(db):  # noqa: ANN001, ANN202
        return await export_centre(db, centre_code=args.centro, start=start, end=end, ruc=args.ruc)

    try:
        case = _run(go)
    except DomainError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2
    json.dump(case, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Recompute the daily rollups from the events (all centres, or one; a date range if given)."""
    from datetime import date

    from app.sla.rollups import rebuild_all

    start = date.fromisoformat(args.desde) if args.desde else None
    end = date.fromisoformat(args.hasta) if args.hasta else None

    async def go(db):  # noqa: ANN001, ANN202
        return await rebuild_all(db, centre_code=args.centro, start=start, end=end)

    days = _run(go)
    print(f"Resúmenes diarios recalculados: {days} día(s)-centro.")
    return 0


def register(subparsers) -> None:  # noqa: ANN001
    sla = subparsers.add_parser("sla", help="Acuerdos de Nivel de Servicio (ANS)")
    sub = sla.add_subparsers(dest="sla_command", required=True)
    comp = sub.add_parser("compliance", help="calculadora de ANS: un caso JSON → resultados JSON (sin base de datos)")
    comp.add_argument("--input", required=True, help="archivo JSON del caso ('-' para la entrada estándar)")
    comp.set_defaults(func=cmd_compliance)
    imp = sub.add_parser("import", help="importa un archivo: CSV de la plataforma, detalle de atenciones, "
                                       "marcaciones ZKTeco o MAC Express")
    imp.add_argument("file", help="archivo: CSV con encabezado; XLSX o attlog según --formato")
    imp.add_argument("--centro", required=True, help="código del centro (p. ej. MAC-CALLAO)")
    imp.add_argument("--tipo", default="atenciones",
                     choices=("atenciones", "marcaciones", "encuestas", "interrupciones"),
                     help="con --formato plataforma: qué contiene el CSV")
    imp.add_argument("--formato", default="plataforma", choices=FORMATS,
                     help="plataforma (CSV propio, por defecto), detalle-atenciones (exportación nacional, CSV o "
                          "XLSX), marcaciones-zkteco (iclock_transaction CSV o attlog del reloj), mac-express (CSV)")
    imp.set_defaults(func=cmd_import)
    exp = sub.add_parser("export", help="exporta un centro y rango como entrada de «mac sla compliance» (JSON)")
    exp.add_argument("--centro", required=True, help="código del centro (p. ej. MAC-CALLAO)")
    exp.add_argument("--desde", required=True, help="AAAA-MM-DD (incluido)")
    exp.add_argument("--hasta", required=True, help="AAAA-MM-DD (incluido)")
    exp.add_argument("--ruc", help="solo esta entidad (RUC)")
    exp.set_defaults(func=cmd_export)
    reb = sub.add_parser("rebuild", help="recalcula los resúmenes diarios desde los eventos")
    reb.add_argument("--centro", help="solo este centro (código)")
    reb.add_argument("--desde", help="AAAA-MM-DD")
    reb.add_argument("--hasta", help="AAAA-MM-DD")
    reb.set_defaults(func=cmd_rebuild)
    from app.sla.sources.cli import register as register_sources

    register_sources(sub)
