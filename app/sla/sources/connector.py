"""Reading a Novo SGA database (MySQL/MariaDB) with PyMySQL, never writing to it.

The session is read-only twice over: the database user should have only SELECT (the coordinator is asked for
a read-only user), and the connector itself declares ``SET SESSION TRANSACTION READ ONLY`` and reads inside
``START TRANSACTION READ ONLY`` (a consistent snapshot of both tables), ending with ROLLBACK. Only the columns
the platform needs are selected: never ``nm_cli``, ``ident_cli`` or the ``clientes`` table.

Blocking (PyMySQL is synchronous): async callers run it in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urlsplit

import pymysql
import pymysql.cursors

from app.sla.sources.novosga import NovoRow, status_name

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 600
# The ticket number column is num_senha in 1.x, senha_numero in 2.x; everything else has the same name.
TICKET_NUMBER = {1: "num_senha", 2: "senha_numero"}


@dataclass(frozen=True)
class SourceAddress:
    host: str
    port: int
    database: str
    username: str
    password: str
    version: int
    unidade_id: int | None = None


class SourceUnavailable(Exception):
    """The source could not be reached or read; the message is Spanish and names no password."""


def parse_dsn(dsn: str, *, version: int, unidade_id: int | None = None) -> SourceAddress:
    """``mysql://usuario:clave@host:puerto/base`` (user and password percent-encoded when needed)."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb") or not parts.hostname or not parts.path.strip("/"):
        raise ValueError("El DSN debe tener la forma mysql://usuario:clave@host:puerto/base.")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ValueError("El puerto del DSN no es un número válido.") from None
    return SourceAddress(host=parts.hostname, port=port, database=unquote(parts.path.strip("/")),
                         username=unquote(parts.username or ""), password=unquote(parts.password or ""),
                         version=version, unidade_id=unidade_id)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, pymysql.err.OperationalError) and exc.args:
        code = exc.args[0]
        if code == 1045:
            return "La base de datos rechazó el usuario o la contraseña."
        if code == 1049:
            return "La base de datos indicada no existe en el servidor."
        if code in (2003, 2006, 2013):
            return "No se pudo conectar con el servidor de la base de datos (host o puerto, red o cortafuegos)."
        if code == 1142 or code == 1143:
            return "El usuario no tiene permiso de lectura sobre las tablas de Novo SGA."
    if isinstance(exc, pymysql.err.MySQLError) and exc.args and exc.args[0] in (1054, 1146):
        return ("La base de datos no tiene las tablas o columnas de Novo SGA de la versión indicada "
                "(¿es 1.x o 2.x?).")
    return f"No se pudo leer la fuente: {type(exc).__name__}."


@contextmanager
def read_only_session(address: SourceAddress) -> Iterator[pymysql.cursors.Cursor]:
    """A cursor inside a read-only transaction; rolled back and closed on the way out."""
    try:
        conn = pymysql.connect(host=address.host, port=address.port, user=address.username,
                               password=address.password, database=address.database, charset="utf8mb4",
                               autocommit=False, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT)
    except pymysql.err.MySQLError as exc:
        raise SourceUnavailable(_describe(exc)) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            cur.execute("START TRANSACTION READ ONLY")
            try:
                yield cur
            except pymysql.err.MySQLError as exc:
                raise SourceUnavailable(_describe(exc)) from None
            finally:
                try:
                    conn.rollback()
                except pymysql.err.MySQLError:
                    pass
    finally:
        try:
            conn.close()
        except pymysql.err.MySQLError:
            pass


def _columns(version: int) -> str:
    return (f"id, unidade_id, servico_id, atendimento_id, status, {TICKET_NUMBER[version]}, dt_cheg, dt_cha, "
            f"dt_ini, dt_fim, num_local, usuario_id")


def _row(values: tuple, *, live: bool) -> NovoRow:
    (id_, unidade, servico, parent, status, number, arrived, called, started, ended, module, user) = values
    return NovoRow(live=live, id=int(id_), unidade_id=unidade, servico_id=int(servico) if servico is not None else 0,
                   parent_id=parent, status=status_name(status) or f"desconocido:{status}",
                   ticket_number=int(number or 0), arrived=arrived, called=called, started=started, ended=ended,
                   module=module, user_id=user)


@dataclass
class Snapshot:
    rows: list[NovoRow]
    services: list[tuple[int, int | None, str]]  # (id, macro_id, nombre)


def read_snapshot(address: SourceAddress, since: datetime) -> Snapshot:
    """The live table (every row) and the archived rows arrived since ``since`` (source-local), and the
    service catalogue, from one read-only snapshot."""
    where_unidade = " AND unidade_id = %s" if address.unidade_id is not None else ""
    extra = (address.unidade_id,) if address.unidade_id is not None else ()
    with read_only_session(address) as cur:
        cur.execute("SELECT id, macro_id, nome FROM servicos")
        services = [(int(i), m, str(n)) for i, m, n in cur.fetchall()]
        cur.execute(f"SELECT {_columns(address.version)} FROM atendimentos WHERE 1 = 1{where_unidade}", extra)
        rows = [_row(r, live=True) for r in cur.fetchall()]
        cur.execute(f"SELECT {_columns(address.version)} FROM historico_atendimentos WHERE dt_cheg >= %s"
                    f"{where_unidade}", (since, *extra))
        rows.extend(_row(r, live=False) for r in cur.fetchall())
    return Snapshot(rows=rows, services=services)


@dataclass
class Probe:
    server: str
    services: int
    live_rows: int
    archived_rows: int
    arrivals_by_hour: dict[int, int]


def probe(address: SourceAddress, since: datetime) -> Probe:
    """The connection test: the server version, the tables' sizes and the hours at which citizens arrived since
    ``since`` (source-local), to check the configured zone."""
    with read_only_session(address) as cur:
        cur.execute("SELECT VERSION()")
        server = str(cur.fetchone()[0])
        cur.execute("SELECT COUNT(*) FROM servicos")
        services = int(cur.fetchone()[0])
        cur.execute("SELECT COUNT(*) FROM atendimentos")
        live = int(cur.fetchone()[0])
        cur.execute("SELECT COUNT(*) FROM historico_atendimentos")
        archived = int(cur.fetchone()[0])
        # Check the status column is the version's (1.x: numbers; 2.x: names).
        cur.execute(f"SELECT {TICKET_NUMBER[address.version]} FROM historico_atendimentos LIMIT 0")
        cur.execute("SELECT HOUR(dt_cheg), COUNT(*) FROM historico_atendimentos WHERE dt_cheg >= %s "
                    "GROUP BY HOUR(dt_cheg)", (since,))
        hours = {int(h): int(n) for h, n in cur.fetchall()}
    return Probe(server=server, services=services, live_rows=live, archived_rows=archived, arrivals_by_hour=hours)
