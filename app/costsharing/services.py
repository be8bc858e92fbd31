"""Cost sharing use cases: one function per thing a person does, each owning its transaction.

The arithmetic is :mod:`app.costsharing.allocation` (pure); this module reads and writes the rows around it.
Isolation is PostgreSQL's (migration 0005): a participant's query simply returns only its own lines.

Public API for other domains (statements, #7): :func:`get_allocation` returns a period's stored allocation —
every line with its full derivation, the per-entity and per-category totals, what was left unallocated and the
methodology version and input hash — as the caller's tenant context is allowed to see it.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit, offload
from app.costsharing import periods as pm
from app.costsharing.allocation import (
    KEY_LABELS,
    AllocationInputError,
    Case,
    CostItem as CaseItem,
    FixedRule,
    Methodology as CaseMethodology,
    Participant as CaseParticipant,
    Period as CasePeriod,
    Vacancy,
    allocate,
    allocate_delta,
    canonical_hash,
    case_to_json,
    fraction_str,
    parse_case,
    parse_rule,
)
from app.costsharing.methodology import effective_methodology
from app.costsharing.models import (
    CATEGORIES,
    CATEGORY_LABELS,
    Adjustment,
    AllocationLine,
    Computation,
    CostItem,
    CostParticipant,
    CostPeriod,
    Observation,
    Unallocated,
)
from app.db import ROLE_ADMIN, ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_GESTOR, ROLE_SISTEMA, TenantContext, get_database
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.modules import optional_module
from app.tenants.models import Centre, Entity

LIMA = ZoneInfo("America/Lima")
PARTICIPANT_ROLES = (ROLE_GESTOR, ROLE_FINANZAS)
MAX_ATTACHMENT = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 2000


def today_lima() -> date:
    return datetime.now(LIMA).date()


# ------------------------------------------------------------------------------------------- helpers ---


async def _period(s: AsyncSession, period_id: uuid.UUID, *, lock: bool = False) -> CostPeriod:
    period = await s.get(CostPeriod, period_id, with_for_update=lock)
    if period is None:
        raise NotFound("El periodo no existe o no tiene acceso a él.")
    return period


async def _centre(s: AsyncSession, centre_id: uuid.UUID) -> Centre:
    centre = await s.get(Centre, centre_id)
    if centre is None:
        raise NotFound("El centro no existe.")
    return centre


async def _administered_centre(s: AsyncSession, ctx: TenantContext, centre_id: uuid.UUID) -> Centre:
    """The centre, when the actor is a coordinator of its administering entity (or the system)."""
    centre = await _centre(s, centre_id)
    if ctx.role in (ROLE_SISTEMA, ROLE_ADMIN):
        return centre
    if ctx.role != ROLE_COORDINADOR or centre.administering_entity_id != ctx.entity_id:
        raise Forbidden("Solo el coordinador de la entidad administradora del centro registra sus costos.")
    return centre


async def _coordinated_period(s: AsyncSession, ctx: TenantContext, period_id: uuid.UUID) -> tuple[CostPeriod, Centre]:
    period = await _period(s, period_id, lock=True)
    centre = await _administered_centre(s, ctx, period.centre_id)
    return period, centre


def _editable(period: CostPeriod) -> None:
    if period.state == pm.CERRADO:
        raise Conflict("El periodo está cerrado: no se modifica. Registre las correcciones como ajustes en un"
                       " periodo abierto posterior.", code="periodo_cerrado")
    if period.state not in pm.EDITABLE:
        raise Conflict(f"El periodo está {pm.STATE_LABELS[period.state].lower()}: ya no se modifican sus costos ni"
                       " sus participantes.", code="periodo_publicado")


async def _invalidate(s: AsyncSession, ctx: TenantContext, period: CostPeriod) -> None:
    """A change to the pool or the drivers makes a computed period a draft again."""
    if period.state == pm.CALCULADO:
        period.state = pm.check_transition("modificar", period.state, ctx.role)
        await _drop_current_lines(s, period)
        period.methodology_version = period.input_hash = None


async def _drop_current_lines(s: AsyncSession, period: CostPeriod) -> None:
    """Only the current computation keeps its lines; earlier ones keep their inputs and hashes (recomputable)."""
    await s.execute(update(Computation).where(Computation.period_id == period.id).values(is_current=False))
    await s.execute(delete(AllocationLine).where(AllocationLine.period_id == period.id,
                                                 AllocationLine.kind == "reparto"))
    await s.execute(delete(Unallocated).where(Unallocated.period_id == period.id))


def _money(value: Any, where: str, *, allow_negative: bool = False) -> Decimal:
    text = str(value if value is not None else "").strip().replace("S/", "").replace(" ", "")
    if "," in text and "." in text:
        text = text.replace(",", "")  # 1,234.56
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(f"{where}: «{value}» no es un monto válido (use 1234.56).", field=where) from None
    if not amount.is_finite():
        raise ValidationFailed(f"{where}: «{value}» no es un monto válido.", field=where)
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(f"{where}: el monto tiene más de dos decimales.", field=where)
    if amount < 0 and not allow_negative:
        raise ValidationFailed(f"{where}: el monto no puede ser negativo.", field=where)
    if abs(amount) >= Decimal("1e12"):
        raise ValidationFailed(f"{where}: el monto es demasiado grande.", field=where)
    return amount.quantize(Decimal("0.01"))


def _quantity(value: Any, where: str, *, integer: bool = False) -> Decimal:
    text = str(value if value is not None else "0").strip() or "0"
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(f"{where}: «{value}» no es un número válido.", field=where) from None
    if not number.is_finite() or number < 0:
        raise ValidationFailed(f"{where}: debe ser un número mayor o igual a cero.", field=where)
    if integer and number != number.to_integral_value():
        raise ValidationFailed(f"{where}: debe ser un número entero.", field=where)
    if number != number.quantize(Decimal("0.01")):
        raise ValidationFailed(f"{where}: use como máximo dos decimales.", field=where)
    if number >= Decimal("1e9"):
        raise ValidationFailed(f"{where}: el valor es demasiado grande.", field=where)
    return number


def _category(value: Any) -> str:
    text = unicodedata.normalize("NFKD", str(value or "")).encode("ascii", "ignore").decode().strip().lower()
    text = text.replace(" ", "_").replace("-", "_")
    aliases = {"energia_electrica": "energia", "sistema_de_colas": "sistema_colas", "colas": "sistema_colas",
               "seguridad": "vigilancia", "telefonia": "telecomunicaciones", "internet": "telecomunicaciones"}
    text = aliases.get(text, text)
    if text not in CATEGORIES:
        raise ValidationFailed(f"«{value}» no es una categoría; use una de: {', '.join(CATEGORIES)}.",
                               field="categoria")
    return text


def _attachment(upload: tuple[str, str, bytes] | None) -> tuple[str | None, str | None, bytes | None]:
    if not upload or not upload[2]:
        return None, None, None
    name, content_type, content = upload
    if len(content) > MAX_ATTACHMENT:
        raise ValidationFailed("El adjunto supera los 5 MB.", field="adjunto")
    return name[:200], (content_type or "application/octet-stream")[:100], content


# ------------------------------------------------------------------------------------------- periods ---


@dataclass
class PeriodSummary:
    period: CostPeriod
    centre_name: str
    total: Decimal
    items: int


async def list_periods(ctx: TenantContext, centre_id: uuid.UUID | None = None) -> list[PeriodSummary]:
    """The periods the actor may see (RLS): its centres' for a coordinator, all for the SGP, the published ones
    it takes part in for a participant."""
    async with get_database().transaction(ctx) as s:
        totals = (select(CostItem.period_id, func.coalesce(func.sum(CostItem.amount), 0).label("total"),
                         func.count(CostItem.id).label("n")).group_by(CostItem.period_id).subquery())
        query = (select(CostPeriod, Centre.name, totals.c.total, totals.c.n)
                 .join(Centre, Centre.id == CostPeriod.centre_id)
                 .outerjoin(totals, totals.c.period_id == CostPeriod.id)
                 .order_by(CostPeriod.starts_on.desc(), Centre.name))
        if centre_id:
            query = query.where(CostPeriod.centre_id == centre_id)
        rows = (await s.execute(query)).all()
    return [PeriodSummary(p, name, Decimal(total or 0), n or 0) for p, name, total, n in rows]


async def administered_centres(ctx: TenantContext) -> list[Centre]:
    if ctx.role not in (ROLE_COORDINADOR, ROLE_ADMIN, ROLE_SISTEMA):
        return []
    async with get_database().transaction(ctx) as s:
        query = select(Centre).where(Centre.is_active).order_by(Centre.name)
        if ctx.role == ROLE_COORDINADOR:
            query = query.where(Centre.administering_entity_id == ctx.entity_id)
        return list((await s.scalars(query)).all())


async def open_period(ctx: TenantContext, centre_id: uuid.UUID, year: int, month: int,
                      observation_days: int = pm.DEFAULT_OBSERVATION_DAYS) -> CostPeriod:
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        raise ValidationFailed("Indique un mes y un año válidos.", field="mes")
    if not (1 <= observation_days <= 60):
        raise ValidationFailed("El plazo de observaciones es de 1 a 60 días hábiles.", field="plazo")
    start, end = pm.month_bounds(year, month)
    async with get_database().transaction(ctx) as s:
        centre = await _administered_centre(s, ctx, centre_id)
        if await s.scalar(select(CostPeriod.id).where(CostPeriod.centre_id == centre.id,
                                                      CostPeriod.starts_on == start)):
            raise Conflict(f"El periodo {pm.period_label(start)} de {centre.name} ya existe.")
        period = CostPeriod(centre_id=centre.id, starts_on=start, ends_on=end, state=pm.BORRADOR,
                            observation_days=observation_days)
        s.add(period)
        await s.flush()
        await audit.record(s, ctx, action="periodo_costos_abierto", record_type="periodo_costos",
                           record_id=period.id, after={"centro": centre.code, "periodo": pm.period_label(start)})
    return period


async def set_vacancy(ctx: TenantContext, period_id: uuid.UUID, *, area_m2: Any, modules: Any,
                      advisors: Any) -> None:
    values = {"vacancy_area_m2": _quantity(area_m2, "vacancia_area_m2"),
              "vacancy_modules": _quantity(modules, "vacancia_modulos"),
              "vacancy_advisors": _quantity(advisors, "vacancia_asesores")}
    async with get_database().transaction(ctx) as s:
        period, _ = await _coordinated_period(s, ctx, period_id)
        _editable(period)
        before = {k: getattr(period, k) for k in values}
        for k, v in values.items():
            setattr(period, k, v)
        await _invalidate(s, ctx, period)
        await audit.record(s, ctx, action="vacancia_registrada", record_type="periodo_costos", record_id=period.id,
                           before=before, after=values)


# --------------------------------------------------------------------------------------------- items ---


@dataclass
class ItemInput:
    category: str
    description: str
    amount: Any
    document_ref: str = ""
    is_estimate: bool = False
    attachment: tuple[str, str, bytes] | None = None


def _item_row(period: CostPeriod, data: ItemInput, where: str = "monto") -> CostItem:
    description = (data.description or "").strip()
    if not description:
        raise ValidationFailed("Describa el costo (p. ej. «Alquiler del local, noviembre»).", field="descripcion")
    name, content_type, content = _attachment(data.attachment)
    return CostItem(period_id=period.id, centre_id=period.centre_id, category=_category(data.category),
                    description=description[:300], amount=_money(data.amount, where),
                    document_ref=(data.document_ref or "").strip()[:120], is_estimate=bool(data.is_estimate),
                    attachment_name=name, attachment_type=content_type, attachment=content)


async def add_item(ctx: TenantContext, period_id: uuid.UUID, data: ItemInput) -> CostItem:
    async with get_database().transaction(ctx) as s:
        period, _ = await _coordinated_period(s, ctx, period_id)
        _editable(period)
        item = _item_row(period, data)
        s.add(item)
        await s.flush()
        await _invalidate(s, ctx, period)
        await audit.record(s, ctx, action="costo_registrado", record_type="costo", record_id=item.id,
                           after={"categoria": item.category, "descripcion": item.description,
                                  "monto": str(item.amount), "estimado": item.is_estimate,
                                  "referencia": item.document_ref})
    return item


async def update_item_category(ctx: TenantContext, item_id: uuid.UUID, category: str) -> None:
    """Choose another key for an item (e.g. one left unallocated) by moving it to another category."""
    async with get_database().transaction(ctx) as s:
        item = await s.get(CostItem, item_id)
        if item is None:
            raise NotFound("El costo no existe.")
        period, _ = await _coordinated_period(s, ctx, item.period_id)
        _editable(period)
        before = item.category
        item.category = _category(category)
        await _invalidate(s, ctx, period)
        await audit.record(s, ctx, action="costo_recategorizado", record_type="costo", record_id=item.id,
                           before={"categoria": before}, after={"categoria": item.category})


async def delete_item(ctx: TenantContext, item_id: uuid.UUID) -> None:
    async with get_database().transaction(ctx) as s:
        item = await s.get(CostItem, item_id)
        if item is None:
            raise NotFound("El costo no existe.")
        period, _ = await _coordinated_period(s, ctx, item.period_id)
        _editable(period)
        await _invalidate(s, ctx, period)
        await audit.record(s, ctx, action="costo_eliminado", record_type="costo", record_id=item.id,
                           before={"categoria": item.category, "descripcion": item.description,
                                   "monto": str(item.amount)})
        await s.delete(item)


async def item_attachment(ctx: TenantContext, item_id: uuid.UUID) -> tuple[str, str, bytes]:
    async with get_database().transaction(ctx) as s:
        row = (await s.execute(select(CostItem.attachment_name, CostItem.attachment_type, CostItem.attachment)
                               .where(CostItem.id == item_id))).first()
    if row is None or row[2] is None:
        raise NotFound("El costo no tiene sustento adjunto o no tiene acceso a él.")
    return row[0], row[1], row[2]


@dataclass
class ImportRow:
    row: int
    ok: bool
    message: str


@dataclass
class ImportReport:
    rows: list[ImportRow]

    @property
    def imported(self) -> int:
        return sum(r.ok for r in self.rows)

    @property
    def rejected(self) -> int:
        return sum(not r.ok for r in self.rows)


IMPORT_COLUMNS = ("categoria", "descripcion", "monto", "referencia", "tipo")


def read_table(filename: str, content: bytes) -> list[dict[str, str]]:
    """Rows of a CSV (UTF-8, comma or semicolon) or XLSX file as dicts keyed by the normalised header.

    Both are read as a stream and reading stops at the row limit: a small file declaring a huge sheet is
    refused after :data:`MAX_IMPORT_ROWS` rows, not after loading them all. CPU-heavy: web code calls it
    through app.offload."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        _check_xlsx_size(content)
        try:
            sheet = load_workbook(io.BytesIO(content), read_only=True, data_only=True).active
            rows = _bounded(["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True))
        except ValidationFailed:
            raise
        except Exception:  # noqa: BLE001 - any unreadable workbook is the same problem for the user
            raise ValidationFailed("El archivo XLSX no se pudo leer.", field="archivo") from None
    elif name.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("latin-1")
        try:
            dialect = csv.Sniffer().sniff(text.split("\n", 1)[0] if text else ",", delimiters=",;")
        except csv.Error:
            dialect = csv.excel  # one column, or no delimiter in the header: the header check says what is missing
        try:
            rows = _bounded(csv.reader(io.StringIO(text.replace("\x00", "")), dialect))
        except csv.Error as exc:
            raise ValidationFailed(f"El archivo CSV está mal formado: {exc}.", field="archivo") from None
    else:
        raise ValidationFailed("Suba un archivo .csv o .xlsx.", field="archivo")
    if not rows:
        raise ValidationFailed("El archivo está vacío.", field="archivo")
    header = [unicodedata.normalize("NFKD", h).encode("ascii", "ignore").decode().strip().lower() for h in rows[0]]
    missing = [c for c in ("categoria", "descripcion", "monto") if c not in header]
    if missing:
        raise ValidationFailed(f"Faltan columnas: {', '.join(missing)}. La primera fila debe ser: "
                               f"{', '.join(IMPORT_COLUMNS)}.", field="archivo")
    return [dict(zip(header, row, strict=False)) for row in rows[1:]]


# What 2,000 rows of a few columns take once decompressed, with ample room. A sheet's XML beyond it has too many
# rows or is a zip bomb; openpyxl would decompress and scan all of it before the first row is read.
MAX_XLSX_PART_BYTES = 4 * 1024 * 1024


def _check_xlsx_size(content: bytes) -> None:
    import zipfile

    try:
        parts = zipfile.ZipFile(io.BytesIO(content)).infolist()
    except zipfile.BadZipFile:
        raise ValidationFailed("El archivo XLSX no se pudo leer.", field="archivo") from None
    if any(p.file_size > MAX_XLSX_PART_BYTES for p in parts) or sum(p.file_size for p in parts) > 4 * MAX_XLSX_PART_BYTES:
        raise ValidationFailed(f"El archivo XLSX es demasiado grande una vez descomprimido: admite hasta "
                               f"{MAX_IMPORT_ROWS} filas.", field="archivo")


def _bounded(rows: Iterable[list[str]]) -> list[list[str]]:
    """The header and the non-blank rows, refusing the file as soon as it has more than MAX_IMPORT_ROWS data rows
    (or, blank ones included, ten times as many lines)."""
    out: list[list[str]] = []
    for seen, row in enumerate(rows):
        if seen > 10 * MAX_IMPORT_ROWS or len(out) > MAX_IMPORT_ROWS + 1:
            raise ValidationFailed(f"El archivo tiene más de {MAX_IMPORT_ROWS} filas.", field="archivo")
        if not out or any(str(c).strip() for c in row):
            out.append(list(row))
    if len(out) > MAX_IMPORT_ROWS + 1:
        raise ValidationFailed(f"El archivo tiene más de {MAX_IMPORT_ROWS} filas.", field="archivo")
    return out


async def import_items(ctx: TenantContext, period_id: uuid.UUID, filename: str, content: bytes) -> ImportReport:
    """Import cost items; each row is reported (row numbers as in the file, the header being row 1). Valid
    rows are recorded, invalid ones are not, and the report says why."""
    table = await offload.run(read_table, filename, content)
    report: list[ImportRow] = []
    async with get_database().transaction(ctx) as s:
        period, _ = await _coordinated_period(s, ctx, period_id)
        _editable(period)
        for number, raw in enumerate(table, start=2):
            kind = (raw.get("tipo") or "real").strip().lower()
            try:
                if kind not in ("real", "estimado"):
                    raise ValidationFailed(f"tipo «{raw.get('tipo')}» no válido: use «real» o «estimado».")
                item = _item_row(period, ItemInput(raw.get("categoria", ""), raw.get("descripcion", ""),
                                                   raw.get("monto"), raw.get("referencia", ""), kind == "estimado"))
            except ValidationFailed as exc:
                report.append(ImportRow(number, False, exc.message))
                continue
            s.add(item)
            report.append(ImportRow(number, True, f"{CATEGORY_LABELS[item.category]}: {item.description} — "
                                                  f"S/ {item.amount:,.2f}"))
        await s.flush()
        await _invalidate(s, ctx, period)
        await audit.record(s, ctx, action="costos_importados", record_type="periodo_costos", record_id=period.id,
                           after={"archivo": filename, "importadas": sum(r.ok for r in report),
                                  "rechazadas": sum(not r.ok for r in report)})
    return ImportReport(report)


# ------------------------------------------------------------------------------------- participants ---


@dataclass
class ParticipantInput:
    ruc: str
    active_from: Any
    active_to: Any = None
    area_m2: Any = 0
    modules: Any = 0
    advisors: Any = 0
    attentions: Any = 0


def _date_field(value: Any, where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(f"{where}: «{value}» no es una fecha válida (AAAA-MM-DD).", field=where) from None


async def record_participant(ctx: TenantContext, period_id: uuid.UUID, data: ParticipantInput) -> CostParticipant:
    """Record (or update) a participant's vigente dates and driver values for the month."""
    ruc = (data.ruc or "").strip()
    async with get_database().transaction(ctx) as s:
        period, _ = await _coordinated_period(s, ctx, period_id)
        _editable(period)
        entity = await s.scalar(select(Entity).where(Entity.ruc == ruc))
        if entity is None:
            raise ValidationFailed(f"No hay una entidad registrada con RUC «{ruc}».", field="ruc")
        active_from = _date_field(data.active_from, "vigente_desde") or period.starts_on
        active_to = _date_field(data.active_to, "vigente_hasta")
        if active_to and active_to < active_from:
            raise ValidationFailed("La fecha final de vigencia es anterior a la inicial.", field="vigente_hasta")
        if active_from > period.ends_on or (active_to and active_to < period.starts_on):
            raise ValidationFailed("Las fechas de vigencia están fuera del periodo.", field="vigente_desde")
        values = {"active_from": active_from, "active_to": active_to,
                  "area_m2": _quantity(data.area_m2, "area_m2"), "modules": _quantity(data.modules, "modulos"),
                  "advisors": _quantity(data.advisors, "asesores"),
                  "attentions": int(_quantity(data.attentions, "atenciones", integer=True))}
        row = await s.scalar(select(CostParticipant).where(CostParticipant.period_id == period.id,
                                                           CostParticipant.entity_id == entity.id))
        before = None
        if row is None:
            row = CostParticipant(period_id=period.id, centre_id=period.centre_id, entity_id=entity.id,
                                  source="manual", **values)
            s.add(row)
        else:
            before = {k: getattr(row, k) for k in values}
            for k, v in values.items():
                setattr(row, k, v)
            row.source = "manual"
        await s.flush()
        await _invalidate(s, ctx, period)
        await audit.record(s, ctx, action="participante_registrado", record_type="participante_costos",
                           record_id=row.id, before=before, after={"ruc": ruc, **values})
    return row


async def remove_participant(ctx: TenantContext, participant_id: uuid.UUID) -> None:
    async with get_database().transaction(ctx) as s:
        row = await s.get(CostParticipant, participant_id)
        if row is None:
            raise NotFound("El participante no existe.")
        period, _ = await _coordinated_period(s, ctx, row.period_id)
        _editable(period)
        await _invalidate(s, ctx, period)
        await audit.record(s, ctx, action="participante_retirado", record_type="participante_costos",
                           record_id=row.id, before={"entidad": str(row.entity_id)})
        await s.delete(row)


ADHESION_IN_FORCE_STATES = ("vigente", "suspendida", "terminacion_en_tramite", "vencida", "renovada", "terminada")


async def prefill_participants(ctx: TenantContext, period_id: uuid.UUID) -> list[str]:
    """Participants from the adhesions in force during the month (dates, modules, area) and attentions from the
    ANS data, when those domains are installed. Returns what was done, line by line, in Spanish."""
    adhesion_models = optional_module("app.adhesion.models")
    sla_models = optional_module("app.sla.models")
    notes: list[str] = []
    async with get_database().transaction(ctx) as s:
        period, _ = await _coordinated_period(s, ctx, period_id)
        _editable(period)
        existing = {r.entity_id: r for r in (await s.scalars(
            select(CostParticipant).where(CostParticipant.period_id == period.id))).all()}
        if adhesion_models is None:
            notes.append("El módulo de adhesiones no está instalado: registre los participantes a mano.")
        else:
            Adhesion = adhesion_models.Adhesion  # noqa: N806
            adhesions = (await s.scalars(select(Adhesion).where(
                Adhesion.centre_id == period.centre_id, Adhesion.state.in_(ADHESION_IN_FORCE_STATES),
                Adhesion.start_date.is_not(None), Adhesion.start_date <= period.ends_on,
                (Adhesion.end_date.is_(None)) | (Adhesion.end_date >= period.starts_on)))).all()
            for a in adhesions:
                active_to = a.end_date if a.end_date and a.end_date < period.ends_on else None
                values = {"active_from": max(a.start_date, period.starts_on), "active_to": active_to,
                          "modules": Decimal(a.modules), "area_m2": Decimal(a.area_m2)}
                row = existing.get(a.entity_id)
                if row is None:
                    row = CostParticipant(period_id=period.id, centre_id=period.centre_id, entity_id=a.entity_id,
                                          advisors=Decimal(0), attentions=0, **values)
                    s.add(row)
                    existing[a.entity_id] = row
                else:
                    for k, v in values.items():
                        setattr(row, k, v)
                row.source = "adhesiones"
            notes.append(f"{len(adhesions)} adhesión(es) vigente(s) en el periodo.")
        if sla_models is not None and hasattr(sla_models, "TicketSegment") and existing:
            T = sla_models.TicketSegment  # noqa: N806
            start = datetime.combine(period.starts_on, datetime.min.time(), LIMA)
            end = datetime.combine(period.ends_on, datetime.max.time(), LIMA)
            counts = dict((await s.execute(
                select(T.entity_id, func.count()).where(T.centre_id == period.centre_id, T.issued_at >= start,
                                                        T.issued_at <= end,
                                                        T.outcome.in_(("attended", "transferred")))
                .group_by(T.entity_id))).all())
            if counts:
                for entity_id, row in existing.items():
                    row.attentions = int(counts.get(entity_id, 0))
                notes.append("Atenciones tomadas de los datos del ANS.")
            else:
                notes.append("No hay atenciones registradas en los datos del ANS: ingréselas a mano.")
        elif sla_models is None:
            notes.append("El módulo de ANS no está instalado: ingrese las atenciones a mano.")
        await s.flush()
        await _invalidate(s, ctx, period)
        await audit.record(s, ctx, action="participantes_precargados", record_type="periodo_costos",
                           record_id=period.id, after={"notas": notes})
    return notes


# ------------------------------------------------------------------------------------------- compute ---


async def _case_for(s: AsyncSession, period: CostPeriod, centre: Centre):  # noqa: ANN202
    methodology = await effective_methodology(s, period.starts_on)
    if methodology is None:
        raise Conflict(f"No hay una metodología aprobada por la SGP vigente para {pm.period_label(period.starts_on)}.",
                       code="sin_metodologia")
    rows = (await s.execute(select(CostParticipant, Entity).join(Entity, Entity.id == CostParticipant.entity_id)
                            .where(CostParticipant.period_id == period.id))).all()
    if not rows:
        raise Conflict("El periodo no tiene participantes: regístrelos o precárguelos desde las adhesiones.",
                       code="sin_participantes")
    items = (await s.scalars(select(CostItem).where(CostItem.period_id == period.id)
                             .order_by(CostItem.created_at, CostItem.id))).all()
    if not items:
        raise Conflict("El periodo no tiene costos registrados.", code="sin_costos")
    admin = await s.get(Entity, centre.administering_entity_id)
    participants = tuple(CaseParticipant(
        ruc=e.ruc, name=e.short_name, active_from=p.active_from, active_to=p.active_to,
        drivers={"area_m2": p.area_m2, "modules": p.modules, "advisors": p.advisors,
                 "attentions": Decimal(p.attentions)}) for p, e in rows)
    vacancy = Vacancy(methodology.vacancy_policy, admin.ruc,
                      {"area_m2": period.vacancy_area_m2, "modules": period.vacancy_modules,
                       "advisors": period.vacancy_advisors}, admin.short_name)
    rules = {c: parse_rule(c, r) for c, r in methodology.rules.items()}
    case = Case(CasePeriod(period.starts_on, period.ends_on), participants, vacancy,
                CaseMethodology(methodology.version, rules, methodology.rounding),
                tuple(CaseItem(str(i.id), i.category, i.amount) for i in items))
    entity_ids = {e.ruc: e.id for _, e in rows} | {admin.ruc: admin.id}
    return case, methodology, {str(i.id): i for i in items}, entity_ids


def _derivation(result, line, version: str) -> dict[str, Any]:  # noqa: ANN001
    rule = result.case.methodology.rules[line.category]
    components = []
    for c in result.derivation(line.category, line.ruc):
        components.append({
            "clave": c.key, "etiqueta": KEY_LABELS[c.key], "peso": fraction_str(c.weight, 10, min_places=0),
            "valor_registrado": str(c.driver) if c.driver is not None else None,
            "dias_vigente": c.days, "dias_periodo": c.period_days,
            "cantidad": fraction_str(c.quantity, 10, min_places=0),
            "cantidad_vacancia": fraction_str(c.vacancy_quantity, 10, min_places=0),
            "total": fraction_str(c.total, 10, min_places=0),
            "fraccion": fraction_str(c.fraction, 10, min_places=0),
            "aporte": fraction_str(c.contribution, 10, min_places=0)})
    return {"regla": "fixed" if isinstance(rule, FixedRule) else "mix", "componentes": components,
            "participacion": fraction_str(line.share, 10, min_places=0),
            "monto_exacto": fraction_str(line.exact, 10), "redondeo": fraction_str(line.rounding, 10),
            "centimo_adicional": line.extra_cent, "metodologia": version}


def _rational(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


async def compute_period(ctx: TenantContext, period_id: uuid.UUID) -> Computation:
    """Run the engine on the period's pool and drivers with the methodology in force; store the inputs, the
    methodology version, the hashes, every line with its derivation and what could not be distributed."""
    async with get_database().transaction(ctx) as s:
        period, centre = await _coordinated_period(s, ctx, period_id)
        target = pm.check_transition("calcular", period.state, ctx.role)
        case, methodology, items, entity_ids = await _case_for(s, period, centre)
        try:
            result = allocate(case)
        except AllocationInputError as exc:
            raise ValidationFailed(f"No se puede calcular: {exc.message}", code="calculo_invalido") from None
        inputs = case_to_json(case)
        output = result.to_json()
        await _drop_current_lines(s, period)
        comp = Computation(period_id=period.id, centre_id=period.centre_id, methodology_id=methodology.id,
                           methodology_version=methodology.version, inputs=inputs, input_hash=canonical_hash(inputs),
                           result_hash=canonical_hash(output), item_ids={k: str(v.id) for k, v in items.items()},
                           is_current=True, computed_by_id=ctx.user_id)
        s.add(comp)
        await s.flush()
        s.add_all(AllocationLine(
            period_id=period.id, centre_id=period.centre_id, entity_id=entity_ids[ln.ruc], kind="reparto",
            computation_id=comp.id, cost_item_id=items[ln.cost_id].id, category=ln.category,
            description=items[ln.cost_id].description, item_amount=items[ln.cost_id].amount, amount=ln.amount,
            share=_rational(ln.share), exact=_rational(ln.exact), rounding=Decimal(ln.rounding.numerator)
            / Decimal(ln.rounding.denominator), extra_cent=ln.extra_cent,
            derivation=_derivation(result, ln, methodology.version)) for ln in result.lines)
        s.add_all(Unallocated(computation_id=comp.id, period_id=period.id, centre_id=period.centre_id,
                              cost_item_id=items[u.cost_id].id, category=u.category, amount=u.amount, reason=u.reason)
                  for u in result.unallocated)
        before = period.state
        period.state, period.methodology_version, period.input_hash = target, methodology.version, comp.input_hash
        await audit.record(s, ctx, action="periodo_costos_calculado", record_type="periodo_costos",
                           record_id=period.id, before={"estado": before},
                           after={"estado": target, "metodologia": methodology.version, "hash_entrada": comp.input_hash,
                                  "hash_resultado": comp.result_hash, "lineas": len(result.lines),
                                  "no_distribuido": [u.cost_id for u in result.unallocated]})
    return comp


async def verify_computation(ctx: TenantContext, period_id: uuid.UUID) -> tuple[bool, str, str]:
    """Recompute the current computation from its stored inputs: (same result?, stored hash, recomputed hash)."""
    async with get_database().transaction(ctx) as s:
        comp = await s.scalar(select(Computation).where(Computation.period_id == period_id, Computation.is_current))
    if comp is None:
        raise NotFound("El periodo no tiene un cálculo vigente o no tiene acceso a él.")
    recomputed = canonical_hash(allocate(parse_case(comp.inputs)).to_json())
    return (recomputed == comp.result_hash and canonical_hash(comp.inputs) == comp.input_hash,
            comp.result_hash, recomputed)


async def publish_period(ctx: TenantContext, period_id: uuid.UUID, *, today: date | None = None) -> CostPeriod:
    async with get_database().transaction(ctx) as s:
        period, _ = await _coordinated_period(s, ctx, period_id)
        target = pm.check_transition("publicar", period.state, ctx.role)
        pending = (await s.execute(select(Unallocated.amount, CostItem.description)
                                   .join(Computation, Computation.id == Unallocated.computation_id)
                                   .join(CostItem, CostItem.id == Unallocated.cost_item_id, isouter=True)
                                   .where(Unallocated.period_id == period.id, Computation.is_current))).all()
        if pending:
            names = "; ".join(f"{d or 'costo'} (S/ {a:,.2f})" for a, d in pending)
            raise Conflict(f"Hay montos no distribuidos: {names}. Elija otra categoría (clave) para esos costos o"
                           " registre una decisión, y vuelva a calcular.", code="no_distribuido")
        published = today or today_lima()
        period.state, period.published_at = target, datetime.now(timezone.utc)
        period.observations_until = pm.add_working_days(published, period.observation_days)
        await audit.record(s, ctx, action="periodo_costos_publicado", record_type="periodo_costos",
                           record_id=period.id, after={"estado": target,
                                                       "observaciones_hasta": period.observations_until})
    return period


async def close_period(ctx: TenantContext, period_id: uuid.UUID, *, early: bool = False,
                       today: date | None = None) -> CostPeriod:
    """Close a published period: every observation answered, and the window over (or an explicit early close,
    recorded in the audit log)."""
    async with get_database().transaction(ctx) as s:
        period, _ = await _coordinated_period(s, ctx, period_id)
        target = pm.check_transition("cerrar", period.state, ctx.role)
        open_obs = await s.scalar(select(func.count()).select_from(Observation)
                                  .where(Observation.period_id == period.id, Observation.state == "presentada"))
        if open_obs:
            raise Conflict(f"Hay {open_obs} observación(es) sin responder: respóndalas antes de cerrar.",
                           code="observaciones_pendientes")
        now = today or today_lima()
        if period.observations_until and now <= period.observations_until and not early:
            raise Conflict(f"El plazo de observaciones vence el {period.observations_until:%d/%m/%Y}. Para cerrar antes,"
                           " marque «cerrar antes del vencimiento».", code="plazo_vigente")
        period.state, period.closed_at = target, datetime.now(timezone.utc)
        await audit.record(s, ctx, action="periodo_costos_cerrado", record_type="periodo_costos",
                           record_id=period.id, after={"estado": target, "anticipado": bool(
                               period.observations_until and now <= period.observations_until)})
    return period


# -------------------------------------------------------------------------------------- observations ---


async def file_observation(ctx: TenantContext, period_id: uuid.UUID, text: str,
                           attachment: tuple[str, str, bytes] | None = None, *,
                           today: date | None = None) -> Observation:
    if ctx.role not in PARTICIPANT_ROLES:
        raise Forbidden("Las observaciones las presenta la entidad participante (gestión o finanzas).")
    text = (text or "").strip()
    if len(text) < 10:
        raise ValidationFailed("Explique la observación (al menos 10 caracteres).", field="texto")
    name, content_type, content = _attachment(attachment)
    async with get_database().transaction(ctx) as s:
        period = await _period(s, period_id)  # RLS: only a participant of a published period sees it
        if period.state != pm.PUBLICADO:
            raise Conflict("Solo se presentan observaciones mientras el periodo está publicado.")
        if (today or today_lima()) > period.observations_until:
            raise Conflict(f"El plazo para observar venció el {period.observations_until:%d/%m/%Y}.",
                           code="plazo_vencido")
        obs = Observation(period_id=period.id, centre_id=period.centre_id, entity_id=ctx.entity_id,
                          author_id=ctx.user_id, text=text[:5000], attachment_name=name, attachment_type=content_type,
                          attachment=content, state="presentada")
        s.add(obs)
        await s.flush()
        await audit.record(s, ctx, action="observacion_presentada", record_type="observacion_costos",
                           record_id=obs.id, after={"periodo": str(period.id), "texto": obs.text})
    return obs


async def answer_observation(ctx: TenantContext, observation_id: uuid.UUID, answer: str, *, accept: bool) -> Observation:
    answer = (answer or "").strip()
    if len(answer) < 5:
        raise ValidationFailed("Escriba la respuesta a la observación.", field="respuesta")
    async with get_database().transaction(ctx) as s:
        obs = await s.get(Observation, observation_id, with_for_update=True)
        if obs is None:
            raise NotFound("La observación no existe.")
        period, _ = await _coordinated_period(s, ctx, obs.period_id)
        if period.state != pm.PUBLICADO:
            raise Conflict("Solo se responden observaciones de un periodo publicado.")
        if obs.state != "presentada":
            raise Conflict("La observación ya fue respondida.")
        obs.state = "aceptada" if accept else "rechazada"
        obs.answer, obs.answered_by_id, obs.answered_at = answer[:5000], ctx.user_id, datetime.now(timezone.utc)
        await audit.record(s, ctx, action="observacion_respondida", record_type="observacion_costos",
                           record_id=obs.id, entity_id=ctx.entity_id,
                           after={"estado": obs.state, "respuesta": obs.answer})
    return obs


async def observation_attachment(ctx: TenantContext, observation_id: uuid.UUID) -> tuple[str, str, bytes]:
    async with get_database().transaction(ctx) as s:
        row = (await s.execute(select(Observation.attachment_name, Observation.attachment_type,
                                      Observation.attachment).where(Observation.id == observation_id))).first()
    if row is None or row[2] is None:
        raise NotFound("La observación no tiene adjunto o no tiene acceso a ella.")
    return row[0], row[1], row[2]


# --------------------------------------------------------------------------------------- adjustments ---


async def _open_target(s: AsyncSession, ctx: TenantContext, target_id: uuid.UUID, source: CostPeriod) -> CostPeriod:
    target, _ = await _coordinated_period(s, ctx, target_id)
    if target.centre_id != source.centre_id or target.starts_on <= source.starts_on:
        raise ValidationFailed("El ajuste va en un periodo posterior del mismo centro.", field="periodo_destino")
    _editable(target)
    return target


async def replace_estimate(ctx: TenantContext, item_id: uuid.UUID, target_period_id: uuid.UUID, actual: Any,
                           reason: str = "") -> Adjustment:
    """An actual replaces an estimate of a closed period: the difference is split with the closed period's own
    stored basis and carried as adjustment lines by a later open period."""
    actual_amount = _money(actual, "monto_real")
    async with get_database().transaction(ctx) as s:
        item = await s.get(CostItem, item_id)
        if item is None:
            raise NotFound("El costo no existe.")
        source, _ = await _coordinated_period(s, ctx, item.period_id)
        if source.state != pm.CERRADO:
            raise Conflict("Mientras el periodo no esté cerrado, corrija el costo en el mismo periodo.")
        if not item.is_estimate:
            raise Conflict("Este costo ya es un monto real.")
        target = await _open_target(s, ctx, target_period_id, source)
        comp = await s.scalar(select(Computation).where(Computation.period_id == source.id, Computation.is_current))
        if comp is None:
            raise Conflict("El periodo cerrado no tiene un cálculo guardado.")
        delta = actual_amount - item.amount
        if delta == 0:
            raise ValidationFailed("El monto real es igual al estimado: no hay nada que ajustar.", field="monto_real")
        case = parse_case(comp.inputs)
        cost = next(c for c in case.costs if c.id == str(item.id))
        lines = allocate_delta(case, cost, delta)
        entity_ids = dict((await s.execute(select(Entity.ruc, Entity.id).where(
            Entity.ruc.in_([ln.ruc for ln in lines])))).all())
        adj = Adjustment(period_id=target.id, centre_id=target.centre_id, corrects_period_id=source.id,
                         corrects_item_id=item.id, kind="real_reemplaza_estimado", amount=delta,
                         reason=(reason or f"Monto real S/ {actual_amount:,.2f} reemplaza al estimado "
                                           f"S/ {item.amount:,.2f}").strip(), created_by_id=ctx.user_id)
        s.add(adj)
        await s.flush()
        label = f"Ajuste de {pm.period_label(source.starts_on)}: {item.description}"
        rs_result = allocate(Case(case.period, case.participants, case.vacancy, case.methodology, (cost,)))
        s.add_all(AllocationLine(
            period_id=target.id, centre_id=target.centre_id, entity_id=entity_ids[ln.ruc], kind="ajuste",
            adjustment_id=adj.id, cost_item_id=None, category=item.category, description=label[:300],
            item_amount=delta, amount=ln.amount, share=_rational(ln.share), exact=_rational(ln.exact),
            rounding=Decimal(ln.rounding.numerator) / Decimal(ln.rounding.denominator), extra_cent=ln.extra_cent,
            derivation={**_derivation(rs_result, ln, comp.methodology_version),
                        "corrige": {"periodo": pm.period_label(source.starts_on), "costo": str(item.id),
                                    "estimado": str(item.amount), "real": str(actual_amount)}})
            for ln in lines)
        await _invalidate(s, ctx, target)
        await audit.record(s, ctx, action="ajuste_real_por_estimado", record_type="ajuste_costos", record_id=adj.id,
                           after={"corrige_periodo": str(source.id), "costo": str(item.id), "diferencia": str(delta),
                                  "periodo_destino": str(target.id)})
    return adj


async def adjust_for_observation(ctx: TenantContext, observation_id: uuid.UUID, target_period_id: uuid.UUID,
                                 amount: Any, reason: str) -> Adjustment:
    """An accepted observation becomes an amount for that entity (negative: a credit) in a later open period;
    the counterpart is borne by the administering entity, so the centre's lines still add up."""
    delta = _money(amount, "monto", allow_negative=True)
    if delta == 0:
        raise ValidationFailed("Indique un monto distinto de cero.", field="monto")
    async with get_database().transaction(ctx) as s:
        obs = await s.get(Observation, observation_id)
        if obs is None:
            raise NotFound("La observación no existe.")
        source, centre = await _coordinated_period(s, ctx, obs.period_id)
        if obs.state != "aceptada":
            raise Conflict("Solo una observación aceptada da lugar a un ajuste.")
        target = await _open_target(s, ctx, target_period_id, source)
        adj = Adjustment(period_id=target.id, centre_id=target.centre_id, corrects_period_id=source.id,
                         observation_id=obs.id, entity_id=obs.entity_id, kind="observacion_aceptada", amount=delta,
                         reason=(reason or "Observación aceptada").strip(), created_by_id=ctx.user_id)
        s.add(adj)
        await s.flush()
        label = f"Ajuste por observación aceptada ({pm.period_label(source.starts_on)})"
        for entity_id, value, role in ((obs.entity_id, delta, "entidad observante"),
                                       (centre.administering_entity_id, -delta, "contrapartida: entidad administradora")):
            s.add(AllocationLine(
                period_id=target.id, centre_id=target.centre_id, entity_id=entity_id, kind="ajuste",
                adjustment_id=adj.id, category="otros", description=label, item_amount=delta, amount=value,
                share="1/1", exact=_rational(Fraction(value)), rounding=Decimal(0), extra_cent=False,
                derivation={"regla": "ajuste", "componentes": [], "participacion": "1", "monto_exacto": str(value),
                            "redondeo": "0", "centimo_adicional": False, "rol": role, "motivo": adj.reason,
                            "corrige": {"periodo": pm.period_label(source.starts_on), "observacion": str(obs.id)}}))
        await _invalidate(s, ctx, target)
        await audit.record(s, ctx, action="ajuste_por_observacion", record_type="ajuste_costos", record_id=adj.id,
                           after={"observacion": str(obs.id), "monto": str(delta), "periodo_destino": str(target.id)})
    return adj


# ----------------------------------------------------------------------------------------- read model ---


@dataclass
class LineView:
    id: uuid.UUID
    kind: str
    entity_id: uuid.UUID
    ruc: str
    entity_name: str
    cost_item_id: uuid.UUID | None
    category: str
    description: str
    item_amount: Decimal
    amount: Decimal
    share: Fraction
    exact: Fraction
    rounding: Decimal
    extra_cent: bool
    derivation: dict[str, Any]

    @property
    def share_percent(self) -> str:
        return fraction_str(self.share * 100, 7, ellipsis=False)

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)


@dataclass
class AllocationView:
    """A period's allocation as the caller may see it (participants: their own lines plus the centre's totals)."""

    period: CostPeriod
    centre: Centre
    methodology_version: str | None
    input_hash: str | None
    result_hash: str | None
    computed_at: datetime | None
    items: list[CostItem]
    lines: list[LineView]
    unallocated: list[Unallocated]
    adjustments: list[Adjustment] = field(default_factory=list)

    @property
    def pool_total(self) -> Decimal:
        return sum((i.amount for i in self.items), Decimal(0))

    @property
    def pool_by_category(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for i in self.items:
            out[i.category] += i.amount
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def totals_by_entity(self) -> dict[str, tuple[str, Decimal]]:
        out: dict[str, tuple[str, Decimal]] = {}
        for ln in self.lines:
            name, total = out.get(ln.ruc, (ln.entity_name, Decimal(0)))
            out[ln.ruc] = (name, total + ln.amount)
        return dict(sorted(out.items(), key=lambda kv: -kv[1][1]))

    def totals_by_category(self, ruc: str | None = None) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for ln in self.lines:
            if ruc is None or ln.ruc == ruc:
                out[ln.category] += ln.amount
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    @property
    def lines_total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal(0))


async def get_allocation(ctx: TenantContext, period_id: uuid.UUID) -> AllocationView:
    """The stored allocation of a period — the API the statements (#7) build on.

    Lines are those of the current computation (``kind="reparto"``) plus the adjustments carried by this period
    (``kind="ajuste"``), each with ``derivation``: the rule, and per key its weight, the entity's recorded value,
    vigente days, its quantity, the vacancy charged to it, the total, its fraction and contribution; then the
    exact share, the exact amount, the rounding and whether it received a remaining céntimo. RLS decides what
    the caller sees: a participant gets only its own lines, with the centre's items and totals.
    """
    async with get_database().transaction(ctx) as s:
        period = await _period(s, period_id)
        centre = await _centre(s, period.centre_id)
        comp = (await s.execute(select(Computation.id, Computation.result_hash, Computation.created_at)
                                .where(Computation.period_id == period.id, Computation.is_current))).first() \
            if ctx.role not in PARTICIPANT_ROLES else None
        items = list((await s.scalars(select(CostItem).where(CostItem.period_id == period.id)
                                      .order_by(CostItem.category, CostItem.created_at))).all())
        rows = (await s.execute(select(AllocationLine, Entity.ruc, Entity.short_name)
                                .join(Entity, Entity.id == AllocationLine.entity_id)
                                .where(AllocationLine.period_id == period.id)
                                .order_by(AllocationLine.kind.desc(), AllocationLine.category, Entity.ruc))).all()
        unallocated = list((await s.scalars(select(Unallocated).where(Unallocated.period_id == period.id))).all())
        adjustments = list((await s.scalars(select(Adjustment).where(Adjustment.period_id == period.id)
                                            .order_by(Adjustment.created_at))).all())
    lines = [LineView(ln.id, ln.kind, ln.entity_id, ruc, name, ln.cost_item_id, ln.category, ln.description,
                      ln.item_amount, ln.amount, Fraction(ln.share), Fraction(ln.exact), ln.rounding, ln.extra_cent,
                      ln.derivation) for ln, ruc, name in rows]
    return AllocationView(period, centre, period.methodology_version, period.input_hash,
                          comp[1] if comp else None, comp[2] if comp else None, items, lines, unallocated, adjustments)


@dataclass
class PeriodDetail:
    period: CostPeriod
    centre: Centre
    participants: list[tuple[CostParticipant, Entity]]
    observations: list[tuple[Observation, str]]
    later_open_periods: list[CostPeriod]


async def get_period_detail(ctx: TenantContext, period_id: uuid.UUID) -> PeriodDetail:
    async with get_database().transaction(ctx) as s:
        period = await _period(s, period_id)
        centre = await _centre(s, period.centre_id)
        participants = list((await s.execute(
            select(CostParticipant, Entity).join(Entity, Entity.id == CostParticipant.entity_id)
            .where(CostParticipant.period_id == period.id).order_by(Entity.short_name))).all())
        observations = list((await s.execute(
            select(Observation, Entity.short_name).join(Entity, Entity.id == Observation.entity_id)
            .where(Observation.period_id == period.id).order_by(Observation.created_at))).all())
        later = list((await s.scalars(select(CostPeriod).where(
            CostPeriod.centre_id == period.centre_id, CostPeriod.starts_on > period.starts_on,
            CostPeriod.state.in_(pm.EDITABLE)).order_by(CostPeriod.starts_on))).all())
    return PeriodDetail(period, centre, participants, observations, later)


async def entity_choices(ctx: TenantContext) -> list[Entity]:
    async with get_database().transaction(ctx) as s:
        return list((await s.scalars(select(Entity).where(Entity.is_active, ~Entity.is_rector)
                                     .order_by(Entity.short_name))).all())

