"""Anchors of the audit chain kept outside the database: whoever controls the database cannot rewrite history.

The chain (app.audit) proves that no entry was changed *relative to the others*; a superuser who rewrites an
entry and recomputes every later hash leaves a chain that is consistent again. So, once a day (the worker's
``audit_checkpoint`` job, or ``mac audit anclar``), the chain's head (its sequence number, which is also the
number of entries, its hash and the moment) is written to a file outside the database
(``AUDIT_CHECKPOINT_DIR``, by default ``DATA_DIR/audit_checkpoints``), sealed with the platform's certificate
(a detached CMS signature, app.documents.signing) and, with ``TSA_URL``, an RFC 3161 timestamp inside that
signature. ``mac audit verify`` checks every anchor's seal and that the entry at its sequence number still has
its hash: a rewritten chain no longer matches the anchors made before the rewrite. The SGP downloads the
anchors (/auditoria/anclas) to keep copies wherever it trusts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import cms

from app.config import Settings
from app.worker.broker import WorkerRuntime, job

FORMAT = "plataforma-mac/ancla-auditoria/1"
FILE_NAME = re.compile(r"^ancla-(\d{12})-(\d{8}T\d{6}Z)\.json$")
DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Anchor:
    seq: int  # the head's sequence number: also the number of entries up to it
    hash: str
    at: datetime  # UTC

    def payload(self) -> bytes:
        """The exact bytes sealed: canonical JSON (sorted keys, no spaces), so anyone can recompute them."""
        return json.dumps({"formato": FORMAT, "secuencia": self.seq, "hash": self.hash,
                           "entradas": self.seq, "momento": self.at.astimezone(UTC).isoformat()},
                          sort_keys=True, separators=(",", ":")).encode()

    @property
    def file_name(self) -> str:
        return f"ancla-{self.seq:012d}-{self.at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"


@dataclass(frozen=True)
class StoredAnchor:
    anchor: Anchor
    signature: bytes  # DER CMS SignedData (ContentInfo), detached over anchor.payload()
    path: Path


@dataclass(frozen=True)
class AnchorProblem:
    file: str
    problem: str


# --- Making an anchor -----------------------------------------------------------------------------------------


async def seal_anchor(anchor: Anchor, settings: Settings) -> bytes:
    from app.documents.signing import sealing_identity, timestamper_for

    identity = sealing_identity(settings)
    signed = await identity.signer.async_sign_general_data(
        anchor.payload(), "sha256", detached=True, timestamper=timestamper_for(settings.tsa_url))
    return signed.dump()


def write_anchor(folder: Path, anchor: Anchor, signature: bytes) -> Path:
    """The anchor file: its fields, plus the payload and the signature so that it verifies on its own."""
    folder.mkdir(parents=True, exist_ok=True)
    document = {"formato": FORMAT, "secuencia": anchor.seq, "hash": anchor.hash, "entradas": anchor.seq,
                "momento": anchor.at.astimezone(UTC).isoformat(),
                "contenido_firmado": anchor.payload().decode(),
                "firma_cms": base64.b64encode(signature).decode()}
    path = folder / anchor.file_name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False))
    tmp.replace(path)
    return path


def head_of_chain(session) -> tuple[int, str] | None:  # noqa: ANN001 - a synchronous Session as the system
    from sqlalchemy import select

    from app.audit_models import AuditEntry

    row = session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (int(row[0]), row[1]) if row else None


def make_anchor(runtime: WorkerRuntime, now: datetime | None = None) -> Path | None:
    """Anchor the chain's current head (None when the chain is empty or already anchored at this head)."""
    with runtime.transaction() as session:
        head = head_of_chain(session)
    if head is None:
        return None
    folder = runtime.settings.checkpoint_dir()
    if any(stored.anchor.seq == head[0] and stored.anchor.hash == head[1] for stored in _parsed(folder)):
        return None  # nothing was appended since the last anchor
    anchor = Anchor(seq=head[0], hash=head[1], at=(now or datetime.now(UTC)).replace(microsecond=0))
    signature = asyncio.run(seal_anchor(anchor, runtime.settings))
    return write_anchor(folder, anchor, signature)


