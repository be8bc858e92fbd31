"""The source registry: what a coordinator (or the platform administrator) does with a centre's Novo SGA
sources: register and edit one, test its connection, map its services, ask for a sync now, look at its
history and health. One function per use case, owning its transaction; the CLI shares the helpers."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.auth.actor import Actor
from app.db import Database, TenantContext
from app.errors import Conflict, NotFound, ValidationFailed
from app.localtime import now_utc, today_lima
from app.sla.services import administered_centre
from app.sla.sources import connector, mapping
from app.sla.sources.models import DataSource, ServiceMapping, SourceService, SyncRun
from app.sla.sources.secrets import encrypt
from app.sla.sources.sync import (
    address_of,
    catalogue,
    mapping_entries,
    opening_span,
    store_catalogue,
    zone_warning,
)
from app.tenants.models import Centre, CentreService, Entity

SYNC_JOB = "sla_sync_source"
HEALTH_LAG_MINUTES = 30  # a source whose last successful sync is older than this is «atrasada»
ZONES = frozenset(available_timezones())


# ------------------------------------------------------------------------------------------ parsing ---


def _text(form: dict[str, Any], name: str, label: str, limit: int, *, required: bool = True) -> str:
    value = str(form.get(name) or "").strip()
    if "\x00" in value:
        raise ValidationFailed(f"{label}: contiene caracteres no válidos.", field=name)
    if required and not value:
        raise ValidationFailed(f"Ingrese {label}.", field=name)
    if len(value) > limit:
        raise ValidationFailed(f"{label[0].upper()}{label[1:]} tiene más de {limit} caracteres.", field=name)
    return value


def _int(form: dict[str, Any], name: str, label: str, lo: int, hi: int, *, default: int | None = None) -> int | None:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise ValidationFailed(f"{label} debe ser un número entero de {lo} a {hi} (se recibió «{raw[:20]}»).",
                               field=name)
    return int(raw)


def _zone(form: dict[str, Any]) -> str:
    zone = str(form.get("zona_horaria") or "America/Lima").strip()
    if zone not in ZONES:
        raise ValidationFailed(f"«{zone[:64]}» no es una zona horaria IANA (p. ej. America/Lima).",
                               field="zona_horaria")
    return zone


def _checked(form: dict[str, Any], name: str) -> bool:
    """An HTML checkbox: sent when ticked, absent when not."""
    return str(form.get(name) or "").strip().lower() in ("1", "on", "true", "si", "sí")


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"«{value[:20]}» no es una fecha AAAA-MM-DD.", field=field) from None


@dataclass(frozen=True)
class SourceData:
    name: str
    version: int
    host: str
    port: int
    database: str
    username: str
    password: str | None  # None on an edit: keep the stored one
    unidade_id: int | None
    time_zone: str
    reread_days: int
    enabled: bool


def parse_source(form: dict[str, Any], *, creating: bool) -> SourceData:
    version = _int(form, "version", "La versión de Novo SGA", 1, 2)
    if version is None:
        raise ValidationFailed("Indique la versión de Novo SGA (1 o 2).", field="version")
    host = _text(form, "host", "el servidor (host)", 255)
    if any(c.isspace() for c in host) or "/" in host:
        raise ValidationFailed(f"«{host[:60]}» no es un nombre de servidor o dirección IP.", field="host")
    password = str(form.get("clave") or "")
    if creating and not password:
        raise ValidationFailed("Ingrese la contraseña del usuario de solo lectura.", field="clave")
    if len(password) > 200 or "\x00" in password:
        raise ValidationFailed("La contraseña no es válida (máximo 200 caracteres).", field="clave")
    return SourceData(
        name=_text(form, "nombre", "un nombre para la fuente", 80), version=version, host=host,
        port=_int(form, "puerto", "El puerto", 1, 65535, default=3306) or 3306,
        database=_text(form, "base", "el nombre de la base de datos", 64),
        username=_text(form, "usuario", "el usuario de solo lectura", 80), password=password or None,
        unidade_id=_int(form, "unidad", "La unidad de Novo", 1, 2_147_483_647),
        time_zone=_zone(form), reread_days=_int(form, "dias_relectura", "Los días de relectura", 0, 31, default=3) or 0,
        enabled=_checked(form, "activa"))


# ---------------------------------------------------------------------------------------- reading ---


async def _source(s: AsyncSession, actor: Actor | None, source_id: uuid.UUID) -> tuple[DataSource, Centre]:
    source = await s.get(DataSource, source_id)
    if source is None:
        raise NotFound("La fuente de datos no existe.")
    centre = await administered_centre(s, actor, source.centre_id) if actor else await s.get(Centre, source.centre_id)
    return source, centre


@dataclass
class Health:
    state: str  # al_dia, atrasada, con_error, sin_sincronizar, desactivada
    label: str
    last_success_at: datetime | None
    lag_minutes: int | None  # since the last successful sync
    data_lag_minutes: int | None  # since the latest arrival read


def health_of(source: DataSource, now: datetime | None = None) -> Health:
    now = now or now_utc()
    lag = int((now - source.last_success_at).total_seconds() // 60) if source.last_success_at else None
    data_lag = int((now - source.watermark).total_seconds() // 60) if source.watermark else None
    if not source.enabled:
        state, label = "desactivada", "Desactivada: el trabajador no la sincroniza."
    elif source.last_error and (source.last_success_at is None or source.last_attempt_at
                                and source.last_attempt_at > source.last_success_at):
        state, label = "con_error", f"Con error: {source.last_error}"
    elif source.last_success_at is None:
        state, label = "sin_sincronizar", "Aún no se ha sincronizado."
    elif lag is not None and lag > HEALTH_LAG_MINUTES:
        state, label = "atrasada", f"Atrasada: última sincronización exitosa hace {lag} min."
    else:
        state, label = "al_dia", f"Última sincronización exitosa hace {lag} min."
    return Health(state, label, source.last_success_at, lag, data_lag)


@dataclass
class MappingRow:
    entry: ServiceMapping
    ruc: str
    entity_name: str
    novo_name: str


@dataclass
class SourceView:
    source: DataSource
    centre: Centre
    health: Health
    mappings: list[MappingRow]
    catalogue: list[SourceService]
    unmapped: list[dict]  # services seen unmapped in the latest runs and still without a mapping today
    runs: list[SyncRun]
    services: list[tuple[str, str, str, str]]  # (ruc, entity name, service code, service name) at the centre


@dataclass
class CentreSources:
    centre: Centre
    sources: list[tuple[DataSource, Health]]
    runs: list[SyncRun]  # the centre's latest runs of every feed (Novo SGA syncs, imports of the national export)


async def list_sources(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID) -> CentreSources:
    async with db.transaction(actor.context(ip)) as s:
        centre = await administered_centre(s, actor, centre_id)
        rows = (await s.scalars(select(DataSource).where(DataSource.centre_id == centre_id)
                                .order_by(DataSource.name))).all()
        runs = (await s.scalars(select(SyncRun).where(SyncRun.centre_id == centre_id)
                                .order_by(SyncRun.started_at.desc()).limit(20))).all()
        return CentreSources(centre, [(r, health_of(r)) for r in rows], list(runs))


async def centre_services(s: AsyncSession, centre_id: uuid.UUID) -> list[tuple[str, str, str, str]]:
    rows = (await s.execute(select(Entity.ruc, Entity.name, CentreService.code, CentreService.name)
                            .join(Entity, Entity.id == CentreService.entity_id)
                            .where(CentreService.centre_id == centre_id)
                            .order_by(Entity.name, CentreService.code))).all()
    return [tuple(r) for r in rows]


async def source_view(db: Database, actor: Actor, *, ip: str | None, source_id: uuid.UUID) -> SourceView:
    async with db.transaction(actor.context(ip)) as s:
        source, centre = await _source(s, actor, source_id)
        rows = (await s.execute(
            select(ServiceMapping, Entity.ruc, Entity.name).join(Entity, Entity.id == ServiceMapping.entity_id)
            .where(ServiceMapping.source_id == source_id)
            .order_by(ServiceMapping.novo_service_id, ServiceMapping.valid_from))).all()
        cat = list((await s.scalars(select(SourceService).where(SourceService.source_id == source_id)
                                    .order_by(SourceService.novo_service_id))).all())
        names = {c.novo_service_id: c.name for c in cat}
        runs = list((await s.scalars(select(SyncRun).where(SyncRun.source_id == source_id)
                                     .order_by(SyncRun.started_at.desc()).limit(30))).all())
        entries = await mapping_entries(s, source_id)
        macro_of = {c.novo_service_id: c.macro_id for c in cat}
        today = today_lima()
        seen: dict[int, dict] = {}
        for run in runs[:5]:
            for item in run.unmapped_services or []:
                sid = int(item["servicio"])
                if sid not in seen and mapping.resolve(entries, macro_of, sid, today) is None:
                    seen[sid] = {**item, "nombre": item.get("nombre") or names.get(sid, "")}
        return SourceView(source=source, centre=centre, health=health_of(source),
                          mappings=[MappingRow(m, ruc, name, names.get(m.novo_service_id, "")) for m, ruc, name in rows],
                          catalogue=cat, unmapped=sorted(seen.values(), key=lambda d: d["servicio"]), runs=runs,
                          services=await centre_services(s, source.centre_id))


async def sync_run(db: Database, actor: Actor, *, ip: str | None, run_id: uuid.UUID) -> tuple[SyncRun, Centre]:
    async with db.transaction(actor.context(ip)) as s:
        run = await s.get(SyncRun, run_id)
        if run is None:
            raise NotFound("La sincronización no existe.")
        return run, await administered_centre(s, actor, run.centre_id)


# ----------------------------------------------------------------------------------------- writing ---


async def _unique_name(s: AsyncSession, centre_id: uuid.UUID, name: str, except_id: uuid.UUID | None = None) -> None:
    q = select(DataSource.id).where(DataSource.centre_id == centre_id, DataSource.name == name)
    if except_id:
        q = q.where(DataSource.id != except_id)
    if await s.scalar(q):
        raise Conflict(f"Ya hay una fuente llamada «{name}» en este centro.", field="nombre")


async def register_source(db: Database, actor: Actor, *, ip: str | None, centre_id: uuid.UUID,
                          form: dict[str, Any]) -> uuid.UUID:
    data = parse_source(form, creating=True)
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        centre = await administered_centre(s, actor, centre_id)
        await _unique_name(s, centre_id, data.name)
        source = DataSource(centre_id=centre_id, kind="novosga", name=data.name, version=data.version, host=data.host,
                            port=data.port, database=data.database, username=data.username,
                            password_encrypted=encrypt(data.password or ""), unidade_id=data.unidade_id,
                            time_zone=data.time_zone, enabled=data.enabled, reread_days=data.reread_days,
                            created_by=actor.user_id)
        s.add(source)
        await s.flush()
        await audit.record(s, ctx, action="ans_fuente_registrada", record_type="fuente_datos", record_id=source.id,
                           after=_public(source), entity_id=centre.administering_entity_id)
        return source.id


def _public(source: DataSource) -> dict:
    """What the audit log keeps of a source: never the password."""
    return {"nombre": source.name, "version": source.version, "host": source.host, "puerto": source.port,
            "base": source.database, "usuario": source.username, "unidad": source.unidade_id,
            "zona_horaria": source.time_zone, "activa": source.enabled, "dias_relectura": source.reread_days}


async def update_source(db: Database, actor: Actor, *, ip: str | None, source_id: uuid.UUID,
                        form: dict[str, Any]) -> None:
    data = parse_source(form, creating=False)
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        source, centre = await _source(s, actor, source_id)
        await _unique_name(s, source.centre_id, data.name, except_id=source.id)
        before = _public(source)
        for attr, value in (("name", data.name), ("version", data.version), ("host", data.host), ("port", data.port),
                            ("database", data.database), ("username", data.username),
                            ("unidade_id", data.unidade_id), ("time_zone", data.time_zone),
                            ("reread_days", data.reread_days), ("enabled", data.enabled)):
            setattr(source, attr, value)
        if data.password:
            source.password_encrypted = encrypt(data.password)
        await audit.record(s, ctx, action="ans_fuente_modificada", record_type="fuente_datos", record_id=source.id,
                           before=before, after={**_public(source), "clave_cambiada": bool(data.password)},
                           entity_id=centre.administering_entity_id)


@dataclass
class ConnectionTest:
    ok: bool
    message: str
    server: str = ""
    services: int = 0
    live_rows: int = 0
    archived_rows: int = 0
    warning: str | None = None


async def probe_connection(db: Database, actor: Actor | None, *, ip: str | None, source_id: uuid.UUID,
                          ctx: TenantContext | None = None) -> ConnectionTest:
    """Connect read-only, count the tables, refresh the service catalogue and check the zone against the
    arrivals of the last 30 days."""
    ctx = ctx or actor.context(ip)
    async with db.transaction(ctx) as s:
        source, _centre = await _source(s, actor, source_id)
        zone = ZoneInfo(source.time_zone)
        since = datetime.combine(today_lima() - timedelta(days=30), datetime.min.time())
        try:
            address = address_of(source)
            probe, snapshot_services = await asyncio.to_thread(_probe_and_services, address, since)
        except (connector.SourceUnavailable, ValueError) as exc:
            source.last_error = str(exc)
            source.last_attempt_at = now_utc()
            return ConnectionTest(ok=False, message=str(exc))
        await store_catalogue(s, source, snapshot_services)
        warning = zone_warning(probe.arrivals_by_hour, zone, await opening_span(s, source.centre_id))
        return ConnectionTest(ok=True, message=f"Conexión de solo lectura correcta ({probe.server}).",
                              server=probe.server, services=probe.services, live_rows=probe.live_rows,
                              archived_rows=probe.archived_rows, warning=warning)


def _probe_and_services(address: connector.SourceAddress, since: datetime):  # noqa: ANN202
    probe = connector.probe(address, since)
    with connector.read_only_session(address) as cur:
        cur.execute("SELECT id, macro_id, nome FROM servicos")
        services = [(int(i), m, str(n)) for i, m, n in cur.fetchall()]
    return probe, services


@dataclass(frozen=True)
class MappingData:
    novo_service_id: int
    includes_children: bool
    ruc: str
    service_code: str
    valid_from: date


def parse_mapping(form: dict[str, Any]) -> MappingData:
    raw = str(form.get("servicio_novo") or "").strip()
    children = raw.endswith("*")
    number = raw.rstrip("*").strip()
    if not number.isdigit() or not 0 < int(number) < 2_147_483_648:
        raise ValidationFailed(f"«{raw[:20]}» no es el número de un servicio de Novo (servicos.id).",
                               field="servicio_novo")
    children = children or _checked(form, "incluye_subservicios")
    ruc = _text(form, "ruc", "el RUC de la entidad", 11)
    code = _text(form, "servicio", "el código del servicio de la entidad", 30)
    desde = str(form.get("desde") or "").strip()
    return MappingData(int(number), children, ruc, code, _day(desde, "desde") if desde else today_lima())


async def _add_mapping(s: AsyncSession, ctx: TenantContext, source: DataSource, data: MappingData,
                       entity_for_audit: uuid.UUID | None) -> ServiceMapping | None:
    """Store a new version (None when the mapping in force already says exactly this)."""
    entity = await s.scalar(select(Entity).where(Entity.ruc == data.ruc))
    offered = entity and await s.scalar(select(CentreService.id).where(
        CentreService.centre_id == source.centre_id, CentreService.entity_id == entity.id,
        CentreService.code == data.service_code))
    if entity is None:
        raise ValidationFailed(f"No hay una entidad con RUC {data.ruc}.", field="ruc")
    if not offered:
        raise ValidationFailed(f"La entidad {data.ruc} no ofrece el servicio «{data.service_code}» en este centro.",
                               field="servicio")
    entries = await mapping_entries(s, source.id)
    macro_of, names = await catalogue(s, source.id)
    new = mapping.MapEntry(data.novo_service_id, data.includes_children, entity.id, data.ruc, data.service_code,
                           data.valid_from)
    latest = max((e for e in entries if e.novo_service_id == data.novo_service_id), key=lambda e: e.valid_from,
                 default=None)
    if latest and (latest.entity_id, latest.service_code, latest.includes_children) == (
            entity.id, data.service_code, data.includes_children) and latest.valid_to is None:
        return None
    try:
        closed, new = mapping.add_version(entries, new, macro_of, names)
    except mapping.MappingRefused as exc:
        raise ValidationFailed(exc.message, field=exc.field) from None
    if closed is not None:
        row = await s.scalar(select(ServiceMapping).where(ServiceMapping.source_id == source.id,
                                                          ServiceMapping.novo_service_id == closed.novo_service_id,
                                                          ServiceMapping.valid_from == closed.valid_from))
        row.valid_to = closed.valid_to
    row = ServiceMapping(source_id=source.id, centre_id=source.centre_id, novo_service_id=new.novo_service_id,
                         includes_children=new.includes_children, entity_id=entity.id, service_code=new.service_code,
                         valid_from=new.valid_from, version=new.version, created_by=ctx.user_id)
    s.add(row)
    await s.flush()
    await audit.record(s, ctx, action="ans_fuente_mapeo", record_type="fuente_datos", record_id=source.id,
                       after={"servicio_novo": new.novo_service_id, "incluye_subservicios": new.includes_children,
                              "ruc": data.ruc, "servicio": new.service_code, "desde": new.valid_from,
                              "version": new.version}, entity_id=entity_for_audit)
    return row


async def add_mapping(db: Database, actor: Actor, *, ip: str | None, source_id: uuid.UUID,
                      form: dict[str, Any]) -> ServiceMapping:
    data = parse_mapping(form)
    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        source, centre = await _source(s, actor, source_id)
        row = await _add_mapping(s, ctx, source, data, centre.administering_entity_id)
        if row is None:
            raise ValidationFailed(f"El servicio {data.novo_service_id} de Novo ya está mapeado así.",
                                   field="servicio")
        return row


async def request_sync(db: Database, actor: Actor, *, ip: str | None, source_id: uuid.UUID) -> None:
    """«Sincronizar ahora»: a message to the worker through the outbox (never sent from the request)."""
    from app.worker.outbox import enqueue_in_transaction

    ctx = actor.context(ip)
    async with db.transaction(ctx) as s:
        source, centre = await _source(s, actor, source_id)
        await enqueue_in_transaction(s, SYNC_JOB, str(source.id), entity_id=centre.administering_entity_id)


# --------------------------------------------------------------------------------- the command line ---


def parse_mapping_csv(data: bytes, default_from: date) -> list[MappingData]:
    """``servicio_novo,ruc,servicio[,desde]`` (a trailing * on servicio_novo: with its sub-services)."""
    try:
        body = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("El archivo de mapeo debe estar en UTF-8.", field="mapa") from None
    reader = csv.reader(io.StringIO(body), delimiter=";" if body.split("\n", 1)[0].count(";") else ",")
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:3] != ["servicio_novo", "ruc", "servicio"] or len(header) > 4 or header[3:] not in ([], ["desde"]):
        raise ValidationFailed("El mapa debe tener el encabezado servicio_novo,ruc,servicio (y opcionalmente desde).",
                               field="mapa")
    rows = []
    for n, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        form = dict(zip(header, values, strict=False))
        form.setdefault("desde", "")
        if not form["desde"].strip():
            form["desde"] = default_from.isoformat()
        try:
            rows.append(parse_mapping(form))
        except ValidationFailed as exc:
            raise ValidationFailed(f"Mapa, línea {n}: {exc.message}", field="mapa") from None
    return rows


async def console_source(db: Database, *, centre_code: str, dsn: str, version: int, zone: str | None,
                         mapping_csv: bytes | None, default_from: date) -> uuid.UUID:
    """The source a console sync uses: the centre's source with the same server, base and user (its password
    and zone refreshed), else a new one; the mapping file's rows are added as new versions where they change
    something."""
    try:
        address = connector.parse_dsn(dsn, version=version)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="dsn") from None
    if zone is not None and zone not in ZONES:
        raise ValidationFailed(f"«{zone}» no es una zona horaria IANA (p. ej. America/Lima).", field="zona")
    rows = parse_mapping_csv(mapping_csv, default_from) if mapping_csv is not None else []
    ctx = TenantContext.system()
    async with db.transaction(ctx) as s:
        centre = await s.scalar(select(Centre).where(Centre.code == centre_code))
        if centre is None:
            raise NotFound(f"No existe un centro con código {centre_code}.")
        source = await s.scalar(select(DataSource).where(
            DataSource.centre_id == centre.id, DataSource.host == address.host, DataSource.port == address.port,
            DataSource.database == address.database, DataSource.username == address.username))
        if source is None:
            source = DataSource(centre_id=centre.id, kind="novosga",
                                name=f"{address.host}:{address.port}/{address.database}"[:80], version=version,
                                host=address.host, port=address.port, database=address.database,
                                username=address.username, password_encrypted=encrypt(address.password),
                                time_zone=zone or "America/Lima", enabled=False, reread_days=3)
            s.add(source)
            await s.flush()
            await audit.record(s, ctx, action="ans_fuente_registrada", record_type="fuente_datos",
                               record_id=source.id, after={**_public(source), "origen": "consola"},
                               entity_id=centre.administering_entity_id)
        else:
            source.password_encrypted = encrypt(address.password)
            source.version = version
            if zone:
                source.time_zone = zone
        for data in rows:
            await _add_mapping(s, ctx, source, data, centre.administering_entity_id)
        return source.id
