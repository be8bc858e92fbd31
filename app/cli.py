"""The `mac` command: run, serve, worker, migrate, demo-data, audit verify, ...

`mac run` is what the README's run command calls: database (embedded when DATABASE_URL is unset), migrations,
demo data the first time, then the web app and its worker until Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.config import get_settings
from app.modules import domain_modules


def cmd_migrate(_: argparse.Namespace) -> int:
    from app.database_setup import migrate

    migrate(get_settings())
    print("Migraciones aplicadas.")
    return 0


def run_with_database(coro_factory):  # noqa: ANN001, ANN201
    """Run ``coro_factory(db)`` in a fresh event loop with a database of its own (a CLI command's lifetime)."""
    from app.database_setup import ensure_owner_url
    from app import db as database_module
    from app.db import Database, set_database

    settings = get_settings()
    ensure_owner_url(settings)

    async def run():
        previous = database_module._database  # the caller's (tests run commands inside their own process)
        db = Database(settings.runtime_url(), pool_size=2)
        set_database(db)
        try:
            return await coro_factory(db)
        finally:
            await db.dispose()
            set_database(previous)

    return asyncio.run(run())


def cmd_demo_data(_: argparse.Namespace) -> int:
    """Tenants first, then each domain's own demo (`app.<domain>.demo.load_demo(db) -> list[str]`), idempotent."""
    from app.tenants.demo import load_demo_data

    async def load(db):  # noqa: ANN001
        report = await load_demo_data(db)
        lines: list[str] = []
        for module in [*domain_modules("demo"), *domain_modules("sources.demo")]:
            if hasattr(module, "load_demo"):
                lines.extend(await module.load_demo(db))
        return report, lines

    report, lines = run_with_database(load)
    print_demo_report(report)
    for line in lines:
        print(line)
    return 0


def print_demo_report(report) -> None:  # noqa: ANN001
    if not report.created:
        print("Los datos de demostración ya estaban cargados. Las contraseñas se mostraron en el primer arranque;"
              " si no las tiene, use «¿Olvidó su contraseña?» en /ingresar (sin SMTP, el correo queda en"
              " el buzón local).")
        return
    print("Datos de demostración cargados. Cuentas (una por rol):")
    for role_label, email, password in report.accounts:
        print(f"  {role_label:<40} {email:<34} {password or ''}")


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    from app.database_setup import ensure_owner_url

    ensure_owner_url(settings)
    uvicorn.run("app.main:create_app", factory=True, host=args.host or settings.host, port=args.port or settings.port,
                proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
                log_level="info", access_log=False)  # our RequestLogMiddleware logs each request
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from app.database_setup import ensure_owner_url
    from app.logging import configure_logging
    from app.worker.runner import run_worker

    settings = get_settings()
    configure_logging(settings.log_json)
    ensure_owner_url(settings)
    run_worker(settings, threads=args.threads)
    return 0


def cmd_audit_verify(_: argparse.Namespace) -> int:
    """The chain's hashes and links, then every anchor made outside the database (app.audit_checkpoints)."""
    import psycopg

    from app.audit import verify_chain_on
    from app.audit_checkpoints import verify_anchors_on
    from app.config import psycopg_url
    from app.database_setup import ensure_owner_url

    settings = get_settings()
    with psycopg.connect(psycopg_url(ensure_owner_url(settings))) as conn:
        report = verify_chain_on(conn)
        anchors, anchor_problems = verify_anchors_on(conn, settings)
    if report.intact and not anchor_problems:
        print(f"Auditoría íntegra: {report.entries} entradas; hash de cabeza {report.head_hash}")
        print(f"Anclas verificadas: {anchors} (en {settings.checkpoint_dir()})" if anchors else
              "Sin anclas todavía (el worker crea una al día; «mac audit anclar» la crea ahora).")
        return 0
    if not report.intact:
        print(f"AUDITORÍA ALTERADA: {len(report.problems)} problema(s) en {report.entries} entradas", file=sys.stderr)
        for p in report.problems:
            print(f"  entrada {p.seq}: {p.problem}", file=sys.stderr)
    if anchor_problems:
        print(f"AUDITORÍA ALTERADA: {len(anchor_problems)} de {anchors} ancla(s) no coinciden con la cadena",
              file=sys.stderr)
        for p in anchor_problems:
            print(f"  ancla {p.file}: {p.problem}", file=sys.stderr)
    return 1


def cmd_audit_anchor(_: argparse.Namespace) -> int:
    """The daily anchor of the chain's head, now (sealed file outside the database)."""
    from app.audit_checkpoints import make_anchor
    from app.database_setup import ensure_owner_url
    from app.worker.broker import WorkerRuntime

    settings = get_settings()
    ensure_owner_url(settings)
    runtime = WorkerRuntime(settings, pool_size=1)
    try:
        path = make_anchor(runtime)
    finally:
        runtime.dispose()
    if path is None:
        print("La cabeza de la cadena ya está anclada (o la cadena está vacía): no se creó un ancla nueva.")
    else:
        print(f"Ancla creada: {path}")
    return 0


def cmd_backup_create(args: argparse.Namespace) -> int:
    """The whole database (pg_dump, custom format), its manifest and the audit anchors, in one file."""
    from app.backup import BackupError, create_backup
    from app.database_setup import ensure_owner_url

    settings = get_settings()
    try:
        report = create_backup(settings, ensure_owner_url(settings), args.archivo)
    except BackupError as exc:
        print(f"No se creó el respaldo: {exc}", file=sys.stderr)
        return 1
    audit, documents = report.manifest["auditoria"], report.manifest["documentos"]
    print(f"Respaldo creado: {report.path} ({report.path.stat().st_size:,} bytes)".replace(",", "."))
    print(f"  Auditoría: {audit['entradas']} entradas; cabeza {audit['cabeza_secuencia']} {audit['cabeza_hash']}")
    print(f"  Documentos guardados: {documents['cantidad']} (SHA-256 de cada uno en el manifiesto)")
    return 0


def cmd_backup_restore(args: argparse.Namespace) -> int:
    """Into the empty database of DATABASE_URL, then checked against the manifest."""
    from app.backup import BackupError, restore_backup
    from app.database_setup import ensure_owner_url

    settings = get_settings()
    try:
        report = restore_backup(settings, ensure_owner_url(settings), args.archivo)
    except BackupError as exc:
        print(f"No se restauró el respaldo: {exc}", file=sys.stderr)
        return 1
    print(f"Respaldo del {report.manifest['creado']} restaurado y verificado:")
    print(f"  Auditoría: {report.contents.audit_entries} entradas; cabeza {report.contents.audit_head_hash} "
          "(como en el manifiesto)")
    print(f"  Documentos: {len(report.contents.documents)}, cada uno con el SHA-256 del manifiesto")
    print(f"  Anclas de auditoría copiadas: {report.anchors_restored}")
    print("Siguiente paso: mac audit verify")
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    """The daily retention job, now: deletes finished work older than the window and prints what it deleted."""
    from app.worker.retention import apply_retention

    days = args.dias if args.dias is not None else get_settings().retention_days
    if days < 1:
        print("--dias debe ser al menos 1.", file=sys.stderr)
        return 2
    report = run_with_database(lambda db: apply_retention(db, days=days))
    for line in report.lines():
        print(line)
    return 0


def cmd_outbox_failed(_: argparse.Namespace) -> int:
    """The outbox messages that used up their attempts (OUTBOX_MAX_ATTEMPTS), most recent first."""
    from app.worker.outbox import list_failed

    rows = run_with_database(list_failed)
    if not rows:
        print("No hay mensajes fallidos en el outbox.")
        return 0
    print(f"Mensajes fallidos en el outbox: {len(rows)}")
    for row in rows:
        print(f"- {row.id}  trabajo {row.actor_name} (cola {row.queue_name})  intentos: {row.attempts}")
        print(f"  creado: {_lima(row.created_at)}  falló: {_lima(row.failed_at)}"
              + (f"  entidad: {row.entity_id}" if row.entity_id else ""))
        print(f"  último error: {row.last_error or '(sin detalle)'}")
    print("Para reintentar: mac outbox reintentar ID  (o --todos)")
    return 0


def _lima(moment) -> str:  # noqa: ANN001
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("America/Lima")).strftime("%d/%m/%Y %H:%M:%S") if moment else "-"


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    """Failed messages back to pending with their attempts reset; the worker's relay sends them again."""
    import uuid

    from app.worker.outbox import retry_failed

    if args.todos == bool(args.ids):
        print("Indique los ID de los mensajes a reintentar o --todos (no ambos).", file=sys.stderr)
        return 2
    try:
        ids = None if args.todos else [uuid.UUID(value) for value in args.ids]
    except ValueError:
        print("ID no válido: use el identificador que muestra «mac outbox fallidos».", file=sys.stderr)
        return 2
    retried = run_with_database(lambda db: retry_failed(db, ids))
    for row_id in retried:
        print(f"Reintentando {row_id}: vuelve a pendiente con los intentos en cero.")
    missing = [str(i) for i in ids or [] if i not in retried]
    for row_id in missing:
        print(f"{row_id}: no es un mensaje fallido; no se cambió.", file=sys.stderr)
    if not retried and not missing:
        print("No hay mensajes fallidos que reintentar.")
    print(f"{len(retried)} mensaje(s) puestos de nuevo en cola; el worker los enviará en breve.")
    return 1 if missing else 0


