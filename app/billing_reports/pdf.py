"""The statement as a PDF (reportlab), in Spanish. Pure: a :class:`StatementData` in, bytes out — no database,
no files, no clock (the issue date is part of the data), so the same data always gives the same bytes.

Layout: header (centre, administering entity, participant with RUCs, period, status, number and date), the
summary (common costs, fee for use of premises, adjustments, total), two charts (the split by category and the
entity's totals over the last 12 months), one table per cost category (item, key, the entity's quantity, the
total quantity, percentage, amount), and the derivation appendix (methodology version, every item with its
inputs and its rounding). Every page carries its number, the verification code and its QR.

Amounts are written as Peruvians read them (S/ 1,234.56) by :func:`app.billing_reports.statement.soles`, the
same function the CSV/XLSX headers and the web pages use for display.
"""

from __future__ import annotations

import io
import itertools
import math
from decimal import Decimal
from app.documents.pdf_text import escape

from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.lib.utils import simpleSplit
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.documents.pdf_pages import PageCountingCanvas
from app.billing_reports.statement import (
    KIND_AJUSTE,
    KIND_REPARTO,
    STATUS_PRELIMINAR,
    StatementData,
    StatementLine,
    by_category,
    category_totals,
    fecha_corta,
    fecha_larga,
    mes_corto,
    number,
    percentage,
    soles,
    totals,
)

PAGE_W, PAGE_H = A4
MARGIN = 16 * mm
FOOTER_H = 26 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
ACCENT = colors.HexColor("#8a1538")  # the PCM's maroon
GRID = colors.HexColor("#9a9a9a")
HEAD_BG = colors.HexColor("#ece7ea")
HISTORY = colors.HexColor("#3b6e8f")

TABLE_HEADER = ["Ítem", "Clave", "Cantidad de\nla entidad", "Cantidad\ntotal", "Participación", "Importe"]
TABLE_WIDTHS = [58 * mm, 34 * mm, 22 * mm, 22 * mm, 20 * mm, 22 * mm]


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName="Helvetica-Bold", fontSize=14, leading=17,
                                alignment=TA_CENTER, textColor=ACCENT, spaceAfter=2),
        "subtitle": ParagraphStyle("s", parent=base["Normal"], fontName="Helvetica", fontSize=9, leading=11,
                                   alignment=TA_CENTER, textColor=colors.HexColor("#444444"), spaceAfter=8),
        "h": ParagraphStyle("h", parent=base["Heading2"], fontName="Helvetica-Bold", fontSize=10.5, leading=13,
                            spaceBefore=8, spaceAfter=4, textColor=ACCENT),
        "h3": ParagraphStyle("h3", parent=base["Normal"], fontName="Helvetica-Bold", fontSize=9, leading=11,
                             spaceBefore=6, spaceAfter=2),
        "p": ParagraphStyle("p", parent=base["Normal"], fontName="Helvetica", fontSize=8.5, leading=11,
                            spaceAfter=4),
        "cell": ParagraphStyle("c", parent=base["Normal"], fontName="Helvetica", fontSize=7.5, leading=9),
        "num": ParagraphStyle("n", parent=base["Normal"], fontName="Helvetica", fontSize=7.5, leading=9,
                              alignment=TA_RIGHT),
        "notice": ParagraphStyle("x", parent=base["Normal"], fontName="Helvetica-Bold", fontSize=8.5, leading=11,
                                 textColor=colors.HexColor("#8a4b00"), spaceAfter=4),
    }


