"""Demo data for cost sharing: an approved methodology (SGP) and, at Centro MAC Callao, a closed period and a
published one, built through the same services people use (so the audit log tells the story too).

Idempotent: the marker is Callao's period of the demo's first month; when it exists nothing changes. Every
amount and driver value here is invented for the demo (the real cost pools are not public).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select, text

from app.costsharing import methodology as msvc
from app.costsharing import periods as pm
from app.costsharing import services as svc
from app.costsharing.models import CostPeriod, Methodology
from app.db import ROLE_FINANZAS, ROLE_SUPERVISOR_SGP, Database, TenantContext, get_database
from app.tenants.models import Centre, Entity, Membership, User

CENTRE_CODE = "MAC-CALLAO"
METHODOLOGY_VERSION = "2026.1"
CLOSED = (2026, 9)
PUBLISHED = (2026, 10)

RULES = {
    "alquiler": {"area_m2": "1"},
    "mantenimiento": {"area_m2": "0.5", "modules": "0.5"},
    "limpieza": {"area_m2": "0.6", "attentions": "0.4"},
    "vigilancia": {"area_m2": "0.5", "equal": "0.5"},
    "energia": {"modules": "0.7", "advisors": "0.3"},
    "agua": {"advisors": "0.5", "attentions": "0.5"},
    "telecomunicaciones": {"modules": "1"},
    "sistema_colas": {"attentions": "1"},
    "orientacion": {"attentions": "1"},
    "otros": {"equal": "1"},
}
CRITERIA = ("Criterios (demostración): los costos ligados al espacio se reparten por área; los de operación por "
            "módulos y asesores; los de atención al público por atenciones del mes. La capacidad vacante la asume "
            "la entidad administradora. Reporte: un estado mensual por entidad con la derivación de cada monto.")

# RUC -> (area m², modules, advisors, attentions in September, in October) — invented.
DRIVERS = {
    "20295613620": ("48.00", "8", "9", 15230, 16012),  # RENIEC
    "20131312955": ("36.00", "6", "7", 9410, 9877),  # SUNAT
    "20267073580": ("24.00", "4", "4", 5120, 5300),  # SUNARP
    "20551239692": ("30.00", "5", "6", 7015, 7420),  # Migraciones
    "20100030595": ("18.00", "3", "3", 11003, 11560),  # Banco de la Nación
    "20131257750": ("24.00", "4", "5", 6230, 6480),  # EsSalud (joins mid-September in the demo)
}
ESSALUD_JOINED = date(2026, 9, 16)

ITEMS = (
    ("alquiler", "Alquiler del local", "45000.00", "Contrato 012-2024-GRC", False),
    ("mantenimiento", "Mantenimiento de ascensores y equipos", "6850.40", "OS 0456", False),
    ("limpieza", "Servicio de limpieza", "12400.00", "F001-00231", False),
    ("vigilancia", "Vigilancia 24 horas", "15600.00", "F002-01877", False),
    ("energia", "Energía eléctrica", "8920.55", "Recibo 77120033", True),
    ("agua", "Agua y alcantarillado", "1450.30", "Recibo 5520019", True),
    ("telecomunicaciones", "Internet y telefonía", "3200.00", "F003-00990", False),
    ("sistema_colas", "Licencia del sistema de colas", "2100.00", "F001-00077", False),
    ("orientacion", "Orientadores en el hall", "5400.00", "OS 0460", False),
    ("otros", "Útiles de oficina y señalética", "730.75", "F004-00012", False),
)


async def load_demo(db: Database) -> list[str]:
    """Load through the services, which use the process's database: point it at ``db`` while loading."""
    import app.db as dbmodule

    previous = dbmodule._database
    dbmodule.set_database(db)
    try:
        return await _load()
    finally:
        dbmodule.set_database(previous)


