"""The adhesion's life through the real services, against PostgreSQL as the runtime role (RLS on)."""

from __future__ import annotations

import io
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from app.adhesion import services, states
from app.documents import verification
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.adhesion_world import PASSWORD, actor_for, walk_to, world  # noqa: F401


async def test_a_draft_goes_all_the_way_to_vigente_with_two_signatures_and_a_round_of_observations(world):
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    await services.sign_in_platform(world.gestor, adhesion_id, password=PASSWORD)
    await services.transition(world.coordinador, adhesion_id, "evaluar")
    await services.transition(world.coordinador, adhesion_id, "observar", reason="Precise el área de los módulos")
    view = await services.get_adhesion(world.gestor, adhesion_id)
    assert view.adhesion.state == "observada" and view.can_edit
    first_code = view.adhesion.document_code
    await services.update_adhesion(world.gestor, adhesion_id, world.draft(area_m2="21.00"))
    await services.sign_in_platform(world.gestor, adhesion_id, password=PASSWORD)
    await services.transition(world.coordinador, adhesion_id, "evaluar")
    await services.transition(world.coordinador, adhesion_id, "derivar_sgp",
                              checklist=[k for k, _ in services.EVALUATION_CHECKLIST])
    await services.transition(world.supervisor, adhesion_id, "opinar_favorable", reason="Procede la adhesión")
    state = await services.sign_in_platform(world.coordinador, adhesion_id, password=PASSWORD,
                                            start_date=services.today_lima(), term_months=12)
    assert state == "vigente"

    view = await services.get_adhesion(world.gestor, adhesion_id)
    transitions = [(e.from_state, e.to_state) for e in view.events if e.from_state != e.to_state]
    assert transitions == [(None, "borrador"), ("borrador", "presentada"), ("presentada", "en_evaluacion"),
                           ("en_evaluacion", "observada"), ("observada", "presentada"),
                           ("presentada", "en_evaluacion"), ("en_evaluacion", "pendiente_opinion_sgp"),
                           ("pendiente_opinion_sgp", "opinion_favorable"), ("opinion_favorable", "aceptada"),
                           ("aceptada", "vigente")]
    signing_event = next(e for e in view.events if e.to_state == "presentada")
    assert (signing_event.ip is not None, signing_event.user_agent, signing_event.auth_method) == \
        (True, "pytest-navegador/1.0", "contrasena")
    # The corrected version has its own code; the first one now says it was superseded.
    assert view.adhesion.document_code != first_code
    assert view.adhesion.start_date == services.today_lima()
    assert view.adhesion.end_date == services.add_months(services.today_lima(), 12)
    current = [r for r in view.revisions if r.document_id == view.documents[-1].id]
    assert [r.number for r in current] == [0, 1, 2]
    filename, pdf = await services.document_pdf(world.gestor, adhesion_id)
    assert verification.sha256_hex(pdf) == current[-1].sha256
    signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert [s.field_name for s in signatures] == ["FirmaEntidad", "FirmaAdministradora"]


async def test_every_step_is_also_in_the_audit_log(world, db):
    from app.audit_models import AuditEntry
    from app.db import TenantContext

    adhesion_id = await walk_to(world, "vigente")
    view = await services.get_adhesion(world.gestor, adhesion_id)
    async with db.transaction(TenantContext.system()) as s:
        actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.record_type == "adhesion",
                                                                   AuditEntry.record_id == str(adhesion_id))
                                   .order_by(AuditEntry.seq))).all()
    assert actions == [f"adhesion.{e.action}" for e in view.events]
    assert actions[-2:] == ["adhesion.aceptar", "adhesion.iniciar_vigencia"]


async def test_the_end_date_is_the_last_day_of_the_term():
    from datetime import date

    assert services.add_months(date(2026, 1, 31), 1) == date(2026, 2, 27)
    assert services.add_months(date(2026, 3, 1), 24) == date(2028, 2, 29)
    assert services.add_months(date(2026, 12, 15), 12) == date(2027, 12, 14)


async def test_signing_again_requires_the_password(world):
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    with pytest.raises(Forbidden, match="No se pudo confirmar su identidad"):
        await services.sign_in_platform(world.gestor, adhesion_id, password="otra-clave")
    assert (await services.get_adhesion(world.gestor, adhesion_id)).adhesion.state == "borrador"


async def test_the_administering_entity_cannot_countersign_before_the_sgp_opinion(world):
    adhesion_id = await walk_to(world, "pendiente_opinion_sgp")
    with pytest.raises(Conflict):
        await services.sign_in_platform(world.coordinador, adhesion_id, password=PASSWORD,
                                        start_date=services.today_lima())
    with pytest.raises(Forbidden):
        await services.transition(world.coordinador, adhesion_id, "opinar_favorable", reason="me adelanto")


