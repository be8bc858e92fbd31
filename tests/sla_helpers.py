"""A small Centro MAC for the ANS tests: an administering entity with a coordinator, two participants (each
with a manager and services), modules, opening hours, limits, module assignments and an accepted ANS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal

from app.db import Database, TenantContext
from app.sla.models import Ans, AnsTarget, ModuleAssignment, ServiceLimitRow
from app.tenants.models import CentreModule, CentreOpeningHours, CentreService
from tests.factories import Tenant, TenantFactory


@dataclass
class SlaWorld:
    admin: Tenant  # administering entity, with the centre and a coordinator
    reniec: Tenant  # participant with service DNI on module M01
    sunat: Tenant  # participant with service RUC on module M02

    @property
    def centre_id(self):  # noqa: ANN201
        return self.admin.centre.id

    def coordinator(self) -> TenantContext:
        return self.admin.ctx("coordinador_centro")


async def build_world(db: Database, tenants: TenantFactory, *, password_hash: str | None = None,
                      all_week: bool = False, targets: dict[str, tuple[str, str, int]] | None = None,
                      admin_roles: tuple[str, ...] = ("coordinador_centro", "gestor_entidad")) -> SlaWorld:
    admin = await tenants.create(roles=admin_roles, with_centre=True, password_hash=password_hash)
    reniec = await tenants.create(roles=("gestor_entidad", "finanzas"), password_hash=password_hash)
    sunat = await tenants.create(roles=("gestor_entidad",), password_hash=password_hash)
    centre_id = admin.centre.id
    targets = targets or {"espera": (">=", "0.80", 1), "abandono": ("<=", "0.20", 1)}
    async with db.transaction(TenantContext.system()) as s:
        days = range(7) if all_week else range(6)
        for d in days:
            closes = time(16, 45) if d < 5 else time(13, 45)
            if all_week:
                s.add(CentreOpeningHours(centre_id=centre_id, weekday=d, opens_at=time(0, 0), closes_at=time(23, 59),
                                         valid_from=date(2020, 1, 1)))
            else:
                s.add(CentreOpeningHours(centre_id=centre_id, weekday=d, opens_at=time(8, 0), closes_at=closes,
                                         valid_from=date(2020, 1, 1)))
        s.add_all([CentreModule(centre_id=centre_id, code="M01"), CentreModule(centre_id=centre_id, code="M02")])
        s.add_all([CentreService(centre_id=centre_id, entity_id=reniec.entity.id, code="DNI", name="Duplicado de DNI"),
                   CentreService(centre_id=centre_id, entity_id=sunat.entity.id, code="RUC", name="Inscripción RUC")])
        s.add_all([ServiceLimitRow(centre_id=centre_id, entity_id=reniec.entity.id, service_code="DNI",
                                   max_wait_minutes=20, max_attention_minutes=15, counts=True,
                                   valid_from=date(2020, 1, 1)),
                   ServiceLimitRow(centre_id=centre_id, entity_id=sunat.entity.id, service_code="RUC",
                                   max_wait_minutes=30, max_attention_minutes=20, counts=True,
                                   valid_from=date(2020, 1, 1))])
        s.add_all([ModuleAssignment(centre_id=centre_id, entity_id=reniec.entity.id, module_code="M01",
                                    valid_from=date(2020, 1, 1)),
                   ModuleAssignment(centre_id=centre_id, entity_id=sunat.entity.id, module_code="M02",
                                    valid_from=date(2020, 1, 1))])
        for tenant in (reniec, sunat):
            ans = Ans(centre_id=centre_id, entity_id=tenant.entity.id, state="aceptado", valid_from=date(2020, 1, 1),
                      tolerance_minutes=15)
            s.add(ans)
            await s.flush()
            for indicator, (comparison, target, min_sample) in targets.items():
                s.add(AnsTarget(ans_id=ans.id, centre_id=centre_id, entity_id=tenant.entity.id, indicator=indicator,
                                comparison=comparison, target=Decimal(target), min_sample=min_sample))
    return SlaWorld(admin, reniec, sunat)


TICKET_HEADER = "ticket,segmento,ruc_entidad,servicio,modulo,asesor,emitido,llamado,inicio,fin,resultado\n"


def ticket_line(ticket: str, ruc: str, day: str, issued: str, called: str | None, outcome: str = "atendido",
                service: str = "DNI", module: str = "M01", end: str | None = None, segment: int = 1) -> str:
    def ts(hhmm: str | None) -> str:
        return f"{day}T{hhmm}:00-05:00" if hhmm else ""

    started = called if outcome != "abandonado" else None
    ended = end or (called if outcome != "abandonado" else None)
    return (f"{ticket},{segment},{ruc},{service},{module},A1,{ts(issued)},{ts(called)},{ts(started)},"
            f"{ts(ended)},{outcome}\n")
