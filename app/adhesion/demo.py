"""Demo adhesions at Centro MAC Callao, walked through the real services so their timelines, documents and
signatures are genuine: RENIEC vigente, SUNAT pendiente de opinión de la SGP, SUNARP observada.

Idempotent: when RENIEC already has an adhesion at Callao, nothing is created. Demo signatures skip the
password re-check (the loader does not know the generated passwords) and are sealed with the demo certificate.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.adhesion import services
from app.adhesion.models import Adhesion
from app.adhesion.schemas import AdhesionCreate
from app.auth.actor import Actor
from app.db import Database, TenantContext, get_database, set_database
from app.tenants.models import Centre, CentreService, Entity, Membership, User

CENTRE_CODE = "MAC-CALLAO"
RUC = {"reniec": "20295613620", "sunat": "20131312955", "sunarp": "20267073580", "gr_callao": "20505703554",
       "pcm": "20168999926"}


async def _actor(s, ruc: str, role: str, email: str | None) -> Actor:  # noqa: ANN001
    entity = await s.scalar(select(Entity).where(Entity.ruc == ruc))
    user = None
    if email:
        user = await s.scalar(select(User).join(Membership, Membership.user_id == User.id)
                              .where(User.email == email, Membership.entity_id == entity.id, Membership.role == role))
    return Actor(role=role, entity_id=entity.id, entity_name=entity.name, user_id=user.id if user else None,
                 full_name=user.full_name if user else f"Gestor(a) de {entity.short_name} (demostración)",
                 email=user.email if user else "", auth_method="demostracion")


async def load_demo(db: Database) -> list[str]:
    from app import db as db_module

    previous = db_module._database  # noqa: SLF001 - the services reach the database through get_database()
    set_database(db)
    try:
        return await _load()
    finally:
        set_database(previous)


async def _load() -> list[str]:
    db = get_database()
    async with db.transaction(TenantContext.system()) as s:
        centre = await s.scalar(select(Centre).where(Centre.code == CENTRE_CODE))
        reniec = await s.scalar(select(Entity).where(Entity.ruc == RUC["reniec"]))
        if centre is None or reniec is None:
            return ["Adhesiones de demostración: faltan el Centro MAC Callao o RENIEC; no se crearon."]
        if await s.scalar(select(Adhesion.id).where(Adhesion.entity_id == reniec.id, Adhesion.centre_id == centre.id)):
            return ["Las adhesiones de demostración ya estaban cargadas."]
        gestor_reniec = await _actor(s, RUC["reniec"], "gestor_entidad", "gestor.reniec@demo.mac.pe")
        gestor_sunat = await _actor(s, RUC["sunat"], "gestor_entidad", "gestor.sunat@demo.mac.pe")
        gestor_sunarp = await _actor(s, RUC["sunarp"], "gestor_entidad", None)
        coordinador = await _actor(s, RUC["gr_callao"], "coordinador_centro", "coordinador.callao@demo.mac.pe")
        sgp = await _actor(s, RUC["pcm"], "supervisor_sgp", "sgp@demo.mac.pe")
        catalogue = {}
        for actor in (gestor_reniec, gestor_sunat, gestor_sunarp):
            rows = (await s.scalars(select(CentreService).where(CentreService.centre_id == centre.id,
                                                                CentreService.entity_id == actor.entity_id))).all()
            catalogue[actor.entity_id] = [{"code": r.code, "name": r.name} for r in rows] or \
                [{"code": "ORIENTACION", "name": "Orientación al ciudadano"}]

    def draft(actor: Actor, modules: int, fee: str) -> AdhesionCreate:
        services_ = catalogue[actor.entity_id]
        return AdhesionCreate(centre_id=centre.id, services=services_, modules=modules,
                              area_m2=Decimal(6 * modules), monthly_fee=Decimal(fee), term_months=24,
                              ans=[{"service": x["name"], "max_wait": 20, "max_attention": 15, "target": Decimal("90")}
                                   for x in services_[:3]],
                              contact_name=actor.full_name, contact_email=actor.email or "")

    ip, agent = "127.0.0.1", "Carga de datos de demostración"
    c = lambda actor: services.Caller(actor, ip, agent)  # noqa: E731
    checklist = [key for key, _ in services.EVALUATION_CHECKLIST]
    lines = []
    # RENIEC: the whole path, with one round of observations, to vigente.
    a = await services.create_adhesion(c(gestor_reniec), draft(gestor_reniec, 4, "1800.00"))
    await services.sign_in_platform(c(gestor_reniec), a, password="", skip_reauthentication=True)
    await services.transition(c(coordinador), a, "evaluar")
    await services.transition(c(coordinador), a, "observar", reason="Precise el área requerida para el módulo de "
                                                                   "captura biométrica.")
    await services.sign_in_platform(c(gestor_reniec), a, password="", skip_reauthentication=True)
    await services.transition(c(coordinador), a, "evaluar")
    await services.transition(c(coordinador), a, "derivar_sgp", checklist=checklist)
    await services.transition(c(sgp), a, "opinar_favorable", reason="La adhesión es conforme con los lineamientos "
                                                                   "de la Plataforma MAC.")
    await services.sign_in_platform(c(coordinador), a, password="", skip_reauthentication=True,
                                    start_date=services.today_lima(), term_months=24)
    lines.append(f"  Adhesión RENIEC → Centro MAC Callao: vigente (/adhesiones/{a})")
    # SUNAT: waiting for the SGP's opinion.
    b = await services.create_adhesion(c(gestor_sunat), draft(gestor_sunat, 3, "1350.00"))
    await services.sign_in_platform(c(gestor_sunat), b, password="", skip_reauthentication=True)
    await services.transition(c(coordinador), b, "evaluar")
    await services.transition(c(coordinador), b, "derivar_sgp", checklist=checklist)
    lines.append(f"  Adhesión SUNAT → Centro MAC Callao: pendiente de opinión de la SGP (/adhesiones/{b})")
    # SUNARP: observed, back with its manager.
    d = await services.create_adhesion(c(gestor_sunarp), draft(gestor_sunarp, 2, "900.00"))
    await services.sign_in_platform(c(gestor_sunarp), d, password="", skip_reauthentication=True)
    await services.transition(c(coordinador), d, "evaluar")
    await services.transition(c(coordinador), d, "observar",
                              reason="Adjunte el detalle de los servicios registrales que ofrecerá.")
    lines.append(f"  Adhesión SUNARP → Centro MAC Callao: observada (/adhesiones/{d})")
    seal = services.signing.sealing_identity(services.get_settings())
    return ["Adhesiones de demostración creadas:", *lines,
            f"  Sello de la plataforma: {seal.label}" + (" — certificado de DEMOSTRACIÓN generado en "
                                                         "DATA_DIR/sealing, sin valor legal" if seal.is_demo else "")]
