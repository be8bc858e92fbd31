"""Demo: the demo coordinator's centre (MAC Callao) has a Novo SGA 1.x source configured, with its services
mapped to the participants' services. There is no Novo database in the embedded run (the host is a reserved
``.invalid`` name that never resolves), so its first sync fails and its health says so: what a coordinator sees
when a centre's queue server is unreachable. Its sync history also shows a run of the national «detalle de
atenciones» export, seeded through the same import a coordinator's upload goes through. Idempotent."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.db import Database, TenantContext
from app.localtime import now_utc, today_lima
from app.sla.sources.imports import FORMATS, import_source
from app.sla.sources.models import DataSource, ServiceMapping, SourceService
from app.sla.sources.secrets import encrypt
from app.sla.sources.sync import sync_source
from app.tenants.models import Centre, CentreService, Entity

CENTRE = "MAC-CALLAO"
NAME = "Novo SGA del centro (demostración)"
FROM = date(2020, 1, 1)


async def load_demo(db: Database) -> list[str]:
    async with db.transaction(TenantContext.system()) as s:
        centre = await s.scalar(select(Centre).where(Centre.code == CENTRE))
        if centre is None:
            return ["Fuentes de datos: no existe el centro de demostración MAC-CALLAO; se omite la fuente Novo SGA."]
        if await s.scalar(select(DataSource.id).where(DataSource.centre_id == centre.id, DataSource.name == NAME)):
            return ["Fuentes de datos: la fuente Novo SGA de demostración ya estaba configurada."]
        source = DataSource(centre_id=centre.id, kind="novosga", name=NAME, version=1,
                            host="novosga.mac-callao.invalid", port=3306, database="novosga", username="lector_mac",
                            password_encrypted=encrypt("solo-lectura-demo"), time_zone="America/Lima", enabled=True,
                            reread_days=3)
        s.add(source)
        await s.flush()
        services = (await s.scalars(select(CentreService).where(CentreService.centre_id == centre.id)
                                    .order_by(CentreService.entity_id, CentreService.code))).all()
        for n, service in enumerate(services, start=1):
            s.add(SourceService(source_id=source.id, centre_id=centre.id, novo_service_id=n, macro_id=None,
                                name=service.name[:250], seen_at=now_utc()))
            s.add(ServiceMapping(source_id=source.id, centre_id=centre.id, novo_service_id=n,
                                 includes_children=False, entity_id=service.entity_id, service_code=service.code,
                                 valid_from=FROM, version=1))
        source_id, mapped = source.id, len(services)
    outcome = await sync_source(db, source_id, trigger="manual")
    read = await _seed_national_export(db)
    return [f"Fuentes de datos: fuente Novo SGA 1.x de demostración en {CENTRE} con {mapped} servicios mapeados; "
            f"sin base Novo en la demostración, su estado muestra el error: {outcome.error}",
            f"Fuentes de datos: exportación nacional «detalle de atenciones» de ayer importada en {CENTRE} "
            f"({read} filas leídas), en su historial de sincronizaciones."]


EXPORT_HEADER = ("IDENTIFICADOR UNICO;NOMBRE MAC;NOMBRE ENTIDAD;SERVICIO;HORA DE LLEGADA;HORA DE LLAMADO;"
                 "TIEMPO ESPERA;HORA INICIO;TIEMPO PROMEDIO;FIN DE ATENCION;TIEMPO TOTAL;N° DE MODULO;"
                 "NUMERO DE TICKET;ESTADO ATENCION;FECHA;MODALIDAD;TIPO DE ATENCION;N° DE DOCUMENTO")
# (ticket, llegada, llamado, inicio, fin, estado): one of each outcome the import distinguishes.
EXPORT_ROWS = (
    ("D-101", "08:05:10", "08:12:40", "08:13:05", "08:24:30", "Terminado"),
    ("D-102", "08:20:00", "08:31:15", "08:31:40", "", "Atención Cerrada"),
    ("D-103", "08:40:00", "09:05:00", "", "", "Abandono"),
    ("D-104", "09:00:00", "", "", "", "Cancelado"),
    ("D-105", "09:10:00", "09:15:00", "09:15:30", "09:18:00", "Error de selección"),
    ("D-105", "09:18:30", "09:30:00", "09:30:20", "09:41:00", "Terminado"),
)


async def _seed_national_export(db: Database) -> int:
    """Yesterday's national export for the demo centre: a few rows per outcome, for the first two services."""
    day = today_lima() - timedelta(days=1)
    async with db.transaction(TenantContext.system()) as s:
        centre = await s.scalar(select(Centre).where(Centre.code == CENTRE))
        services = (await s.execute(select(Entity.name, CentreService.name)
                                    .join(Entity, Entity.id == CentreService.entity_id)
                                    .where(CentreService.centre_id == centre.id)
                                    .order_by(Entity.name, CentreService.code).limit(2))).all()
        if not services:
            return 0
        lines = [EXPORT_HEADER]
        for n, (ticket, arrival, called, start, end, state) in enumerate(EXPORT_ROWS):
            entity, service = services[min(n // 4, len(services) - 1)] if ticket != "D-105" else services[-1]
            lines.append(";".join([f"DEMO-{n + 1}", centre.name, entity, service, arrival, called, "", start, "",
                                   end, "", "", ticket, state, day.strftime("%d/%m/%Y"), "PRESENCIAL", "TRAMITE",
                                   ""]))
        lines.append(";".join(["DEMO-X", centre.name, services[0][0], "Servicio aún no registrado", "10:00:00",
                               "10:05:00", "", "10:06:00", "", "10:10:00", "", "", "D-199", "Terminado",
                               day.strftime("%d/%m/%Y"), "PRESENCIAL", "TRAMITE", ""]))
        result, _report = await import_source(s, TenantContext.system(), centre, FORMATS["detalle"],
                                              ("\n".join(lines) + "\n").encode(), "detalle-atenciones-demo.csv",
                                              "archivo")
    return result.counts["leidos"]
