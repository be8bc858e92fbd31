"""The Cláusula de Adhesión as a PDF: formal layout in Spanish, annexes, page numbers, and on every page the
verification code with its QR. Pure: data in, bytes out (no database, no files, no clock).

The output is deterministic (reportlab's invariant mode and the issue date passed in), so the preview a
manager reads is byte for byte the document that is later stored and signed. The last page holds the two
signature boxes at fixed coordinates (:data:`SIGNATURE_BOXES`) where the signing module reserves one empty
signature field per party.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from app.documents.pdf_text import escape

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.documents.pdf_pages import PageCountingCanvas

PAGE_W, PAGE_H = A4
MARGIN = 20 * mm
FOOTER_H = 28 * mm
# Field name -> (x1, y1, x2, y2) in points on the last page.
FIELD_ENTIDAD = "FirmaEntidad"
FIELD_ADMINISTRADORA = "FirmaAdministradora"
_BOX_W = 232  # two boxes and a gap fit the text width (A4 minus margins = 482 pt)
SIGNATURE_BOXES: dict[str, tuple[int, int, int, int]] = {
    FIELD_ENTIDAD: (int(MARGIN), 430, int(MARGIN) + _BOX_W, 540),
    FIELD_ADMINISTRADORA: (int(PAGE_W - MARGIN) - _BOX_W, 430, int(PAGE_W - MARGIN), 540),
}

MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
          "noviembre", "diciembre")


def fecha_larga(d: date) -> str:
    return f"{d.day} de {MONTHS[d.month - 1]} de {d.year}"


def soles(amount: Decimal) -> str:
    value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"S/ {value:,.2f}"


@dataclass(frozen=True)
class Party:
    name: str
    ruc: str
    role_label: str  # "ENTIDAD PARTICIPANTE" / "ENTIDAD ADMINISTRADORA"


@dataclass(frozen=True)
class AnsTarget:
    service: str
    max_wait_minutes: int
    max_attention_minutes: int
    target_percent: Decimal


@dataclass(frozen=True)
class ClauseData:
    code: str
    verification_url: str  # printed and encoded in the QR
    issued_on: date
    template_title: str
    template_version: int
    body: str  # the template with placeholders already filled (see :func:`fill_template`)
    participant: Party
    administrator: Party
    centre_name: str
    centre_address: str
    services: tuple[tuple[str, str], ...]  # (code, name)
    modules: int
    area_m2: Decimal
    monthly_fee: Decimal
    cofinancing: str
    term_months: int
    ans: tuple[AnsTarget, ...] = ()
    demo: bool = False
    revision_note: str = ""  # e.g. "Versión 2: subsana las observaciones del 12/11/2026"
    extra: dict[str, str] = field(default_factory=dict)


PLACEHOLDERS = ("entidad", "ruc_entidad", "administradora", "ruc_administradora", "centro", "direccion_centro",
                "servicios", "modulos", "area_m2", "importe_locacion", "cofinanciamiento", "plazo_meses",
                "anexo_ans")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def unknown_placeholders(body: str) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(body) if name not in PLACEHOLDERS})


def fill_template(body: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders; an unknown one is an error, never silently left in a legal text."""
    unknown = unknown_placeholders(body)
    if unknown:
        raise ValueError(f"Marcadores desconocidos en la plantilla: {', '.join(unknown)}")
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), body)


def placeholder_values(data: ClauseData) -> dict[str, str]:
    return {
        "entidad": data.participant.name, "ruc_entidad": data.participant.ruc,
        "administradora": data.administrator.name, "ruc_administradora": data.administrator.ruc,
        "centro": data.centre_name, "direccion_centro": data.centre_address,
        "servicios": f"{len(data.services)} servicio(s) detallados en el Anexo 1",
        "modulos": str(data.modules), "area_m2": f"{Decimal(data.area_m2):.2f}",
        "importe_locacion": soles(data.monthly_fee), "cofinanciamiento": data.cofinancing,
        "plazo_meses": str(data.term_months), "anexo_ans": "el Anexo 2",
    }


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName="Helvetica-Bold", fontSize=14, leading=18,
                                alignment=TA_CENTER, spaceAfter=6),
        "subtitle": ParagraphStyle("s", parent=base["Normal"], fontName="Helvetica", fontSize=9.5,
                                   alignment=TA_CENTER, textColor=colors.HexColor("#444444"), spaceAfter=10),
        "h": ParagraphStyle("h", parent=base["Heading2"], fontName="Helvetica-Bold", fontSize=11, leading=14,
                            spaceBefore=8, spaceAfter=4),
        "p": ParagraphStyle("p", parent=base["Normal"], fontName="Times-Roman", fontSize=11, leading=15,
                            alignment=TA_JUSTIFY, spaceAfter=6),
        "cell": ParagraphStyle("c", parent=base["Normal"], fontName="Helvetica", fontSize=9, leading=11),
        "small": ParagraphStyle("sm", parent=base["Normal"], fontName="Helvetica", fontSize=8.5, leading=11),
    }


