"""The navigation each role sees. A domain adds its entries here when its pages exist."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import ROLE_ADMIN, ROLE_COORDINADOR, ROLE_FINANZAS, ROLE_GESTOR, ROLE_SUPERVISOR_SGP


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str
    roles: tuple[str, ...]


ALL_PEOPLE = (ROLE_GESTOR, ROLE_FINANZAS, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN)

NAV_ITEMS: list[NavItem] = [
    NavItem("/", "Inicio", ALL_PEOPLE),
    NavItem("/centros", "Centros MAC", ALL_PEOPLE),
    NavItem("/adhesiones", "Adhesiones", ALL_PEOPLE),
    NavItem("/admin/entidades", "Entidades", (ROLE_ADMIN,)),
    NavItem("/admin/centros", "Administrar centros", (ROLE_ADMIN,)),
    NavItem("/admin/usuarios", "Usuarios y roles", (ROLE_ADMIN,)),
    NavItem("/estados-de-cuenta", "Estados de cuenta", (ROLE_FINANZAS, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP)),
    NavItem("/cuentas", "Mis cuentas y pagos", (ROLE_FINANZAS,)),
    NavItem("/cobranza", "Cuentas por cobrar", (ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP)),
    NavItem("/costos", "Costos compartidos", ALL_PEOPLE),
    NavItem("/ans", "ANS y cumplimiento", (ROLE_GESTOR, ROLE_COORDINADOR, ROLE_SUPERVISOR_SGP, ROLE_ADMIN)),
    NavItem("/ans/alertas", "Alertas de ANS", (ROLE_GESTOR, ROLE_COORDINADOR)),
    NavItem("/auditoria", "Auditoría", ALL_PEOPLE),
    NavItem("/sgp/registros", "Solicitudes de registro", (ROLE_SUPERVISOR_SGP,)),
    NavItem("/sgp/cambios-entidad", "Cambios de datos de entidades", (ROLE_SUPERVISOR_SGP,)),
    NavItem("/entidad/usuarios", "Usuarios de la entidad", (ROLE_GESTOR,)),
    NavItem("/entidad/perfil", "Datos de la entidad", (ROLE_GESTOR, ROLE_FINANZAS, ROLE_COORDINADOR)),
]


def nav_items(actor) -> list[NavItem]:  # noqa: ANN001
    if actor is None:
        return []
    return [item for item in NAV_ITEMS if actor.role in item.roles]
