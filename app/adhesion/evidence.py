"""The constancia (evidence record) of an adhesion as a PDF: every step with who, when, from where and how
they authenticated, and the SHA-256 of the original and of every signed revision. Pure layout: data in, bytes
out; the service seals the result with the platform's certificate."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from app.documents.pdf_text import escape
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.adhesion.states import STATE_LABELS

LIMA = ZoneInfo("America/Lima")


@dataclass(frozen=True)
class EvidenceEvent:
    at: datetime
    action: str
    from_state: str | None
    to_state: str | None
    actor: str
    dni: str | None
    role: str
    entity: str | None
    ip: str | None
    user_agent: str | None
    auth_method: str | None
    acr: str | None
    comment: str | None


@dataclass(frozen=True)
class EvidenceRevision:
    code: str
    number: int
    label: str
    sha256: str
    size: int
    at: datetime
    level: str | None


@dataclass(frozen=True)
class EvidenceData:
    title: str
    adhesion_id: str
    participant: str
    administrator: str
    centre: str
    state: str
    generated_at: datetime
    events: tuple[EvidenceEvent, ...]
    revisions: tuple[EvidenceRevision, ...]
    demo: bool = False


def _lima(value: datetime) -> str:
    return value.astimezone(LIMA).strftime("%d/%m/%Y %H:%M:%S")


def render_evidence(data: EvidenceData) -> bytes:
    base = getSampleStyleSheet()
    cell = ParagraphStyle("c", parent=base["Normal"], fontName="Helvetica", fontSize=7.5, leading=9)
    p = ParagraphStyle("p", parent=base["Normal"], fontName="Helvetica", fontSize=9.5, leading=12)
    h = ParagraphStyle("h", parent=base["Heading2"], fontName="Helvetica-Bold", fontSize=11)
    story: list = [Paragraph(escape(data.title), base["Title"]),
                   Paragraph(f"Adhesión {escape(data.adhesion_id)} · Estado actual: <b>{escape(data.state)}</b><br/>"
                             f"Entidad participante: {escape(data.participant)}<br/>"
                             f"Entidad administradora: {escape(data.administrator)} · {escape(data.centre)}<br/>"
                             f"Emitida el {_lima(data.generated_at)} (hora de Lima) y sellada por la Plataforma MAC.",
                             p)]
    if data.demo:
        story.append(Paragraph("<b>Sello de demostración: sin valor legal.</b>", p))
    story += [Spacer(1, 4 * mm), Paragraph("Recorrido", h)]
    rows = [["Fecha y hora", "Paso", "Estado", "Quién", "Entidad / rol", "Origen", "Autenticación", "Detalle"]]
    for e in data.events:
        state = (f"{STATE_LABELS.get(e.from_state, '—') if e.from_state else '—'} → "
                 f"{STATE_LABELS.get(e.to_state, e.to_state or '—')}")
        who = e.actor + (f" (DNI {e.dni})" if e.dni else "")
        origin = escape(e.ip or "—") + (f"<br/>{escape(e.user_agent[:90])}" if e.user_agent else "")
        auth = escape(e.auth_method or "—") + (f" · acr {escape(e.acr)}" if e.acr else "")
        rows.append([_lima(e.at), Paragraph(escape(e.action), cell), Paragraph(escape(state), cell),
                     Paragraph(escape(who), cell), Paragraph(escape(f"{e.entity or '—'} / {e.role}"), cell),
                     Paragraph(origin, cell), Paragraph(auth, cell),
                     Paragraph(escape((e.comment or "")[:400]), cell)])
    table = Table(rows, colWidths=[26 * mm, 24 * mm, 40 * mm, 36 * mm, 36 * mm, 44 * mm, 26 * mm, 45 * mm],
                  repeatRows=1)
    style = TableStyle([("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8), ("FONT", (0, 1), (-1, -1), "Helvetica", 7.5),
                        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8ee"))])
    table.setStyle(style)
    story += [table, Spacer(1, 4 * mm), Paragraph("Documentos y revisiones (SHA-256)", h)]
    rows = [["Código", "Rev.", "Revisión", "Nivel", "Registrada", "Bytes", "SHA-256"]]
    for r in data.revisions:
        rows.append([r.code, str(r.number), Paragraph(escape(r.label), cell), r.level or "—", _lima(r.at),
                     str(r.size), Paragraph(r.sha256, cell)])
    table = Table(rows, colWidths=[28 * mm, 10 * mm, 70 * mm, 22 * mm, 28 * mm, 16 * mm, 90 * mm], repeatRows=1)
    table.setStyle(style)
    story.append(table)
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                      bottomMargin=12 * mm, title=data.title, author="Plataforma MAC").build(story)
    return buffer.getvalue()
