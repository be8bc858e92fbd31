"""Demo: the demo coordinator's centre (MAC Callao) has a Novo SGA 1.x source configured, with its services
mapped to the participants' services. There is no Novo database in the embedded run (the host is a reserved
``.invalid`` name that never resolves), so its first sync fails and its health says so: what a coordinator sees
when a centre's queue server is unreachable. Idempotent."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.db import Database, TenantContext
from app.localtime import now_utc
from app.sla.sources.models import DataSource, ServiceMapping, SourceService
from app.sla.sources.secrets import encrypt
from app.sla.sources.sync import sync_source
from app.tenants.models import Centre, CentreService

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
    return [f"Fuentes de datos: fuente Novo SGA 1.x de demostración en {CENTRE} con {mapped} servicios mapeados; "
            f"sin base Novo en la demostración, su estado muestra el error: {outcome.error}"]
