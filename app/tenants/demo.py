"""Demo data: the Centros MAC of the policy document, their entities, and one account per role.

The data is declarative (the tuples below); :func:`load_demo_data` only turns it into rows. Sources:
the SGP policy document and the MAC Express note in ``shared/seeds`` (which centres exist, the year each
opened, who administers Callao, Ventanilla and Piura) and the domain brief (participants, roles, hours).
Everything the seeds do not say is marked as invented: ``is_demo=True`` on the row, a comment here.

Loading is idempotent: the marker is the PCM entity (its RUC). When it exists the loader changes nothing and
says so. Passwords are generated at load time (or taken from ``DEMO_PASSWORD``), returned once in the
report and stored only as argon2 hashes.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import string
import uuid
from dataclasses import dataclass, field
from datetime import date, time
from typing import NamedTuple

from argon2 import PasswordHasher
from sqlalchemy import select, text
from stdnum.pe import ruc as pe_ruc

from app.db import (
    ROLE_ADMIN,
    ROLE_COORDINADOR,
    ROLE_FINANZAS,
    ROLE_GESTOR,
    ROLE_LABELS,
    ROLE_SUPERVISOR_SGP,
    Database,
    TenantContext,
    new_id,
)
from app.tenants.models import (
    Centre,
    CentreModule,
    CentreOpeningHours,
    CentreService,
    Entity,
    Membership,
    User,
)

DEMO_PASSWORD_ENV = "DEMO_PASSWORD"


def _demo_ruc(body: str) -> str:
    """A made-up RUC with a correct check digit. Bodies start with 20999: far beyond any RUC SUNAT has
    issued (new legal entities are in the 206… range), so a demo RUC cannot be some real company's."""
    return body + pe_ruc.calc_check_digit(body)


# --------------------------------------------------------------------------------------------- data ---


@dataclass(frozen=True)
class EntitySpec:
    key: str  # handle used only inside this module
    ruc: str
    name: str
    short_name: str
    kind: str = "publica"
    level: str | None = "nacional"
    is_rector: bool = False
    is_demo: bool = False  # True when the RUC (or the entity itself) is made up


PCM_RUC = "20168999926"  # the marker: when PCM exists, the demo data is considered loaded

# Real RUCs: PCM, RENIEC, SUNAT, SUNARP, EsSalud, Banco de la Nación, SIS, GR Callao and GR Piura were
# checked against public listings; Migraciones' comes from the project brief (not cross-checked).
ENTITIES: tuple[EntitySpec, ...] = (
    EntitySpec("pcm", PCM_RUC, "Presidencia del Consejo de Ministros", "PCM", is_rector=True),
    # Administering entities named by the policy document.
    EntitySpec("gr_callao", "20505703554", "Gobierno Regional del Callao", "GR Callao", level="regional"),
    # The RUC we were given for Ventanilla (20131369558) appears elsewhere as the Municipalidad Provincial
    # del Callao's, so it is not used: a made-up one stands in until the real one is confirmed.
    EntitySpec("md_ventanilla", _demo_ruc("2099900001"), "Municipalidad Distrital de Ventanilla",
               "MD Ventanilla", level="local", is_demo=True),
    EntitySpec("gr_piura", "20484004421", "Gobierno Regional de Piura", "GR Piura", level="regional"),
    # Participating entities (domain brief).
    EntitySpec("reniec", "20295613620", "Registro Nacional de Identificación y Estado Civil", "RENIEC"),
    EntitySpec("sunat", "20131312955", "Superintendencia Nacional de Aduanas y de Administración Tributaria",
               "SUNAT"),
    EntitySpec("sunarp", "20267073580", "Superintendencia Nacional de los Registros Públicos", "SUNARP"),
    EntitySpec("migraciones", "20551239692", "Superintendencia Nacional de Migraciones", "Migraciones"),
    EntitySpec("bn", "20100030595", "Banco de la Nación", "Banco de la Nación"),
    EntitySpec("essalud", "20131257750", "Seguro Social de Salud", "EsSalud"),
    EntitySpec("sis", "20505208626", "Seguro Integral de Salud", "SIS"),
    # The law lets private institutions offer services in the platform; this one is fictitious on purpose
    # (a utility, the usual kind of private participant), with a made-up RUC.
    EntitySpec("luz_andina", _demo_ruc("2099900002"), "Luz Andina Distribución S.A.A. (empresa ficticia)",
               "Luz Andina", kind="privada", level=None, is_demo=True),
)


class ServiceSpec(NamedTuple):
    code: str
    name: str
    digital: bool  # can be done with an advisor's help at a MAC Express (a digitalised procedure)