def cmd_run(args: argparse.Namespace) -> int:
    """Everything for a local run; Ctrl-C stops the web app, the worker and the embedded database cleanly."""
    from app.database_setup import migrate

    settings = get_settings()
    if not settings.database_url:
        print(f"DATABASE_URL no está definido: se usa PostgreSQL embebido en {settings.data_dir / 'postgres'}")
    migrate(settings)
    print("Migraciones aplicadas.")
    if not args.no_demo:
        cmd_demo_data(args)
    env = dict(os.environ, DATABASE_URL=settings.database_url or "")
    python = sys.executable
    children = [
        subprocess.Popen([python, "-m", "app.cli", "serve"], env=env),
        subprocess.Popen([python, "-m", "app.cli", "worker"], env=env),
    ]
    print(f"Plataforma MAC en {settings.base_url}  (Ctrl-C para detener)", flush=True)
    stopping = False

    def stop(*_):  # noqa: ANN002
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for child in children:
            if child.poll() is not None:
                print(f"Un proceso terminó inesperadamente (código {child.returncode}); deteniendo todo.",
                      file=sys.stderr)
                code, stopping = 1, True
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    print("Plataforma MAC detenida.")
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mac", description="Plataforma MAC")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="base de datos, migraciones, datos demo, web y worker")
    run.add_argument("--no-demo", action="store_true", help="no cargar los datos de demostración")
    run.set_defaults(func=cmd_run)
    serve = sub.add_parser("serve", help="servidor web")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="procesos en segundo plano (dramatiq) y relevo del outbox")
    worker.add_argument("--threads", type=int, default=4)
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="roles, migraciones y esquema del broker").set_defaults(func=cmd_migrate)
    sub.add_parser("demo-data", help="carga los datos de demostración (una sola vez)").set_defaults(func=cmd_demo_data)
    audit = sub.add_parser("audit", help="registro de auditoría")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="verifica la cadena de hashes y las anclas").set_defaults(func=cmd_audit_verify)
    audit_sub.add_parser("anclar", help="sella ahora la cabeza de la cadena en un ancla fuera de la base"
                         ).set_defaults(func=cmd_audit_anchor)
    backup = sub.add_parser("respaldo", help="respaldo completo de la base (pg_dump) y su restauración verificada")
    backup_sub = backup.add_subparsers(dest="backup_command", required=True)
    create = backup_sub.add_parser("crear", help="crea ARCHIVO: volcado, manifiesto (auditoría, SHA-256) y anclas")
    create.add_argument("archivo", type=Path, metavar="ARCHIVO")
    create.set_defaults(func=cmd_backup_create)
    restore = backup_sub.add_parser("restaurar", help="restaura ARCHIVO en la base vacía de DATABASE_URL y verifica")
    restore.add_argument("archivo", type=Path, metavar="ARCHIVO")
    restore.set_defaults(func=cmd_backup_restore)
    retention = sub.add_parser("retencion", aliases=["retention"],
                               help="elimina outbox y correos enviados, sesiones y enlaces vencidos (idempotente)")
    retention.add_argument("--dias", type=int, default=None,
                           help="días de trabajo terminado que se conservan (por defecto RETENTION_DAYS, 30)")
    retention.set_defaults(func=cmd_retention)
    outbox = sub.add_parser("outbox", help="mensajes en segundo plano que agotaron sus intentos")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True)
    outbox_sub.add_parser("fallidos", help="lista los mensajes fallidos (trabajo, intentos, último error, fechas)"
                          ).set_defaults(func=cmd_outbox_failed)
    retry = outbox_sub.add_parser("reintentar", help="devuelve mensajes fallidos a pendiente, con los intentos en cero")
    retry.add_argument("ids", nargs="*", metavar="ID", help="ID de los mensajes (ver mac outbox fallidos)")
    retry.add_argument("--todos", action="store_true", help="todos los mensajes fallidos")
    retry.set_defaults(func=cmd_outbox_retry)
    # Each domain may add its own subcommands (`app.<domain>.cli.register(subparsers)`).
    for module in domain_modules("cli"):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
