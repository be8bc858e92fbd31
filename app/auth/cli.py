"""`mac clients create|disable|enable`: machine clients (a centre's queue system) for OAuth2 client credentials."""

from __future__ import annotations

import argparse
import sys

from app.auth.models import CLIENT_SCOPES
from app.errors import DomainError


def _run(coro_factory):  # noqa: ANN001, ANN202
    from app.cli import run_with_database

    return run_with_database(coro_factory)


def cmd_create(args: argparse.Namespace) -> int:
    from app.auth.tokens import create_client_for_cli

    try:
        client_id, secret = _run(lambda db: create_client_for_cli(
            db, entity_ruc=args.ruc, name=args.nombre, scopes=args.scope, centre_code=args.centro))
    except DomainError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2
    print(f"client_id:     {client_id}")
    print(f"client_secret: {secret}")
    print("Guarde el secreto ahora: no se vuelve a mostrar (se almacena solo su hash).")
    return 0


def cmd_set_active(args: argparse.Namespace) -> int:
    from app.auth.tokens import set_client_active

    try:
        _run(lambda db: set_client_active(db, args.client_id, args.active))
    except DomainError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2
    print(f"Cliente {args.client_id} {'activado' if args.active else 'desactivado'}.")
    return 0


def register(sub) -> None:  # noqa: ANN001
    clients = sub.add_parser("clients", help="clientes de máquina (credenciales de cliente OAuth2)")
    csub = clients.add_subparsers(dest="clients_command", required=True)
    create = csub.add_parser("create", help="crea un cliente y muestra su secreto una sola vez")
    create.add_argument("--ruc", required=True, help="RUC de la entidad dueña del cliente")
    create.add_argument("--nombre", required=True, help="p. ej. «Sistema de colas Centro MAC Callao»")
    create.add_argument("--centro", help="código del centro (opcional)")
    create.add_argument("--scope", action="append", required=True, choices=sorted(CLIENT_SCOPES),
                        help="alcance; repetir para varios")
    create.set_defaults(func=cmd_create)
    for name, active in (("disable", False), ("enable", True)):
        p = csub.add_parser(name, help=("desactiva" if not active else "reactiva") + " un cliente")
        p.add_argument("client_id")
        p.set_defaults(func=cmd_set_active, active=active)