# What each participating entity offers at a centre (procedure names as citizens know them).
CATALOGUE: dict[str, tuple[ServiceSpec, ...]] = {
    "reniec": (
        ServiceSpec("DNI-DUPLICADO", "Duplicado del DNI", True),
        ServiceSpec("DNI-RENOVACION", "Renovación del DNI por caducidad", False),
        ServiceSpec("DNI-MENOR", "Inscripción y DNI de menor de edad", False),
        ServiceSpec("DNI-RECTIFICACION", "Rectificación de datos del DNI", False),
        ServiceSpec("ACTA-COPIA", "Copia certificada de acta de nacimiento, matrimonio o defunción", True),
    ),
    "sunat": (
        ServiceSpec("RUC-INSCRIPCION", "Inscripción en el RUC de persona natural", True),
        ServiceSpec("RUC-MODIFICACION", "Modificación de datos del RUC", False),
        ServiceSpec("CLAVE-SOL", "Obtención y recuperación de la Clave SOL", True),
        ServiceSpec("ORIENTACION", "Orientación tributaria y aduanera", False),
    ),
    "sunarp": (
        ServiceSpec("CERT-LITERAL", "Certificado literal de partida registral", True),
        ServiceSpec("CERT-VIGENCIA-PODER", "Certificado de vigencia de poder", True),
        ServiceSpec("BUSQUEDA-INDICES", "Búsqueda en el índice de propiedad", False),
        ServiceSpec("CERT-GRAVAMEN-VEH", "Certificado de gravamen vehicular", False),
    ),
    "migraciones": (
        ServiceSpec("PASAPORTE", "Pasaporte electrónico", False),
        ServiceSpec("MOV-MIGRATORIO", "Certificado de movimiento migratorio", True),
        ServiceSpec("CE-DUPLICADO", "Duplicado de carné de extranjería", False),
    ),
    "bn": (
        ServiceSpec("PAGO-TASAS", "Pago de tasas y derechos de trámite", False),
        ServiceSpec("CUENTA-AHORROS", "Apertura de cuenta de ahorros", False),
        ServiceSpec("CONSULTAS", "Consultas y reclamos de clientes", False),
    ),
    "essalud": (
        ServiceSpec("ACREDITACION", "Acreditación del derecho de cobertura del asegurado", False),
        ServiceSpec("INSC-DERECHOHABIENTE", "Inscripción de derechohabientes", True),
        ServiceSpec("ORIENTACION", "Orientación al asegurado y citas", False),
    ),
    "sis": (
        ServiceSpec("AFILIACION", "Afiliación al SIS Gratuito", True),
        ServiceSpec("CONSULTA-AFILIACION", "Consulta del estado de afiliación", True),
    ),
    "luz_andina": (
        ServiceSpec("DUPLICADO-RECIBO", "Duplicado de recibo de luz", False),
        ServiceSpec("CAMBIO-TITULAR", "Cambio de titularidad del suministro", False),
        ServiceSpec("RECLAMO-FACTURACION", "Reclamo por facturación", False),
    ),
}

_CORE = ("reniec", "sunat", "sunarp", "migraciones", "bn", "essalud")


@dataclass(frozen=True)
class CentreSpec:
    code: str
    name: str
    channel: str
    administrator: str  # EntitySpec.key
    address: str
    ubigeo: str
    opened_year: int | None  # from the seeds; kept here because the model stores a full date only
    fixed_modules: int
    virtual_modules: int
    participants: tuple[str, ...]
    is_demo: bool  # the address (and the site's details) are made up
    fixed_area_m2: int = 6
    virtual_area_m2: int = 3


