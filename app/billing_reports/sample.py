"""A complete statement built from a real run of the allocation engine, for the tests, the benchmark and the
layout preview (``python -m app.billing_reports.sample out.pdf``). Pure: builds data, touches no database.

The case: Centro MAC Callao, October 2026; RENIEC, SUNAT, MIGRACIONES and SIS share rent and surveillance by
area, cleaning and energy by a mix of area and attentions, the queueing system in equal parts and guidance by a
fixed split; SIS joined on the 11th; the administering entity bears the vacant area.
"""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal

from app.billing_reports.derivation import ItemInfo, lines_from_result
from app.billing_reports.statement import (
    KIND_AJUSTE,
    KIND_TARIFA,
    MonthShare,
    Party,
    StatementData,
    StatementLine,
    to_percentage,
)
from app.costsharing.allocation import AllocationResult, allocate, parse_case

CATEGORY_LABELS = {
    "alquiler": "Alquiler", "mantenimiento": "Mantenimiento", "limpieza": "Limpieza", "vigilancia": "Vigilancia",
    "energia": "Energía eléctrica", "agua": "Agua", "telecomunicaciones": "Telecomunicaciones",
    "sistema_colas": "Sistema de colas", "orientacion": "Orientación", "otros": "Otros",
}

CALLAO = Party("Gobierno Regional del Callao", "20505703554")
RENIEC = Party("Registro Nacional de Identificación y Estado Civil - RENIEC", "20295613620")
SUNAT = Party("Superintendencia Nacional de Aduanas y de Administración Tributaria - SUNAT", "20131312955")
MIGRACIONES = Party("Superintendencia Nacional de Migraciones", "20551239692")
SIS = Party("Seguro Integral de Salud - SIS", "20505208626")

CASE = {
    "period": {"start": "2026-10-01", "end": "2026-10-31"},
    "entities": [
        {"ruc": RENIEC.ruc, "name": RENIEC.name, "active_from": "2026-01-01", "active_to": None,
         "drivers": {"area_m2": "120.50", "modules": "6", "advisors": "8", "attentions": "15230"}},
        {"ruc": SUNAT.ruc, "name": SUNAT.name, "active_from": "2026-01-01", "active_to": None,
         "drivers": {"area_m2": "96", "modules": "5", "advisors": "6", "attentions": "9874"}},
        {"ruc": MIGRACIONES.ruc, "name": MIGRACIONES.name, "active_from": "2026-03-01", "active_to": None,
         "drivers": {"area_m2": "64.25", "modules": "3", "advisors": "4", "attentions": "6120"}},
        {"ruc": SIS.ruc, "name": SIS.name, "active_from": "2026-10-11", "active_to": None,
         "drivers": {"area_m2": "40", "modules": "2", "advisors": "2", "attentions": "1433"}},
    ],
    "vacancy": {"policy": "administering", "administering_ruc": CALLAO.ruc, "administering_name": CALLAO.name,
                "drivers": {"area_m2": "30", "modules": "2", "advisors": "0"}},
    "methodology": {"version": "SGP-2026.1", "rules": {
        "alquiler": {"area_m2": "1"}, "vigilancia": {"area_m2": "1"},
        "limpieza": {"area_m2": "0.5", "attentions": "0.5"}, "energia": {"area_m2": "0.6", "attentions": "0.4"},
        "agua": {"attentions": "1"}, "sistema_colas": {"equal": "1"},
        "mantenimiento": {"modules": "1"}, "telecomunicaciones": {"advisors": "1"},
        "orientacion": {"fixed": {RENIEC.ruc: "40", SUNAT.ruc: "30", MIGRACIONES.ruc: "20", SIS.ruc: "10"}},
    }},
    "costs": [
        {"id": "c01", "category": "alquiler", "amount": "45000.00"},
        {"id": "c02", "category": "vigilancia", "amount": "12400.00"},
        {"id": "c03", "category": "limpieza", "amount": "8650.35"},
        {"id": "c04", "category": "energia", "amount": "6123.47"},
        {"id": "c05", "category": "agua", "amount": "1210.90"},
        {"id": "c06", "category": "sistema_colas", "amount": "2500.00"},
        {"id": "c07", "category": "mantenimiento", "amount": "3333.33"},
        {"id": "c08", "category": "telecomunicaciones", "amount": "1999.99"},
        {"id": "c09", "category": "orientacion", "amount": "4200.00"},
        {"id": "c10", "category": "limpieza", "amount": "0.01"},
    ],
}
ITEMS = {
    "c01": ItemInfo("Alquiler del local, octubre 2026", "Contrato 014-2025-GRC"),
    "c02": ItemInfo("Servicio de vigilancia", "OS 2026-1187"),
    "c03": ItemInfo("Servicio de limpieza", "OS 2026-1190"),
    "c04": ItemInfo("Energía eléctrica (Enel)", "Recibo S001-884512"),
    "c05": ItemInfo("Agua potable (Sedapal)", "Recibo 77812-10"),
    "c06": ItemInfo("Licencia del sistema de colas", "OC 2026-0442"),
    "c07": ItemInfo("Mantenimiento preventivo de módulos", "OS 2026-1201"),
    "c08": ItemInfo("Internet dedicado y telefonía", "Factura F001-22871"),
    "c09": ItemInfo("Orientadores en sala", "OS 2026-1210"),
    "c10": ItemInfo("Diferencia de redondeo en limpieza", ""),
}