async def test_the_database_itself_refuses_a_state_that_skips_the_sgp(world, db):
    from app.adhesion.models import Adhesion

    adhesion_id = await walk_to(world, "en_evaluacion")
    for target in ("opinion_favorable", "aceptada", "terminada"):
        with pytest.raises(Exception, match="SGP"):
            async with db.transaction(world.coordinador.ctx()) as s:
                adhesion = await s.get(Adhesion, adhesion_id)
                adhesion.state = target
                await s.flush()
    async with db.transaction(world.coordinador.ctx()) as s:
        assert (await s.get(Adhesion, adhesion_id)).state == "en_evaluacion"


async def test_forwarding_to_the_sgp_needs_the_whole_checklist(world):
    adhesion_id = await walk_to(world, "en_evaluacion")
    with pytest.raises(ValidationFailed, match="Antes de derivar"):
        await services.transition(world.coordinador, adhesion_id, "derivar_sgp", checklist=["servicios"])


async def test_another_entity_cannot_see_or_touch_the_adhesion(world):
    adhesion_id = await walk_to(world, "presentada")
    outsider_gestor = services.Caller(actor_for(world.outsider, "gestor_entidad"))
    outsider_coord = services.Caller(actor_for(world.outsider, "coordinador_centro"))
    for intruder in (outsider_gestor, outsider_coord):
        with pytest.raises(NotFound):
            await services.get_adhesion(intruder, adhesion_id)
        with pytest.raises(NotFound):
            await services.transition(intruder, adhesion_id, "evaluar")
        with pytest.raises(NotFound):
            await services.document_pdf(intruder, adhesion_id)
        assert adhesion_id not in [r.id for r in await services.list_adhesions(intruder)]
    # The SGP sees every adhesion; the participant's finance officer sees its own.
    assert adhesion_id in [r.id for r in await services.list_adhesions(world.supervisor)]
    finance = services.Caller(actor_for(world.participant, "finanzas"))
    assert (await services.get_adhesion(finance, adhesion_id)).party is None


async def test_the_registry_answers_the_public_without_a_login(world, db):
    from app.db import TenantContext

    adhesion_id = await walk_to(world, "presentada")
    view = await services.get_adhesion(world.gestor, adhesion_id)
    async with db.transaction(TenantContext.anonymous("198.51.100.1")) as s:
        document = await verification.public_document(s, view.adhesion.document_code.lower())
        assert document is not None
        assert document.subject_state == "presentada"
        assert [r.kind for r in document.revisions] == ["original", "sello_plataforma"]
        # Nothing else is readable by an anonymous visitor.
        from app.adhesion.models import Adhesion
        from app.documents.models import RegisteredDocument
        assert (await s.execute(select(Adhesion))).all() == []
        assert (await s.execute(select(RegisteredDocument))).all() == []


async def test_a_second_open_adhesion_to_the_same_centre_is_refused(world):
    await services.create_adhesion(world.gestor, world.draft())
    with pytest.raises(Conflict, match="ya tiene una adhesión"):
        await services.create_adhesion(world.gestor, world.draft())


async def test_only_the_participants_manager_starts_an_adhesion(world):
    with pytest.raises(Forbidden):
        await services.create_adhesion(world.coordinador, world.draft())
    assert states.STATE_LABELS["borrador"] == "Borrador"


async def test_the_coordinator_suspends_and_reactivates_with_a_reason_the_entity_can_read(world):
    adhesion_id = await walk_to(world, "vigente")
    with pytest.raises(ValidationFailed, match="motivo"):
        await services.transition(world.coordinador, adhesion_id, "suspender")
    with pytest.raises(Forbidden):
        await services.transition(world.gestor, adhesion_id, "suspender", reason="me suspendo")
    await services.transition(world.coordinador, adhesion_id, "suspender", reason="Falta de pago de la locación")
    view = await services.get_adhesion(world.gestor, adhesion_id)
    assert (view.adhesion.state, view.adhesion.state_reason) == ("suspendida", "Falta de pago de la locación")
    await services.transition(world.coordinador, adhesion_id, "reactivar", reason="Pago regularizado")
    assert (await services.get_adhesion(world.gestor, adhesion_id)).adhesion.state == "vigente"


async def test_an_unfavourable_opinion_ends_in_rejection_declared_by_the_administering_entity(world):
    adhesion_id = await walk_to(world, "opinion_desfavorable")
    with pytest.raises(Conflict):
        await services.sign_in_platform(world.coordinador, adhesion_id, password=PASSWORD,
                                        start_date=services.today_lima())
    await services.transition(world.coordinador, adhesion_id, "rechazar", reason="Según la opinión de la SGP")
    view = await services.get_adhesion(world.gestor, adhesion_id)
    assert view.adhesion.state == "rechazada" and view.actions == [] and view.can_sign is None