def _table(rows: list[list], widths: list[float]) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1)
    t.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8ee")),
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#888888")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return t


def _story(data: ClauseData) -> list:
    st = _styles()
    story: list = [
        Paragraph(escape(data.template_title.upper()), st["title"]),
        Paragraph(f"Plataforma de Mejor Atención al Ciudadano · {escape(data.centre_name)}<br/>"
                  f"Plantilla versión {data.template_version} · Emitida el {fecha_larga(data.issued_on)}",
                  st["subtitle"]),
    ]
    if data.demo:
        story.append(Paragraph("<b>DOCUMENTO DE DEMOSTRACIÓN</b>: las partes o sus datos son ficticios y el sello "
                               "de la plataforma es de demostración; no tiene valor legal.", st["small"]))
    if data.revision_note:
        story.append(Paragraph(escape(data.revision_note), st["small"]))
    parties = [["Parte", "Entidad", "RUC"],
               [data.participant.role_label, Paragraph(escape(data.participant.name), st["cell"]),
                data.participant.ruc],
               [data.administrator.role_label, Paragraph(escape(data.administrator.name), st["cell"]),
                data.administrator.ruc]]
    story += [Paragraph("LAS PARTES", st["h"]), _table(parties, [45 * mm, 95 * mm, 30 * mm]), Spacer(1, 6)]
    for block in re.split(r"\n\s*\n", data.body.strip()):
        block = block.strip()
        if block.startswith("## "):
            story.append(Paragraph(escape(block[3:].strip()), st["h"]))
        elif block:
            story.append(Paragraph(escape(" ".join(block.split())), st["p"]))
    # Annex 1: services, modules and area
    story += [PageBreak(), Paragraph("ANEXO 1 · SERVICIOS, MÓDULOS Y ÁREA", st["h"])]
    rows = [["N.º", "Código", "Servicio"]] + [
        [str(i), code, Paragraph(escape(name), st["cell"])] for i, (code, name) in enumerate(data.services, 1)]
    story += [_table(rows, [12 * mm, 40 * mm, 118 * mm]),
              Paragraph(f"Módulos de atención solicitados: <b>{data.modules}</b>. Área asignada: "
                        f"<b>{Decimal(data.area_m2):.2f} m²</b>.", st["p"])]
    # Annex 2: ANS
    story.append(Paragraph("ANEXO 2 · ACUERDOS DE NIVEL DE SERVICIO (ANS)", st["h"]))
    if data.ans:
        rows = [["Servicio", "Espera máx. (min)", "Atención máx. (min)", "Meta de cumplimiento"]] + [
            [Paragraph(escape(a.service), st["cell"]), str(a.max_wait_minutes), str(a.max_attention_minutes),
             f"{Decimal(a.target_percent):.2f} %"] for a in data.ans]
        story.append(_table(rows, [80 * mm, 28 * mm, 30 * mm, 32 * mm]))
    else:
        story.append(Paragraph("Los ANS se fijan en acta posterior aprobada por ambas partes.", st["p"]))
    # Annex 3: financing
    story += [Paragraph("ANEXO 3 · CONDICIONES DE FINANCIAMIENTO", st["h"]),
              _table([["Concepto", "Condición"],
                      ["Importe mensual por uso de locación", soles(data.monthly_fee)],
                      [Paragraph("Cofinanciamiento de costos comunes", st["cell"]),
                       Paragraph(escape(data.cofinancing), st["cell"])],
                      ["Plazo", f"{data.term_months} meses desde el inicio de vigencia, renovable"]],
                     [60 * mm, 110 * mm])]
    # Signature page: fixed boxes, filled later by the signatures (no content changes after the first one).
    story += [PageBreak(), Paragraph("FIRMAS", st["h"]),
              Paragraph("En señal de conformidad, las partes suscriben la presente Cláusula de Adhesión mediante "
                        "firma digital o firma electrónica con sello de la Plataforma MAC, conforme a la Ley "
                        "N.º 27269 y su Reglamento. Cada firma se añade como revisión incremental del documento; "
                        "el contenido de las páginas no cambia después de la primera firma.", st["p"]),
              KeepTogether([Spacer(1, 4)])]
    return story