def sample_allocation() -> AllocationResult:
    return allocate(parse_case(CASE))


def sample_statement(participant: Party = RENIEC, *, result: AllocationResult | None = None, number: str = "",
                     status: str = "definitivo", version: int = 1, with_extras: bool = True) -> StatementData:
    result = result or sample_allocation()
    lines = lines_from_result(result, participant.ruc, ITEMS, CATEGORY_LABELS)
    if with_extras:
        lines.append(StatementLine(
            kind=KIND_AJUSTE, category="ajuste", category_label="Ajustes de periodos anteriores",
            item="Limpieza de agosto 2026: el importe real reemplaza al estimado", key="base original",
            quantity=None, total_quantity=None, percentage=Decimal("32.1500"), item_amount=Decimal("-150.00"),
            amount=Decimal("-48.23"), adjustment_ref="Agosto 2026 · Servicio de limpieza (OS 2026-0990)"))
        lines.append(StatementLine(
            kind=KIND_TARIFA, category="tarifa", category_label="Tarifa por uso del local",
            item="Tarifa mensual por uso del local (cláusula de adhesión)", key="cláusula de adhesión",
            quantity=None, total_quantity=None, percentage=to_percentage(1), item_amount=Decimal("1500.00"),
            amount=Decimal("1500.00")))
    history = tuple(MonthShare(date(2025 + (m + 10) // 12, (m + 10) % 12 + 1, 1), Decimal(24000 + 350 * m))
                    for m in range(11))
    history += (MonthShare(date(2026, 10, 1), sum((ln.amount for ln in lines), Decimal("0.00"))),)
    code = f"EC-{participant.ruc[-4:]}-7Q2M-K9"
    return StatementData(
        number=number or f"EC-2026-10-CALLAO-{participant.ruc}-v{version}", version=version,
        issued_on=date(2026, 11, 5), status=status, centre_name="Centro MAC Callao", administering=CALLAO,
        participant=participant, period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
        methodology_version="SGP-2026.1", methodology_title="Lineamientos de distribución de costos comunes",
        vacancy_policy="la asume la entidad administradora", rounding_rule="mayor residuo al céntimo",
        lines=tuple(lines), history=history, verification_code=code,
        verification_url=f"https://mac.gob.pe/verificar/{code}")


if __name__ == "__main__":  # pragma: no cover - a preview helper
    from app.billing_reports.pdf import render_statement

    with open(sys.argv[1] if len(sys.argv) > 1 else "estado.pdf", "wb") as f:
        f.write(render_statement(sample_statement()))