# Who administers each centre: the policy document names GR Callao (Callao), MD Ventanilla (Ventanilla) and
# GR Piura (Piura). It is silent on Lima Norte, Lima Este, Arequipa and Lima Sur; since it puts the
# administration of the centres in the SGP's hands (2011) and the other new centres are being implemented
# "a través de la PCM", we choose PCM for those four.
# Years: the document's timeline (Lima Norte opened in December 2010; Ventanilla and Piura both sit under
# 2014). No exact dates are given, so `opened_on` stays empty rather than inventing a day.
# Module counts and areas are illustrative (domain: Moquegua has 15 fixed + 4 virtual; a large centre more).
CENTRES: tuple[CentreSpec, ...] = (
    # Address from public knowledge (the centre sits in C.C. MegaPlaza); ubigeo 150112 = Independencia.
    CentreSpec("MAC-LIMA-NORTE", "Centro MAC Lima Norte", "centro_mac", "pcm",
               "C.C. MegaPlaza, Av. Alfredo Mendiola 3698, Independencia, Lima", "150112", 2010, 40, 4,
               (*_CORE, "sis", "luz_andina"), is_demo=False),
    CentreSpec("MAC-CALLAO", "Centro MAC Callao", "centro_mac", "gr_callao",
               "Av. Sáenz Peña 1020, Callao (dirección referencial)", "070101", 2012, 30, 3, _CORE, is_demo=True),
    CentreSpec("MAC-VENTANILLA", "Centro MAC Ventanilla", "centro_mac", "md_ventanilla",
               "Av. Pedro Beltrán s/n, Ventanilla, Callao (dirección referencial)", "070106", 2014, 20, 2,
               ("reniec", "sunat", "sunarp", "bn", "essalud", "sis"), is_demo=True),
    CentreSpec("MAC-PIURA", "Centro MAC Piura", "centro_mac", "gr_piura",
               "Av. Sánchez Cerro 1250, Piura (dirección referencial)", "200101", 2014, 25, 3, (*_CORE, "sis"),
               is_demo=True),
    CentreSpec("MAC-LIMA-ESTE", "Centro MAC Lima Este", "centro_mac", "pcm",
               "Carretera Central km 3.5, Ate, Lima (dirección referencial)", "150103", 2017, 35, 4,
               (*_CORE, "sis"), is_demo=True),
    CentreSpec("MAC-AREQUIPA", "Centro MAC Arequipa", "centro_mac", "pcm",
               "Calle Mercaderes 300, Cercado, Arequipa (dirección referencial)", "040101", 2018, 30, 3, _CORE,
               is_demo=True),
    CentreSpec("MAC-LIMA-SUR", "Centro MAC Lima Sur", "centro_mac", "pcm",
               "Prolongación Av. Paseo de la República s/n, Chorrillos, Lima (dirección referencial)", "150108",
               2020, 30, 4, (*_CORE, "sis", "luz_andina"), is_demo=True),
    # MAC Express: an advisor in a host's existing office helps with digitalised procedures. The seed names
    # the Tambo San Antonio del Estrecho (Putumayo, Loreto: 160801); the second site is invented. Both are run
    # by PCM's application, hosted by others: we give the Tambo to PCM and the municipal point to Ventanilla.
    CentreSpec("MACX-ESTRECHO", "MAC Express Tambo San Antonio del Estrecho", "mac_express", "pcm",
               "Tambo San Antonio del Estrecho, Putumayo, Loreto", "160801", None, 1, 0,
               ("reniec", "sunat", "sunarp", "migraciones", "sis"), is_demo=True, fixed_area_m2=4),
    CentreSpec("MACX-PACHACUTEC", "MAC Express Pachacútec", "mac_express", "md_ventanilla",
               "Agencia municipal de Pachacútec, Ventanilla, Callao (dirección referencial)", "070106", None, 2, 0,
               ("reniec", "sunat", "sunarp", "sis"), is_demo=True, fixed_area_m2=4),
)

# Opening hours (domain, practice): Mon–Fri 08:00–16:45, Sat 08:00–13:45. A MAC Express keeps its host's
# office hours: we assume Mon–Fri only. Effective from 2024-01-01 (today's practice, not the opening dates).
HOURS_VALID_FROM = date(2024, 1, 1)
WEEKDAY_HOURS = (time(8, 0), time(16, 45))
SATURDAY_HOURS = (time(8, 0), time(13, 45))


@dataclass(frozen=True)
class AccountSpec:
    email: str
    full_name: str  # fictitious people
    entity: str  # EntitySpec.key
    role: str


ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec("admin@demo.mac.pe", "Lucía Ramírez Soto", "pcm", ROLE_ADMIN),
    AccountSpec("sgp@demo.mac.pe", "Jorge Quispe Mamani", "pcm", ROLE_SUPERVISOR_SGP),
    AccountSpec("coordinador.callao@demo.mac.pe", "Carmen Flores Vega", "gr_callao", ROLE_COORDINADOR),
    AccountSpec("gestor.reniec@demo.mac.pe", "Miguel Torres Huamán", "reniec", ROLE_GESTOR),
    AccountSpec("finanzas.reniec@demo.mac.pe", "Patricia Salazar Ríos", "reniec", ROLE_FINANZAS),
    AccountSpec("gestor.sunat@demo.mac.pe", "Raúl Chávez Paredes", "sunat", ROLE_GESTOR),
)

# ------------------------------------------------------------------------------------------- report ---


class DemoAccount(NamedTuple):
    role_label: str  # e.g. "Gestor(a) de entidad (RENIEC)"
    email: str
    password: str | None  # None when the account already existed: passwords are never stored in clear