@job("audit_checkpoint", max_retries=3, time_limit=120_000, every_seconds=DAY_SECONDS)
def audit_checkpoint(runtime: WorkerRuntime) -> None:
    """Daily: the chain's head sealed into a file outside the database (idempotent: one file per head)."""
    make_anchor(runtime)


# --- Reading and verifying ------------------------------------------------------------------------------------


def read_anchor(path: Path) -> StoredAnchor:
    document = json.loads(path.read_text())
    if document.get("formato") != FORMAT:
        raise ValueError("formato desconocido")
    anchor = Anchor(seq=int(document["secuencia"]), hash=str(document["hash"]),
                    at=datetime.fromisoformat(document["momento"]))
    if document.get("contenido_firmado", "").encode() != anchor.payload():
        raise ValueError("los campos no coinciden con el contenido firmado")
    return StoredAnchor(anchor=anchor, signature=base64.b64decode(document["firma_cms"]), path=path)


def anchor_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if FILE_NAME.match(p.name))


def _parsed(folder: Path) -> list[StoredAnchor]:
    found = []
    for path in anchor_files(folder):
        try:
            found.append(read_anchor(path))
        except (ValueError, KeyError, TypeError):
            continue
    return found


async def signature_problem(stored: StoredAnchor, settings: Settings) -> str | None:
    """Why the anchor's seal does not hold (None when it is intact and made by the platform's certificate)."""
    from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
    from pyhanko_certvalidator import ValidationContext

    from app.documents.signing import sealing_identity

    identity = sealing_identity(settings)
    try:
        signed_data = cms.ContentInfo.load(stored.signature)["content"]
        status = await async_validate_detached_cms(
            stored.anchor.payload(), signed_data,
            signer_validation_context=ValidationContext(trust_roots=list(identity.validation_roots or
                                                                         identity.chain_roots),
                                                        allow_fetching=False, revocation_mode="soft-fail"))
    except Exception as exc:  # noqa: BLE001 - a corrupt signature is a verification failure, not a crash
        return f"la firma no se puede leer ({type(exc).__name__})"
    if not (status.intact and status.valid):
        return "la firma no corresponde al contenido del ancla"
    if status.signing_cert.sha256 != identity.certificate.sha256 and not status.trusted:
        return "la firma no es del certificado de la plataforma"
    return None


def verify_anchors_on(conn, settings: Settings) -> tuple[int, list[AnchorProblem]]:  # noqa: ANN001 - psycopg
    """Every anchor in the folder against the chain: seal intact, and the entry at its sequence has its hash.
    Returns (anchors checked, problems)."""
    problems: list[AnchorProblem] = []
    paths = anchor_files(settings.checkpoint_dir())
    for path in paths:
        try:
            stored = read_anchor(path)
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(AnchorProblem(path.name, f"el archivo no es un ancla válida ({exc})"))
            continue
        problem = asyncio.run(signature_problem(stored, settings))
        if problem:
            problems.append(AnchorProblem(path.name, problem))
            continue
        row = conn.execute("SELECT hash FROM audit_log WHERE seq = %s", (stored.anchor.seq,)).fetchone()
        if row is None:
            problems.append(AnchorProblem(path.name, f"la entrada {stored.anchor.seq} ya no existe en la cadena"))
        elif row[0] != stored.anchor.hash:
            problems.append(AnchorProblem(
                path.name, f"la entrada {stored.anchor.seq} tiene otro hash que el anclado el "
                           f"{stored.anchor.at.astimezone(UTC).isoformat()}: la cadena fue reescrita"))
    return len(paths), problems


def has_timestamp(stored: StoredAnchor) -> bool:
    """Whether the seal carries an RFC 3161 signature timestamp (TSA_URL was set when it was made)."""
    signer_info = cms.ContentInfo.load(stored.signature)["content"]["signer_infos"][0]
    unsigned = signer_info["unsigned_attrs"]
    return unsigned.native is not None and any(a["type"].native == "signature_time_stamp_token" for a in unsigned)
