"""The adhesion state machine: a table, one guard, and SGP gates that no other party can go around."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.adhesion import states
from app.errors import Conflict, Forbidden

PARTIES = (states.ENTIDAD, states.ADMINISTRADORA, states.SGP, states.SISTEMA, None)


def test_every_state_of_the_domain_brief_is_in_the_table_and_reachable_from_borrador():
    reachable, frontier = {states.BORRADOR}, [states.BORRADOR]
    while frontier:
        source = frontier.pop()
        for t in states.TRANSITIONS:
            if t.source == source and t.target not in reachable:
                reachable.add(t.target)
                frontier.append(t.target)
    assert reachable == set(states.STATES)
    assert len(states.STATES) == 15


def test_only_the_sgp_leads_into_its_gates():
    into_gates = [t for t in states.TRANSITIONS if t.target in states.SGP_GATE_TARGETS]
    assert into_gates and all(t.party == states.SGP for t in into_gates)


def test_acceptance_comes_only_after_a_favourable_opinion_and_with_a_signature():
    into_accepted = [t for t in states.TRANSITIONS if t.target == states.ACEPTADA]
    assert [(t.source, t.party, t.needs_signature) for t in into_accepted] == \
        [(states.OPINION_FAVORABLE, states.ADMINISTRADORA, True)]


@pytest.mark.parametrize("party", [p for p in PARTIES if p != states.SGP])
@pytest.mark.parametrize("state", states.STATES)
@pytest.mark.parametrize("action", ["opinar_favorable", "opinar_desfavorable", "terminar"])
def test_no_other_party_can_give_the_sgp_opinion_from_any_state(party, state, action):
    with pytest.raises((Conflict, Forbidden)):
        states.check(action, state, party)


def test_an_illegal_step_says_what_is_possible():
    with pytest.raises(Conflict, match="Desde «Borrador» solo cabe: Firmar y presentar"):
        states.check("aceptar", states.BORRADOR, states.ADMINISTRADORA)
    with pytest.raises(Conflict, match="es un estado final"):
        states.check("suspender", states.TERMINADA, states.ADMINISTRADORA)
    with pytest.raises(Forbidden, match="Secretaría de Gestión Pública"):
        states.check("opinar_favorable", states.PENDIENTE_OPINION_SGP, states.ADMINISTRADORA)


def test_parties_come_from_the_role_and_the_entity():
    participant, administrator, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    kw = {"participant_id": participant, "administering_id": administrator}
    assert states.party_of(role="gestor_entidad", entity_id=participant, **kw) == states.ENTIDAD
    assert states.party_of(role="gestor_entidad", entity_id=other, **kw) is None
    assert states.party_of(role="coordinador_centro", entity_id=administrator, **kw) == states.ADMINISTRADORA
    assert states.party_of(role="coordinador_centro", entity_id=participant, **kw) is None
    assert states.party_of(role="finanzas", entity_id=participant, **kw) is None
    assert states.party_of(role="administrador_plataforma", entity_id=other, **kw) is None
    assert states.party_of(role="supervisor_sgp", entity_id=other, **kw) == states.SGP


@given(st.lists(st.tuples(st.sampled_from(states.ACTIONS), st.sampled_from(PARTIES)), max_size=40))
def test_any_sequence_of_attempts_reaches_acceptance_only_through_the_sgp(attempts):
    state, sgp_said_yes = states.BORRADOR, False
    for action, party in attempts:
        try:
            t = states.check(action, state, party)
        except (Conflict, Forbidden):
            continue
        if t.target == states.OPINION_FAVORABLE:
            assert party == states.SGP
            sgp_said_yes = True
        if t.target == states.ACEPTADA:
            assert sgp_said_yes and state == states.OPINION_FAVORABLE
        if t.target == states.TERMINADA:
            assert party == states.SGP
        state = t.target
