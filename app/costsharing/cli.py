"""`mac costs allocate --input case.json`: the offline calculator, on the same pure module as the app."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_allocate(args: argparse.Namespace) -> int:
    from app.costsharing.allocation import AllocationInputError, allocate, parse_case

    try:
        text = sys.stdin.read() if args.input == "-" else Path(args.input).read_text(encoding="utf-8")
    except OSError as exc:
        print(f"No se pudo leer el archivo de entrada «{args.input}»: {exc.strerror or exc}.", file=sys.stderr)
        return 2
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"La entrada no es JSON válido (línea {exc.lineno}, columna {exc.colno}): {exc.msg}.", file=sys.stderr)
        return 2
    try:
        result = allocate(parse_case(data), check=False)  # parse_case already validated
    except AllocationInputError as exc:
        print(f"Entrada no válida: {exc.message}", file=sys.stderr)
        return 2
    json.dump(result.to_json(), sys.stdout, ensure_ascii=False, indent=2 if args.pretty else None)
    sys.stdout.write("\n")
    return 0


def register(subparsers) -> None:  # noqa: ANN001
    costs = subparsers.add_parser("costs", help="costos compartidos de los Centros MAC")
    costs_sub = costs.add_subparsers(dest="costs_command", required=True)
    allocate = costs_sub.add_parser(
        "allocate", help="calcula la distribución de un caso (JSON) sin base de datos",
        description="Lee un caso en JSON (ver README, «Calculadora de costos») e imprime las líneas por "
                    "entidad, los totales y lo no distribuido.")
    allocate.add_argument("--input", required=True, help="archivo JSON del caso («-» para la entrada estándar)")
    allocate.add_argument("--pretty", action="store_true", help="JSON con sangría")
    allocate.set_defaults(func=cmd_allocate)