async def _load() -> list[str]:
    db = get_database()
    system = TenantContext.system()
    async with db.transaction(system) as s:
        await s.execute(text("SELECT pg_advisory_xact_lock(hashtext('plataforma-mac:demo-costos'))"))
        centre = await s.scalar(select(Centre).where(Centre.code == CENTRE_CODE))
        if centre is None:
            return ["Costos compartidos: no se cargó la demostración (falta el Centro MAC Callao)."]
        start_closed, _ = pm.month_bounds(*CLOSED)
        if await s.scalar(select(CostPeriod.id).where(CostPeriod.centre_id == centre.id,
                                                      CostPeriod.starts_on == start_closed)):
            return ["Costos compartidos: la demostración ya estaba cargada (Centro MAC Callao, setiembre cerrado y"
                    " octubre publicado)."]
        entities = {e.ruc: e for e in (await s.scalars(select(Entity).where(Entity.ruc.in_(DRIVERS)))).all()}
        sgp = (await s.execute(select(User.id, Entity.id).join(Membership, Membership.user_id == User.id)
                                .join(Entity, Entity.id == Membership.entity_id)
                                .where(User.email == "sgp@demo.mac.pe", Membership.role == ROLE_SUPERVISOR_SGP))).first()
        finance = await s.scalar(select(User).where(User.email == "finanzas.reniec@demo.mac.pe"))
        methodology = await s.scalar(select(Methodology).where(Methodology.version == METHODOLOGY_VERSION))
    sgp_ctx = TenantContext(role=ROLE_SUPERVISOR_SGP, entity_id=sgp[1], user_id=sgp[0]) if sgp else system
    if methodology is None:
        methodology = await msvc.create_methodology(
            sgp_ctx, version=METHODOLOGY_VERSION, title="Distribución de costos comunes de los Centros MAC",
            criteria=CRITERIA, rules=RULES, vacancy_policy="administering")
        await msvc.approve_methodology(sgp_ctx, methodology.id, date(2026, 1, 1))

    async def month(year: int, month_no: int, attention_index: int, *, estimate_scale: Decimal) -> CostPeriod:
        period = await svc.open_period(system, centre.id, year, month_no)
        for category, description, amount, ref, estimate in ITEMS:
            value = (Decimal(amount) * (estimate_scale if estimate else 1)).quantize(Decimal("0.01"))
            await svc.add_item(system, period.id, svc.ItemInput(category, f"{description}, {pm.period_label(period.starts_on)}",
                                                                 value, ref, estimate))
        for ruc, values in DRIVERS.items():
            if ruc not in entities:
                continue
            active_from = ESSALUD_JOINED if (ruc == "20131257750" and (year, month_no) == CLOSED) else period.starts_on
            await svc.record_participant(system, period.id, svc.ParticipantInput(
                ruc, active_from, None, values[0], values[1], values[2], values[attention_index]))
        await svc.set_vacancy(system, period.id, area_m2="12.00", modules="2", advisors="0")
        await svc.compute_period(system, period.id)
        return await svc.publish_period(system, period.id)

    september = await month(*CLOSED, 3, estimate_scale=Decimal(1))
    if finance is not None and "20295613620" in entities:
        reniec = TenantContext(role=ROLE_FINANZAS, entity_id=entities["20295613620"].id, user_id=finance.id)
        obs = await svc.file_observation(reniec, september.id, "Solicitamos el detalle del consumo de energía: el "
                                                               "recibo de setiembre es un estimado.")
        await svc.answer_observation(system, obs.id, "El recibo real llegará en octubre; la diferencia se ajustará en"
                                                     " un periodo abierto posterior.", accept=False)
    await svc.close_period(system, september.id, early=True)
    october = await month(*PUBLISHED, 4, estimate_scale=Decimal("1.03"))
    view = await svc.get_allocation(system, october.id)
    return [f"Costos compartidos: metodología {METHODOLOGY_VERSION} aprobada; Centro MAC Callao con setiembre 2026"
            f" cerrado y octubre 2026 publicado ({view.pool_total:,.2f} soles repartidos entre"
            f" {len(view.totals_by_entity())} entidades, observaciones hasta el"
            f" {october.observations_until:%d/%m/%Y})."]
