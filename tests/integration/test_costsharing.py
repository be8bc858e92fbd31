"""Cost sharing against PostgreSQL: the period's life, stored computations, closed periods, corrections and
what each tenant can see."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update

from app.costsharing import services as svc
from app.costsharing.allocation import canonical_hash, parse_case
from app.costsharing.models import AllocationLine, Computation, CostItem, CostParticipant, CostPeriod, Observation
from app.costsharing.periods import add_working_days
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.costsharing_fixtures import make_scene, scene  # noqa: F401


async def computed_period(scene, month=3, *, alquiler="9000.00", estimate=False):  # noqa: F811
    """A period with rent and cleaning, entity A (60 m², 1000 attentions) and B (30 m², joined on the 16th,
    3000 attentions) and 10 m² vacant (borne by the administering entity), computed."""
    c = scene.coordinator
    period = await svc.open_period(c, scene.admin.centre.id, scene.year, month)
    rent = await svc.add_item(c, period.id, svc.ItemInput("alquiler", "Alquiler del local", alquiler, "F001-123",
                                                          is_estimate=estimate))
    await svc.add_item(c, period.id, svc.ItemInput("limpieza", "Servicio de limpieza", "2500.00", "OS-77"))
    start = scene.start(month)
    await svc.record_participant(c, period.id, svc.ParticipantInput(scene.a.entity.ruc, start, None, "60", "4", "6",
                                                                    "1000"))
    await svc.record_participant(c, period.id, svc.ParticipantInput(scene.b.entity.ruc, start + timedelta(days=15),
                                                                    None, "30", "2", "3", "3000"))
    await svc.set_vacancy(c, period.id, area_m2="10", modules="0", advisors="0")
    await svc.compute_period(c, period.id)
    return period, rent


async def test_computing_stores_inputs_methodology_version_hashes_and_lines_that_add_up(db, scene):  # noqa: F811
    period, _ = await computed_period(scene)
    view = await svc.get_allocation(scene.coordinator, period.id)
    assert view.period.state == "calculado"
    assert view.lines_total == view.pool_total == Decimal("11500.00")
    for item in view.items:
        assert sum(ln.amount for ln in view.lines if ln.cost_item_id == item.id) == item.amount
    async with db.transaction(scene.coordinator) as s:
        comp = await s.scalar(select(Computation).where(Computation.period_id == period.id, Computation.is_current))
    assert comp.methodology_version == view.methodology_version and comp.methodology_version.startswith(str(scene.year))
    assert comp.input_hash == canonical_hash(comp.inputs) == view.input_hash
    assert {e["ruc"] for e in comp.inputs["entities"]} == {scene.a.entity.ruc, scene.b.entity.ruc}
    assert parse_case(comp.inputs).vacancy.administering_ruc == scene.admin.entity.ruc
    assert await svc.verify_computation(scene.coordinator, period.id) == (True, comp.result_hash, comp.result_hash)
    # March has 31 days; B was vigente 16..31 = 16 days: area A 60 × 31 = 1860, B 30 × 16 = 480, vacancy 10 × 31 = 310.
    rent_b = next(ln for ln in view.lines if ln.ruc == scene.b.entity.ruc and ln.category == "alquiler")
    (area,) = rent_b.derivation["componentes"]
    assert (area["valor_registrado"], area["dias_vigente"], area["dias_periodo"]) == ("30.00", 16, 31)
    # 9000 × 480/2650 = 1630.1886…; A 6316.9811…, vacancy 1052.8301…: B's remainder is the largest → 1630.19.
    assert rent_b.amount == Decimal("1630.19") and rent_b.extra_cent
    rent_admin = next(ln for ln in view.lines if ln.ruc == scene.admin.entity.ruc and ln.category == "alquiler")
    assert rent_admin.amount == Decimal("1052.83")


async def test_the_period_moves_borrador_calculado_publicado_cerrado_and_a_closed_period_is_immutable(db, scene):  # noqa: F811
    period, rent = await computed_period(scene)
    c = scene.coordinator
    with pytest.raises(Conflict, match="debe estar publicado"):
        await svc.close_period(c, period.id)
    published = await svc.publish_period(c, period.id, today=date(2026, 12, 4))
    assert published.state == "publicado"
    # 10 working days after Friday 4 December 2026: 8 and 9 December are holidays → Tuesday 22 December.
    assert published.observations_until == date(2026, 12, 22) == add_working_days(date(2026, 12, 4), 10)
    with pytest.raises(Conflict, match="publicado"):
        await svc.add_item(c, period.id, svc.ItemInput("agua", "Agua", "10.00"))
    obs = await svc.file_observation(scene.a.ctx("finanzas"), period.id, "El área asignada es 50 m², no 60 m².",
                                     today=date(2026, 12, 10))
    with pytest.raises(Conflict, match="sin responder"):
        await svc.close_period(c, period.id, early=True)
    await svc.answer_observation(c, obs.id, "Se verificó el acta de entrega: 60 m².", accept=False)
    with pytest.raises(Conflict, match="plazo de observaciones vence"):
        await svc.close_period(c, period.id, today=date(2026, 12, 15))
    closed = await svc.close_period(c, period.id, today=date(2026, 12, 23))
    assert closed.state == "cerrado"

    with pytest.raises(Conflict, match="cerrado"):
        await svc.add_item(c, period.id, svc.ItemInput("agua", "Agua", "10.00"))
    with pytest.raises(Conflict, match="cerrado"):
        await svc.compute_period(c, period.id)
    # Even a query that skips the services cannot rewrite a closed period (database triggers).
    with pytest.raises(Exception, match="cerrado"):
        async with db.transaction(c) as s:
            await s.execute(update(CostItem).where(CostItem.id == rent.id).values(amount=Decimal("1.00")))
    with pytest.raises(Exception, match="cerrado"):
        async with db.transaction(c) as s:
            await s.execute(update(AllocationLine).where(AllocationLine.period_id == period.id)
                            .values(amount=Decimal("0.00")))
    with pytest.raises(Exception, match="cerrado"):
        async with db.transaction(c) as s:
            await s.execute(update(CostPeriod).where(CostPeriod.id == period.id).values(state="borrador"))


async def test_only_the_coordinator_of_the_administering_entity_moves_a_period(db, scene, tenants):  # noqa: F811
    period, _ = await computed_period(scene)
    other_coordinator = (await tenants.create(roles=("coordinador_centro",), with_centre=True)).ctx("coordinador_centro")
    with pytest.raises((NotFound, Forbidden)):
        await svc.publish_period(other_coordinator, period.id)
    with pytest.raises((NotFound, Forbidden)):
        await svc.publish_period(scene.a.ctx("gestor_entidad"), period.id)
    with pytest.raises(Forbidden):
        await svc.open_period(other_coordinator, scene.admin.centre.id, scene.year, 9)
    with pytest.raises(Conflict, match="ya existe"):
        await svc.open_period(scene.coordinator, scene.admin.centre.id, scene.year, 3)


async def test_a_change_to_a_computed_period_sends_it_back_to_draft_and_drops_its_lines(db, scene):  # noqa: F811
    period, _ = await computed_period(scene)
    await svc.add_item(scene.coordinator, period.id, svc.ItemInput("agua", "Agua potable", "300.00"))
    view = await svc.get_allocation(scene.coordinator, period.id)
    assert view.period.state == "borrador" and view.lines == [] and view.input_hash is None
    with pytest.raises(Conflict, match="debe estar calculado"):
        await svc.publish_period(scene.coordinator, period.id)
    await svc.compute_period(scene.coordinator, period.id)
    assert (await svc.get_allocation(scene.coordinator, period.id)).lines_total == Decimal("11800.00")


async def test_a_key_summing_zero_leaves_the_item_unallocated_and_blocks_publication_until_rekeyed(db, scene):  # noqa: F811
    c = scene.coordinator
    period = await svc.open_period(c, scene.admin.centre.id, scene.year, 4)
    item = await svc.add_item(c, period.id, svc.ItemInput("orientacion", "Orientadores", "1200.00"))
    for t in (scene.a, scene.b):
        await svc.record_participant(c, period.id, svc.ParticipantInput(t.entity.ruc, scene.start(4), None, "10"))
    await svc.compute_period(c, period.id)
    view = await svc.get_allocation(c, period.id)
    assert view.lines == []
    (pending,) = view.unallocated
    assert pending.amount == Decimal("1200.00") and "atenciones" in pending.reason
    with pytest.raises(Conflict, match="no distribuidos"):
        await svc.publish_period(c, period.id)
    await svc.update_item_category(c, item.id, "otros")  # the coordinator chooses another key
    await svc.compute_period(c, period.id)
    view = await svc.get_allocation(c, period.id)
    assert view.unallocated == [] and {ln.amount for ln in view.lines} == {Decimal("600.00")}
    assert (await svc.publish_period(c, period.id)).state == "publicado"


async def test_without_an_approved_methodology_in_force_nothing_is_computed(db, tenants):
    scene = await make_scene(tenants)
    c = scene.coordinator
    period = await svc.open_period(c, scene.admin.centre.id, 2031, 1)  # before any test's methodology
    await svc.add_item(c, period.id, svc.ItemInput("agua", "Agua", "10.00"))
    await svc.record_participant(c, period.id, svc.ParticipantInput(scene.a.entity.ruc, date(2031, 1, 1)))
    with pytest.raises(Conflict, match="metodología aprobada"):
        await svc.compute_period(c, period.id)


async def test_a_participant_sees_its_own_lines_and_the_centre_totals_never_another_entitys(db, scene):  # noqa: F811
    period, _ = await computed_period(scene)
    # Before publication the participants see nothing of the period.
    with pytest.raises(NotFound):
        await svc.get_allocation(scene.a.ctx("finanzas"), period.id)
    await svc.publish_period(scene.coordinator, period.id)
    for role in ("finanzas", "gestor_entidad"):
        view = await svc.get_allocation(scene.a.ctx(role), period.id)
        assert view.lines and {ln.ruc for ln in view.lines} == {scene.a.entity.ruc}
        assert view.pool_total == Decimal("11500.00")  # the centre's totals are visible
    async with db.transaction(scene.a.ctx("finanzas")) as s:  # no WHERE on purpose
        entities = set((await s.scalars(select(AllocationLine.entity_id))).all())
        participants = set((await s.scalars(select(CostParticipant.entity_id))).all())
        computations = (await s.scalars(select(Computation))).all()
    assert entities == {scene.a.entity.id} and participants == {scene.a.entity.id}
    assert computations == []  # their inputs hold every entity's drivers
    with pytest.raises(NotFound):
        await svc.get_allocation(scene.outsider.ctx("finanzas"), period.id)
    async with db.transaction(scene.outsider.ctx("finanzas")) as s:
        assert (await s.scalars(select(AllocationLine))).all() == []
        assert (await s.scalars(select(CostItem).where(CostItem.period_id == period.id))).all() == []
    # The SGP sees every line of every centre.
    sgp_view = await svc.get_allocation(scene.sgp_ctx, period.id)
    assert {ln.ruc for ln in sgp_view.lines} == {scene.a.entity.ruc, scene.b.entity.ruc, scene.admin.entity.ruc}


async def test_a_participant_cannot_file_an_observation_for_another_entity_or_after_the_window(db, scene):  # noqa: F811
    period, _ = await computed_period(scene)
    published = await svc.publish_period(scene.coordinator, period.id)
    with pytest.raises(Exception, match="row-level security"):
        async with db.transaction(scene.a.ctx("finanzas")) as s:
            s.add(Observation(period_id=period.id, centre_id=period.centre_id, entity_id=scene.b.entity.id,
                              text="en nombre de otra entidad"))
    with pytest.raises(Conflict, match="venció"):
        await svc.file_observation(scene.a.ctx("finanzas"), period.id, "Fuera de plazo, pero lo intento.",
                                   today=published.observations_until + timedelta(days=1))
    with pytest.raises(NotFound):
        await svc.file_observation(scene.outsider.ctx("finanzas"), period.id, "No participo en este centro.")
    obs = await svc.file_observation(scene.b.ctx("finanzas"), period.id, "Ingresamos el 16, no el 15.",
                                     attachment=("acta.pdf", "application/pdf", b"%PDF-1.4 acta"))
    assert await svc.observation_attachment(scene.b.ctx("finanzas"), obs.id) == (
        "acta.pdf", "application/pdf", b"%PDF-1.4 acta")
    with pytest.raises(NotFound):
        await svc.observation_attachment(scene.a.ctx("finanzas"), obs.id)


async def test_an_actual_replacing_an_estimate_becomes_adjustment_lines_in_a_later_open_period(db, scene):  # noqa: F811
    c = scene.coordinator
    period, rent = await computed_period(scene, 5, alquiler="9000.00", estimate=True)
    await svc.publish_period(c, period.id)
    await svc.close_period(c, period.id, early=True)
    june = await svc.open_period(c, scene.admin.centre.id, scene.year, 6)
    with pytest.raises(ValidationFailed, match="periodo posterior"):
        await svc.replace_estimate(c, rent.id, period.id, "9265.00")
    adj = await svc.replace_estimate(c, rent.id, june.id, "9265.00")
    assert adj.amount == Decimal("265.00") and adj.corrects_period_id == period.id and adj.corrects_item_id == rent.id
    view = await svc.get_allocation(c, june.id)
    adjustment_lines = [ln for ln in view.lines if ln.kind == "ajuste"]
    assert sum(ln.amount for ln in adjustment_lines) == Decimal("265.00")
    assert {ln.ruc for ln in adjustment_lines} == {scene.a.entity.ruc, scene.b.entity.ruc, scene.admin.entity.ruc}
    assert all(ln.derivation["corrige"]["costo"] == str(rent.id) for ln in adjustment_lines)
    # The closed period itself did not change.
    closed = await svc.get_allocation(c, period.id)
    assert sum(ln.amount for ln in closed.lines if ln.cost_item_id == rent.id) == Decimal("9000.00")


async def test_an_accepted_observation_becomes_a_credit_for_that_entity_with_the_counterpart_on_the_administrator(db, scene):  # noqa: F811
    c = scene.coordinator
    period, _ = await computed_period(scene, 7)
    await svc.publish_period(c, period.id)
    obs = await svc.file_observation(scene.a.ctx("finanzas"), period.id, "Se nos cobró limpieza de un día cerrado.")
    august = await svc.open_period(c, scene.admin.centre.id, scene.year, 8)
    with pytest.raises(Conflict, match="Solo una observación aceptada"):
        await svc.adjust_for_observation(c, obs.id, august.id, "-50.00", "antes de responder")
    await svc.answer_observation(c, obs.id, "Corresponde: se abonará en agosto.", accept=True)
    with pytest.raises(ValidationFailed, match="periodo posterior"):
        await svc.adjust_for_observation(c, obs.id, period.id, "-50.00", "en el mismo periodo")
    await svc.close_period(c, period.id, early=True)
    await svc.adjust_for_observation(c, obs.id, august.id, "-50.00", "Día de cierre no facturable")
    mine = await svc.get_allocation(scene.a.ctx("finanzas"), period.id)
    assert mine.lines  # the closed period stays visible to the participant
    coordinator_view = await svc.get_allocation(c, august.id)
    amounts = {ln.ruc: ln.amount for ln in coordinator_view.lines}
    assert amounts == {scene.a.entity.ruc: Decimal("-50.00"), scene.admin.entity.ruc: Decimal("50.00")}


async def test_cost_items_import_from_csv_and_xlsx_with_a_report_per_row(db, scene):  # noqa: F811
    c = scene.coordinator
    period = await svc.open_period(c, scene.admin.centre.id, scene.year, 10)
    csv_bytes = ("categoria;descripcion;monto;referencia;tipo\n"
                 "Alquiler;Alquiler del local;9,000.00;F001-1;real\n"
                 "energía;Luz de octubre;1234.5;R-99;estimado\n"
                 "jardineria;Jardines;100.00;;real\n"
                 "agua;Agua;-3.00;;real\n"
                 "limpieza;;50.00;;real\n"
                 "vigilancia;Vigilancia;12.345;;real\n").encode()
    report = await svc.import_items(c, period.id, "costos.csv", csv_bytes)
    assert [(r.row, r.ok) for r in report.rows] == [(2, True), (3, True), (4, False), (5, False), (6, False),
                                                    (7, False)]
    assert "jardineria" in report.rows[2].message and "negativo" in report.rows[3].message
    assert "Describa" in report.rows[4].message and "dos decimales" in report.rows[5].message

    from io import BytesIO

    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["categoria", "descripcion", "monto", "referencia", "tipo"])
    wb.active.append(["vigilancia", "Vigilancia 24 h", 4500, "OS-5", "real"])
    wb.active.append(["agua", "Agua", "abc", "", "real"])
    buffer = BytesIO()
    wb.save(buffer)
    report = await svc.import_items(c, period.id, "costos.xlsx", buffer.getvalue())
    assert [(r.row, r.ok) for r in report.rows] == [(2, True), (3, False)]
    async with db.transaction(c) as s:
        items = (await s.scalars(select(CostItem).where(CostItem.period_id == period.id)
                                 .order_by(CostItem.amount))).all()
    assert [(i.category, i.amount, i.is_estimate) for i in items] == [
        ("energia", Decimal("1234.50"), True), ("vigilancia", Decimal("4500.00"), False),
        ("alquiler", Decimal("9000.00"), False)]
    with pytest.raises(ValidationFailed, match="Faltan columnas"):
        await svc.import_items(c, period.id, "x.csv", b"cat,desc\nagua,1\n")


async def test_the_audit_log_records_each_transition(db, scene):  # noqa: F811
    period, _ = await computed_period(scene, 11)
    await svc.publish_period(scene.coordinator, period.id)
    async with db.transaction(scene.coordinator) as s:
        actions = (await s.scalars(text("SELECT action FROM audit_log WHERE record_id = :id ORDER BY seq"),
                                   {"id": str(period.id)})).all()
    assert actions[0] == "periodo_costos_abierto"
    assert "periodo_costos_calculado" in actions and actions[-1] == "periodo_costos_publicado"