def _grid(rows: list[list], widths: list[float], *, numeric_from: int | None = None, total_row: bool = False,
          header: bool = True) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7.5),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        style += [("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7.5), ("BACKGROUND", (0, 0), (-1, 0), HEAD_BG)]
    if numeric_from is not None:
        style.append(("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"))
    if total_row:
        style += [("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 7.5), ("BACKGROUND", (0, -1), (-1, -1), HEAD_BG)]
    t.setStyle(TableStyle(style))
    return t


def _wrap(text: str, width: float, *, font: str = "Helvetica", size: float = 7.5) -> str:
    """Plain text broken into lines that fit ``width`` (a table cell minus its padding). Plain strings in cells
    are several times cheaper for reportlab than a Paragraph per cell, and the tables are most of a statement."""
    lines: list[str] = []
    for part in str(text).split("\n"):
        lines.extend(simpleSplit(part, font, size, width - 6) or [""])
    return "\n".join(lines)


def _header(data: StatementData, st: dict[str, ParagraphStyle]) -> list:
    story: list = [
        Paragraph("ESTADO DE CUENTA DE COSTOS COMUNES", st["title"]),
        Paragraph(f"Centro de Mejor Atención al Ciudadano · {escape(data.centre_name)}", st["subtitle"]),
    ]
    if data.demo:
        story.append(Paragraph("DOCUMENTO DE DEMOSTRACIÓN: datos ficticios y sello de demostración; "
                               "sin valor legal.", st["notice"]))
    widths = [38 * mm, 72 * mm, 30 * mm, 38 * mm]
    status = data.status_label + (" (periodo publicado; puede variar)" if data.status == STATUS_PRELIMINAR
                                  else " (periodo cerrado)")
    rows = [
        ["N.º de estado de cuenta", data.number, "Fecha de emisión", fecha_larga(data.issued_on)],
        ["Periodo", f"{data.period_label} ({fecha_corta(data.period_start)} al {fecha_corta(data.period_end)})",
         "Estado", status],
        ["Centro MAC", data.centre_name, "Versión", str(data.version)],
        ["Entidad administradora", data.administering.name, "RUC", data.administering.ruc],
        ["Entidad participante", data.participant.name, "RUC", data.participant.ruc],
    ]
    rows = [[_wrap(v, w, font="Helvetica-Bold" if i % 2 == 0 else "Helvetica") for i, (v, w) in
             enumerate(zip(row, widths, strict=True))] for row in rows]
    table = _grid(rows, widths, header=False)
    table.setStyle(TableStyle([("FONT", (0, 0), (0, -1), "Helvetica-Bold", 7.5),
                               ("FONT", (2, 0), (2, -1), "Helvetica-Bold", 7.5),
                               ("FONT", (3, 1), (3, 1), "Helvetica-Bold", 7.5)]))
    story.append(table)
    if data.replaces:
        story += [Spacer(1, 3), Paragraph(
            f"Este estado de cuenta <b>reemplaza</b> al N.º {escape(data.replaces.number)}. "
            f"Motivo: {escape(data.replaces.reason)}", st["notice"])]
    for note in data.notes:
        story.append(Paragraph(escape(note), st["p"]))
    return story


def _summary(data: StatementData, st: dict[str, ParagraphStyle]) -> list:
    t = totals(data.lines)
    rows = [["Concepto", "Importe"],
            ["Costos comunes (cofinanciamiento)", soles(t.common_costs)],
            ["Tarifa por uso del local", soles(t.fee)],
            ["Ajustes de periodos anteriores", soles(t.adjustments)],
            ["TOTAL DEL PERIODO", soles(t.total)]]
    story = [Paragraph("RESUMEN", st["h"]), _grid(rows, [120 * mm, 58 * mm], numeric_from=1, total_row=True)]
    return story + _account(data, st)


def _account(data: StatementData, st: dict[str, ParagraphStyle]) -> list:
    """The entity's account at this centre on the issue date: what it owed, what it paid since, what it owes."""
    a = data.account
    if a is None:
        return []
    rows = [["Cuenta de la entidad en el centro", "Importe"],
            ["Saldo anterior (al último estado de cuenta)", soles(a.previous_balance)],
            ["Pagos recibidos desde el último estado de cuenta", soles(-a.payments_since_last)],
            ["Cargos de este periodo", soles(a.charges)]]
    if a.other_charges:
        rows.append(["Otros cargos y correcciones desde el último estado de cuenta", soles(a.other_charges)])
    rows.append([f"SALDO POR PAGAR · vence el {fecha_larga(a.due_on)}", soles(a.balance_due)])
    note = ("Un saldo negativo es a favor de la entidad. Solo cuentan los pagos confirmados por la entidad "
            "administradora.")
    return [Paragraph("ESTADO DE LA CUENTA", st["h"]), _grid(rows, [120 * mm, 58 * mm], numeric_from=1,
                                                             total_row=True), Paragraph(note, st["p"])]


def _nice_step(top: float, ticks: int = 4) -> float:
    """A round tick step (1, 2, 2.5 or 5 × 10^k) that covers ``top`` in about ``ticks`` steps."""
    raw = max(top, 1.0) / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(f * magnitude for f in (1, 2, 2.5, 5, 10) if f * magnitude >= raw)


class _BarChart(Flowable):
    """A bar chart drawn straight on the canvas: title, axes, round ticks, bars and labels.

    reportlab's chart widgets build and validate a tree of shapes per chart (two charts were a third of a
    statement's layout time); the same picture from a few dozen canvas calls costs next to nothing. Values are
    floats for plotting only: every figure printed comes from the Decimal amounts."""

    def __init__(self, width: float, height: float, title: str, bars: list[tuple[str, float, colors.Color]], *,
                 horizontal: bool, empty: str, bar_labels: bool = False) -> None:
        super().__init__()
        self.width, self.height = width, height
        self.title, self.bars, self.horizontal, self.empty, self.bar_labels = title, bars, horizontal, empty, bar_labels

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:  # noqa: ARG002
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        c.setFillColor(colors.black)
        c.setFont("Helvetica-Bold", 8)
        c.drawString(0, self.height - 10, self.title)
        if not self.bars:
            c.setFont("Helvetica", 7.5)
            c.drawString(0, self.height - 26, self.empty)
            return
        top = max(max(v for _l, v, _c in self.bars), 0.0)
        step = _nice_step(top)
        axis_max = step * max(math.ceil(top / step), 1)
        ticks = [step * i for i in range(int(round(axis_max / step)) + 1)]
        c.setLineWidth(0.5)
        c.setStrokeColor(colors.black)
        if self.horizontal:
            self._horizontal(c, axis_max, ticks)
        else:
            self._vertical(c, axis_max, ticks)

    def _horizontal(self, c, axis_max: float, ticks: list[float]) -> None:  # noqa: ANN001
        x0, y0, pw, ph = 72, 8, self.width - 96, self.height - 26
        band = ph / len(self.bars)
        c.line(x0, y0, x0, y0 + ph)
        c.line(x0, y0, x0 + pw, y0)
        c.setFont("Helvetica", 6)
        for t in ticks:
            x = x0 + pw * t / axis_max
            c.line(x, y0, x, y0 - 2)
            c.drawCentredString(x, y0 - 8, f"{t:,.0f}")
        for i, (label, value, color) in enumerate(self.bars):  # first bar on top
            y = y0 + ph - (i + 1) * band
            c.setFillColor(color)
            c.rect(x0, y + band * 0.2, pw * max(value, 0) / axis_max, band * 0.6, stroke=0, fill=1)
            c.setFillColor(colors.black)
            c.setFont("Helvetica", 6.5)
            c.drawRightString(x0 - 4, y + band / 2 - 2.3, label[:18])
            if self.bar_labels:
                c.setFont("Helvetica", 5.5)
                c.drawString(x0 + pw * max(value, 0) / axis_max + 2, y + band / 2 - 2, f"{value:,.2f}")

    def _vertical(self, c, axis_max: float, ticks: list[float]) -> None:  # noqa: ANN001
        x0, y0, pw, ph = 34, 18, self.width - 40, self.height - 34
        band = pw / len(self.bars)
        c.line(x0, y0, x0 + pw, y0)
        c.line(x0, y0, x0, y0 + ph)
        c.setFont("Helvetica", 6)
        for t in ticks:
            y = y0 + ph * t / axis_max
            c.line(x0, y, x0 - 2, y)
            c.drawRightString(x0 - 4, y - 2, f"{t:,.0f}")
        c.setFont("Helvetica", 5.5)
        for i, (label, value, color) in enumerate(self.bars):
            x = x0 + i * band
            c.setFillColor(color)
            c.rect(x + band * 0.2, y0, band * 0.6, ph * max(value, 0) / axis_max, stroke=0, fill=1)
            c.setFillColor(colors.black)
            c.saveState()
            c.translate(x + band / 2 + 2, y0 - 3)
            c.rotate(45)
            c.drawRightString(0, -4, label)
            c.restoreState()


def _category_chart(data: StatementData) -> Flowable:
    items = category_totals(data.lines)
    return _BarChart(CONTENT_W / 2 - 4, 30 + 14 * max(len(items), 1), "Costos comunes por categoría (S/)",
                     [(label, float(amount), ACCENT) for label, amount in items], horizontal=True,
                     empty="Sin costos comunes en el periodo.", bar_labels=True)


def _history_chart(data: StatementData) -> Flowable:
    history = list(data.history)[-12:]
    return _BarChart(CONTENT_W / 2 - 4, 30 + 14 * max(len(category_totals(data.lines)), 1),
                     "Total de la entidad, últimos 12 meses (S/)",
                     [(mes_corto(m.start), float(m.amount), ACCENT if m.start == data.period_start else HISTORY)
                      for m in history], horizontal=False, empty="Sin periodos anteriores.")


def _charts(data: StatementData, st: dict[str, ParagraphStyle]) -> list:
    t = Table([[_category_chart(data), _history_chart(data)]], colWidths=[CONTENT_W / 2, CONTENT_W / 2])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return [Paragraph("GRÁFICOS", st["h"]), t]


def _line_row(line: StatementLine, st: dict[str, ParagraphStyle]) -> list:
    item = line.item
    if line.document_ref:
        item += f"\nDoc.: {line.document_ref}"
    if line.adjustment_ref:
        item += f"\nCorrige: {line.adjustment_ref}"
    return [_wrap(item, TABLE_WIDTHS[0]), _wrap(line.key, TABLE_WIDTHS[1]),
            number(line.quantity, 4 if line.quantity is not None and line.quantity % 1 else 2),
            number(line.total_quantity, 4 if line.total_quantity is not None and line.total_quantity % 1 else 2),
            percentage(line.percentage), soles(line.amount)]


def _details(data: StatementData, st: dict[str, ParagraphStyle]) -> list:
    story: list = [Paragraph("DETALLE POR CATEGORÍA", st["h"])]
    if not data.lines:
        return [*story, Paragraph("La entidad no tiene cargos en este periodo.", st["p"])]
    for _code, label, group in by_category(data.lines):
        subtotal = sum((ln.amount for ln in group), Decimal("0.00"))
        rows = [TABLE_HEADER, *[_line_row(ln, st) for ln in group],
                [f"Subtotal {label}", "", "", "", "", soles(subtotal)]]
        table = _grid(rows, TABLE_WIDTHS, numeric_from=2, total_row=True)
        table.setStyle(TableStyle([("SPAN", (0, -1), (4, -1))]))
        story.append(KeepTogether([Paragraph(escape(label), st["h3"]), table])
                     if len(group) < 12 else Paragraph(escape(label), st["h3"]))
        if len(group) >= 12:
            story.append(table)
    return story


def _appendix(data: StatementData, st: dict[str, ParagraphStyle]) -> list:
    story: list = [PageBreak(), Paragraph("ANEXO · DERIVACIÓN DE CADA IMPORTE", st["h"]), Paragraph(
        f"Metodología <b>{escape(data.methodology_version)}</b> — {escape(data.methodology_title)}. "
        f"Capacidad vacante: {escape(data.vacancy_policy)}. Redondeo: {escape(data.rounding_rule)}. "
        "La participación de la entidad en un ítem es la suma, clave por clave, de peso × (cantidad de la "
        "entidad ÷ cantidad total); las claves de capacidad se prorratean por los días de vigencia de la "
        "adhesión. El importe del ítem se reparte al céntimo por el método del mayor residuo: se trunca cada "
        "parte al céntimo y los céntimos restantes se asignan uno a uno a los mayores residuos (empates: RUC "
        "menor), de modo que las partes siempre suman el ítem.", st["p"])]
    for i, line in enumerate(data.lines, 1):
        head = Paragraph(f"{i}. {escape(line.category_label)} — {escape(line.item)}: ítem "
                         f"{soles(line.item_amount)}, clave {escape(line.key)}", st["h3"])
        parts: list = [head]
        if line.steps:
            rows = [["Clave", "Peso", "Valor registrado", "Días vigentes", "Cantidad", "Total", "Fracción"]]
            rows += [[_wrap(s.key, 34 * mm), s.weight, s.driver, s.days, s.quantity, s.total,
                      s.fraction] for s in line.steps]
            parts.append(_grid(rows, [34 * mm, 14 * mm, 24 * mm, 24 * mm, 28 * mm, 28 * mm, 26 * mm],
                               numeric_from=1))
        rounding = ""
        if line.kind == KIND_REPARTO:
            rounding = (f" Importe exacto: {escape(line.exact)}; redondeo: {line.rounding:+.10f}"
                        + (" (recibió un céntimo restante por mayor residuo)." if line.extra_cent else "."))
        elif line.kind == KIND_AJUSTE:
            rounding = f" Corrige: {escape(line.adjustment_ref)}."
        parts.append(Paragraph(f"Participación {percentage(line.percentage)}; importe cargado "
                               f"<b>{soles(line.amount)}</b>.{rounding}", st["p"]))
        story.extend(parts)  # no KeepTogether: re-wrapping every item for it cost more than the layout itself
    return story


def _draw_qr(canvas: rl_canvas.Canvas, value: str, size: float, border: int = 2) -> None:
    """A QR code (level M, reportlab's encoder and its best mask) drawn as one filled path of dark runs:
    the same symbol as reportlab's QrCodeWidget, without building a graphics shape per module."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(value)
    code.make()
    count = code.getModuleCount()
    box = size / (count + 2 * border)
    path = canvas.beginPath()
    for r, row in enumerate(code.modules):
        c = 0
        for dark, run in itertools.groupby(row):
            n = len(list(run))
            if dark:
                path.rect((c + border) * box, size - (r + border + 1) * box, n * box, box)
            c += n
    canvas.setFillColor(colors.black)
    canvas.drawPath(path, stroke=0, fill=1)


class _Canvas(PageCountingCanvas):
    """The statement's header, watermark and footer (code, link, QR, 'Página n de N')."""

    def __init__(self, *args, statement: StatementData, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self._statement = statement
        self._qr_form = {"defined": False}  # shared by the saved page states (shallow copies)

    def _decorate(self, page_number: int, total: int) -> None:
        s = self._statement
        self.saveState()
        self.setFont("Helvetica", 7)
        self.setFillColor(colors.HexColor("#333333"))
        self.drawString(MARGIN, PAGE_H - 10 * mm,
                        "PCM · SECRETARÍA DE GESTIÓN PÚBLICA · PLATAFORMA MAC")
        self.drawRightString(PAGE_W - MARGIN, PAGE_H - 10 * mm, f"Estado de cuenta {s.number}")
        if s.status == STATUS_PRELIMINAR or s.demo:
            self.setFillColor(colors.Color(0.75, 0.2, 0.2, alpha=0.10))
            self.setFont("Helvetica-Bold", 64)
            self.translate(PAGE_W / 2, PAGE_H / 2)
            self.rotate(40)
            self.drawCentredString(0, 0, "PRELIMINAR" if s.status == STATUS_PRELIMINAR else "DEMOSTRACIÓN")
            self.rotate(-40)
            self.translate(-PAGE_W / 2, -PAGE_H / 2)
        self.setStrokeColor(GRID)
        self.line(MARGIN, FOOTER_H, PAGE_W - MARGIN, FOOTER_H)
        self.setFillColor(colors.HexColor("#333333"))
        self.setFont("Helvetica-Bold", 8)
        self.drawString(MARGIN, FOOTER_H - 10, f"Código de verificación: {s.verification_code}")
        self.setFont("Helvetica", 7.5)
        self.drawString(MARGIN, FOOTER_H - 20, f"Verifique este documento en {s.verification_url}")
        self.drawString(MARGIN, FOOTER_H - 30, f"{s.participant.name[:70]} · RUC {s.participant.ruc} · "
                                               f"{s.period_label}")
        self.drawString(MARGIN, FOOTER_H - 40, "Documento firmado digitalmente con sello electrónico "
                                               "(PAdES). Ley N.º 27269.")
        self.setFont("Helvetica-Bold", 8)
        self.drawRightString(PAGE_W - MARGIN - 24 * mm, FOOTER_H - 10, f"Página {page_number} de {total}")
        size = 21 * mm
        if not self._qr_form["defined"]:  # the QR is the same on every page: drawn once, placed on each page
            self.beginForm("codigo_qr")
            _draw_qr(self, s.verification_url or s.verification_code or s.number, size)
            self.endForm()
            self._qr_form["defined"] = True
        self.saveState()
        self.translate(PAGE_W - MARGIN - size, 3 * mm)
        self.doForm("codigo_qr")
        self.restoreState()
        self.restoreState()


def render_statement(data: StatementData) -> bytes:
    """The statement's PDF bytes (unsigned); the same data always gives the same bytes."""
    st = _styles()
    story = [*_header(data, st), *_summary(data, st), *_charts(data, st), *_details(data, st),
             *_appendix(data, st)]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=FOOTER_H + 5 * mm, title=f"Estado de cuenta {data.number}",
                            author="Plataforma MAC", subject=f"Estado de cuenta {data.period_code} "
                                                             f"{data.participant.ruc}",
                            keywords=f"codigo-verificacion:{data.verification_code}", creator="Plataforma MAC",
                            invariant=1)
    doc.build(story, canvasmaker=lambda *a, **k: _Canvas(*a, statement=data, **k))
    return buffer.getvalue()


def render_consolidated(statements: list[StatementData], *, title: str, subtitle: str, issued_on) -> bytes:  # noqa: ANN001
    """The consolidated statement (several centres, a month or a year): one row per statement with its
    summary, and the grand total. Informative: each statement it lists is the signed document."""
    st = _styles()
    story: list = [Paragraph("ESTADO DE CUENTA CONSOLIDADO", st["title"]),
                   Paragraph(f"{escape(title)}<br/>{escape(subtitle)} · Emitido el {fecha_larga(issued_on)}",
                             st["subtitle"])]
    rows: list[list] = [["Periodo", "Centro", "Entidad (RUC)", "N.º", "Costos comunes", "Tarifa", "Ajustes",
                         "Total"]]
    grand = {"c": Decimal("0.00"), "f": Decimal("0.00"), "a": Decimal("0.00"), "t": Decimal("0.00")}
    for s in statements:
        t = totals(s.lines)
        grand["c"] += t.common_costs
        grand["f"] += t.fee
        grand["a"] += t.adjustments
        grand["t"] += t.total
        rows.append([s.period_label, Paragraph(escape(s.centre_name), st["cell"]),
                     Paragraph(f"{escape(s.participant.name)} ({s.participant.ruc})", st["cell"]),
                     Paragraph(f"{escape(s.number)} · {s.status_label.lower()}", st["cell"]),
                     soles(t.common_costs), soles(t.fee), soles(t.adjustments), soles(t.total)])
    rows.append(["TOTAL", "", "", f"{len(statements)} estado(s)", soles(grand["c"]), soles(grand["f"]),
                 soles(grand["a"]), soles(grand["t"])])
    story += [Paragraph("RESUMEN POR ESTADO DE CUENTA", st["h"]),
              _grid(rows, [17 * mm, 24 * mm, 36 * mm, 33 * mm, 20 * mm, 16 * mm, 15 * mm, 20 * mm],
                    numeric_from=4, total_row=True),
              Spacer(1, 6),
              Paragraph("Documento informativo. Cada estado de cuenta listado es un documento firmado "
                        "digitalmente con su propio código de verificación; el detalle de cada importe y su "
                        "derivación están en él.", st["p"])]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN, title="Estado de cuenta consolidado", author="Plataforma MAC",
                            creator="Plataforma MAC", invariant=1)
    doc.build(story)
    return buffer.getvalue()