@dataclass
class DemoReport:
    created: bool  # False: the data already existed and nothing was changed
    accounts: list[DemoAccount]
    counts: dict[str, int] = field(default_factory=dict)  # rows created by this call, per kind


def _role_label(account: AccountSpec) -> str:
    short = next(e.short_name for e in ENTITIES if e.key == account.entity)
    return f"{ROLE_LABELS[account.role]} ({short})"


def demo_password() -> str:
    """DEMO_PASSWORD when set (browser tests), else a fresh random one with letters and digits."""
    fixed = os.environ.get(DEMO_PASSWORD_ENV)
    if fixed:
        return fixed
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(16))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


# ------------------------------------------------------------------------------------------- loader ---


def _centre_rows(spec: CentreSpec, centre_id: uuid.UUID, entity_ids: dict[str, uuid.UUID]) -> list:
    hours = [CentreOpeningHours(centre_id=centre_id, weekday=d, opens_at=WEEKDAY_HOURS[0],
                                closes_at=WEEKDAY_HOURS[1], valid_from=HOURS_VALID_FROM) for d in range(5)]
    if spec.channel == "centro_mac":
        hours.append(CentreOpeningHours(centre_id=centre_id, weekday=5, opens_at=SATURDAY_HOURS[0],
                                        closes_at=SATURDAY_HOURS[1], valid_from=HOURS_VALID_FROM))
    modules = [CentreModule(centre_id=centre_id, code=f"M{n:02d}", kind="fijo", area_m2=spec.fixed_area_m2)
               for n in range(1, spec.fixed_modules + 1)]
    modules += [CentreModule(centre_id=centre_id, code=f"V{n:02d}", kind="virtual", area_m2=spec.virtual_area_m2)
                for n in range(1, spec.virtual_modules + 1)]
    services = [CentreService(centre_id=centre_id, entity_id=entity_ids[key], code=s.code, name=s.name)
                for key in spec.participants for s in CATALOGUE[key]
                if spec.channel == "centro_mac" or s.digital]
    return hours + modules + services


async def load_demo_data(db: Database) -> DemoReport:
    """Create the demo entities, centres and accounts, unless they already exist (then change nothing)."""
    async with db.transaction(TenantContext.system()) as s:
        # Two loaders at once: the second waits here, then finds the marker.
        await s.execute(text("SELECT pg_advisory_xact_lock(hashtext('plataforma-mac:demo-data'))"))
        if await s.scalar(select(Entity.id).where(Entity.ruc == PCM_RUC)) is not None:
            return DemoReport(created=False, accounts=[DemoAccount(_role_label(a), a.email, None) for a in ACCOUNTS],
                              counts={})

        entity_ids = {e.key: new_id() for e in ENTITIES}
        s.add_all(Entity(id=entity_ids[e.key], ruc=e.ruc, name=e.name, short_name=e.short_name, kind=e.kind,
                         level=e.level, is_rector=e.is_rector, is_demo=e.is_demo) for e in ENTITIES)
        await s.flush()

        centre_ids = {c.code: new_id() for c in CENTRES}
        s.add_all(Centre(id=centre_ids[c.code], code=c.code, name=c.name, channel=c.channel, address=c.address,
                         ubigeo=c.ubigeo, administering_entity_id=entity_ids[c.administrator], is_demo=c.is_demo)
                  for c in CENTRES)
        await s.flush()
        details = [row for c in CENTRES for row in _centre_rows(c, centre_ids[c.code], entity_ids)]
        s.add_all(details)

        passwords = [demo_password() for _ in ACCOUNTS]
        hasher = PasswordHasher()
        hashes = await asyncio.to_thread(lambda: [hasher.hash(p) for p in passwords])
        users = [User(id=new_id(), email=a.email, full_name=a.full_name, password_hash=h, is_demo=True)
                 for a, h in zip(ACCOUNTS, hashes, strict=True)]
        s.add_all(users)
        await s.flush()
        s.add_all(Membership(user_id=u.id, entity_id=entity_ids[a.entity], role=a.role)
                  for u, a in zip(users, ACCOUNTS, strict=True))
        await s.flush()

    def count(kind: type) -> int:
        return sum(isinstance(row, kind) for row in details)

    return DemoReport(
        created=True,
        accounts=[DemoAccount(_role_label(a), a.email, p) for a, p in zip(ACCOUNTS, passwords, strict=True)],
        counts={"entities": len(ENTITIES), "centres": len(CENTRES), "opening_hours": count(CentreOpeningHours),
                "modules": count(CentreModule), "services": count(CentreService), "users": len(users),
                "memberships": len(ACCOUNTS)},
    )