class _Canvas(PageCountingCanvas):
    """The clause's footer (code, link, QR, 'Página n de N') and, on the last page, the signature boxes."""

    def __init__(self, *args, clause: ClauseData, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._clause = clause

    def _decorate(self, number: int, total: int) -> None:
        c = self._clause
        self.saveState()
        self.setStrokeColor(colors.HexColor("#999999"))
        self.line(MARGIN, FOOTER_H, PAGE_W - MARGIN, FOOTER_H)
        self.setFont("Helvetica", 8)
        self.setFillColor(colors.HexColor("#333333"))
        self.drawString(MARGIN, FOOTER_H - 11, f"Código de verificación: {c.code}")
        self.drawString(MARGIN, FOOTER_H - 22, f"Verifique su autenticidad en {c.verification_url}")
        self.drawString(MARGIN, FOOTER_H - 33, f"{c.participant.ruc} · {c.administrator.ruc} · {c.centre_name}")
        self.drawRightString(PAGE_W - MARGIN - 26 * mm, FOOTER_H - 11, f"Página {number} de {total}")
        qr = QrCodeWidget(c.verification_url)
        x1, y1, x2, y2 = qr.getBounds()
        size = 22 * mm
        drawing = Drawing(size, size, transform=[size / (x2 - x1), 0, 0, size / (y2 - y1), 0, 0])
        drawing.add(qr)
        renderPDF.draw(drawing, self, PAGE_W - MARGIN - size, 3 * mm)
        self.setFont("Helvetica", 7)
        self.drawString(MARGIN, PAGE_H - 12 * mm, "PRESIDENCIA DEL CONSEJO DE MINISTROS · SECRETARÍA DE GESTIÓN "
                                                  "PÚBLICA · PLATAFORMA MAC")
        if c.demo:
            self.setFillColor(colors.HexColor("#b00020"))
            self.drawRightString(PAGE_W - MARGIN, PAGE_H - 12 * mm, "DEMOSTRACIÓN")
        if number == total:
            self._signature_boxes()
        self.restoreState()

    def _signature_boxes(self) -> None:
        c = self._clause
        captions = {FIELD_ENTIDAD: (c.participant.role_label, c.participant.name, c.participant.ruc),
                    FIELD_ADMINISTRADORA: (c.administrator.role_label, c.administrator.name, c.administrator.ruc)}
        self.setFillColor(colors.black)
        for name, (x1, y1, x2, y2) in SIGNATURE_BOXES.items():
            self.setStrokeColor(colors.HexColor("#555555"))
            self.setDash(3, 2)
            self.rect(x1, y1, x2 - x1, y2 - y1)
            self.setDash()
            role, entity, ruc = captions[name]
            self.setFont("Helvetica-Bold", 8)
            self.drawString(x1, y1 - 12, role)
            self.setFont("Helvetica", 8)
            self.drawString(x1, y1 - 23, entity[:60])
            self.drawString(x1, y1 - 34, f"RUC {ruc}")


def render_clause(data: ClauseData) -> bytes:
    """The clause's PDF bytes; the same data always gives the same bytes."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=FOOTER_H + 6 * mm, title=data.template_title,
                            author="Plataforma MAC", subject=f"Cláusula de Adhesión {data.code}",
                            keywords=f"codigo-verificacion:{data.code}", creator="Plataforma MAC",
                            invariant=1)
    doc.build(_story(data), canvasmaker=lambda *a, **k: _Canvas(*a, clause=data, **k))
    return buffer.getvalue()


CODE_IN_KEYWORDS = re.compile(r"codigo-verificacion:([A-Z0-9-]+)")
