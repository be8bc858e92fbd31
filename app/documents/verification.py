"""Verification codes, the document registry (SHA-256 of every stored revision) and the public lookups.

A document gets a code when it is issued; the code and a QR pointing to ``/verificar/<code>`` are printed on
every page. Each stored revision (the original, then one per signature) is registered with its SHA-256 and
bytes. Anyone may ask, without signing in, what the platform knows about a code or about a file's hash; the
answer comes from two narrow SECURITY DEFINER functions (migration 0003) that return the registry's public
columns and nothing else.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from reportlab.graphics import renderSVG
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.documents.models import DocumentRevision, RegisteredDocument

# Crockford's base 32 without I, L, O, U: codes are read aloud and typed from paper.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_code(prefix: str) -> str:
    """e.g. ADH-7K3M-Q9TX (40 random bits)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{prefix}-{body[:4]}-{body[4:]}"


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("O", "0").replace("I", "1").replace("L", "1")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verification_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/verificar/{code}"


def qr_svg(value: str, size: int = 160) -> str:
    """A QR code as inline SVG (for pages); the PDF draws its own with the same widget."""
    widget = QrCodeWidget(value)
    x1, y1, x2, y2 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
    drawing.add(widget)
    svg = renderSVG.drawToString(drawing)
    return svg[svg.index("<svg"):]


# --- Registry (in the caller's transaction and tenant context) ---------------------------------------------


async def register_document(session: AsyncSession, *, code: str, kind: str, title: str, subject_type: str,
                            subject_id: uuid.UUID, subject_state: str, subject_state_label: str,
                            entity_id: uuid.UUID, counterpart_entity_id: uuid.UUID | None,
                            is_demo: bool = False) -> RegisteredDocument:
    document = RegisteredDocument(code=code, kind=kind, title=title, subject_type=subject_type,
                                  subject_id=subject_id, subject_state=subject_state,
                                  subject_state_label=subject_state_label, entity_id=entity_id,
                                  counterpart_entity_id=counterpart_entity_id, is_demo=is_demo)
    session.add(document)
    await session.flush()
    return document


async def add_revision(session: AsyncSession, document: RegisteredDocument, content: bytes, *, kind: str,
                       label: str, signer: str | None = None, signed_at: datetime | None = None,
                       level: str | None = None, note: str | None = None) -> DocumentRevision:
    """Store ``content`` as the next revision. A signed revision must extend the previous one byte for byte."""
    last = (await session.execute(
        select(DocumentRevision).where(DocumentRevision.document_id == document.id)
        .order_by(DocumentRevision.number.desc()).limit(1)
        .options())).scalar_one_or_none()
    if last is not None:
        previous = await latest_content(session, document.id)
        if not content.startswith(previous):
            raise ValueError("Una revisión debe ser una actualización incremental de la anterior")
    revision = DocumentRevision(document_id=document.id, entity_id=document.entity_id,
                                number=0 if last is None else last.number + 1, kind=kind, label=label,
                                sha256=sha256_hex(content), size=len(content), signer=signer, signed_at=signed_at,
                                level=level, content=content, note=note)
    session.add(revision)
    await session.flush()
    return revision


async def latest_content(session: AsyncSession, document_id: uuid.UUID) -> bytes:
    return (await session.execute(
        select(DocumentRevision.content).where(DocumentRevision.document_id == document_id)
        .order_by(DocumentRevision.number.desc()).limit(1))).scalar_one()


async def set_subject_state(session: AsyncSession, *, subject_type: str, subject_id: uuid.UUID, state: str,
                            label: str) -> None:
    await session.execute(update(RegisteredDocument)
                          .where(RegisteredDocument.subject_type == subject_type,
                                 RegisteredDocument.subject_id == subject_id)
                          .values(subject_state=state, subject_state_label=label))


async def supersede(session: AsyncSession, *, code: str, by: str) -> None:
    await session.execute(update(RegisteredDocument).where(RegisteredDocument.code == code)
                          .values(superseded_by=by))


async def revision_count(session: AsyncSession, document_id: uuid.UUID) -> int:
    return await session.scalar(select(func.count()).select_from(DocumentRevision)
                                .where(DocumentRevision.document_id == document_id)) or 0


# --- Public lookups (anonymous context; definer functions only) ---------------------------------------------


@dataclass(frozen=True)
class PublicRevision:
    number: int
    kind: str
    label: str
    sha256: str
    size: int
    signer: str | None
    signed_at: datetime | None
    level: str | None


@dataclass(frozen=True)
class PublicDocument:
    code: str
    kind: str
    title: str
    subject_state: str
    subject_state_label: str
    superseded_by: str | None
    is_demo: bool
    issued_at: datetime
    revisions: tuple[PublicRevision, ...]

    @property
    def latest(self) -> PublicRevision:
        return self.revisions[-1]


async def public_document(session: AsyncSession, code: str) -> PublicDocument | None:
    rows = (await session.execute(text("SELECT * FROM document_public_by_code(:c)"),
                                  {"c": normalise_code(code)[:24]})).all()
    if not rows:
        return None
    first = rows[0]
    return PublicDocument(
        code=first.code, kind=first.kind, title=first.title, subject_state=first.subject_state,
        subject_state_label=first.subject_state_label, superseded_by=first.superseded_by, is_demo=first.is_demo,
        issued_at=first.issued_at,
        revisions=tuple(PublicRevision(r.revision, r.revision_kind, r.label, r.sha256, r.size, r.signer,
                                       r.signed_at, r.level) for r in rows))


async def public_match_by_hash(session: AsyncSession, sha256: str) -> tuple[str, int] | None:
    row = (await session.execute(text("SELECT * FROM document_public_by_sha256(:h)"), {"h": sha256})).first()
    return (row.code, row.revision) if row else None
