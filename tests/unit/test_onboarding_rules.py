"""The onboarding rules that need no database: the state machine, the PDF check, links and mailbox tickets."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import Conflict, Forbidden, ValidationFailed
from app.tenants.onboarding_models import REGISTRATION_STATES
from app.tenants.onboarding_schemas import (
    APPLICANT,
    MAX_DOCUMENT_BYTES,
    SGP,
    TRANSITIONS,
    check_pdf,
    check_transition,
    mail_markers,
    mailbox_ticket,
    read_mailbox_ticket,
    registration_token,
    roles_for,
    token_hash,
)

SECRET = "secreto-de-pruebas"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF"


def test_the_registration_goes_through_the_states_of_the_issue_and_no_others():
    assert set(TRANSITIONS) == {
        ("pendiente_verificacion_correo", "enviada"), ("enviada", "en_revision"), ("en_revision", "observada"),
        ("observada", "enviada"), ("en_revision", "aprobada"), ("en_revision", "rechazada")}
    assert {s for pair in TRANSITIONS for s in pair} == set(REGISTRATION_STATES)


@given(st.sampled_from(REGISTRATION_STATES), st.sampled_from(REGISTRATION_STATES), st.sampled_from([APPLICANT, SGP]))
def test_every_move_is_either_allowed_to_its_actor_or_refused_with_a_spanish_message(current, target, who):
    allowed = who in TRANSITIONS.get((current, target), frozenset())
    try:
        check_transition(current, target, who, reason="motivo")
    except Conflict as exc:
        assert (current, target) not in TRANSITIONS and "no puede pasar a" in exc.message
    except Forbidden:
        assert (current, target) in TRANSITIONS and not allowed
    else:
        assert allowed


def test_the_applicant_cannot_approve_and_the_sgp_must_say_why_it_observes_or_rejects():
    with pytest.raises(Forbidden):
        check_transition("en_revision", "aprobada", APPLICANT)
    for target in ("observada", "rechazada"):
        with pytest.raises(ValidationFailed, match="Indique el motivo"):
            check_transition("en_revision", target, SGP, "  ")
    check_transition("en_revision", "aprobada", SGP)  # approving needs no reason


def test_a_pdf_is_accepted_with_its_hash_and_a_safe_file_name():
    doc = check_pdf('../"carta"\r\n.pdf', "application/pdf", PDF)
    assert doc.sha256 == hashlib.sha256(PDF).hexdigest() and doc.size == len(PDF)
    assert '"' not in doc.filename and "/" not in doc.filename and "\n" not in doc.filename


@pytest.mark.parametrize(("content_type", "content", "message"), [
    ("application/pdf", b"", "Adjunte el documento"),
    ("application/pdf", b"GIF89a" + PDF, "debe ser un archivo PDF"),
    ("image/png", PDF, "debe ser un archivo PDF"),
    ("application/pdf", PDF + b"0" * MAX_DOCUMENT_BYTES, "el máximo permitido es 5 MB"),
])
def test_a_document_that_is_empty_not_a_pdf_or_too_big_is_refused(content_type, content, message):
    with pytest.raises(ValidationFailed, match=message):
        check_pdf("carta.pdf", content_type, content)


def test_the_coordinator_role_is_offered_only_to_an_entity_that_runs_a_centre():
    assert "coordinador_centro" in roles_for(True) and "coordinador_centro" not in roles_for(False)


def test_a_registration_link_depends_on_the_secret_and_the_salt():
    token = registration_token(SECRET, "id-1", "sal")
    assert token == registration_token(SECRET, "id-1", "sal")
    assert token != registration_token("otro-secreto", "id-1", "sal") != registration_token(SECRET, "id-1", "otra")


def test_a_mailbox_ticket_is_read_back_and_refused_when_altered_or_expired():
    marker = token_hash("t" * 43)
    ticket = mailbox_ticket(SECRET, "Ana@X.gob.pe", marker, now=1_000)
    assert read_mailbox_ticket(SECRET, ticket, now=1_001) == ("ana@x.gob.pe", marker)
    payload, signature = ticket.split(".")
    assert read_mailbox_ticket(SECRET, payload[:-2] + "AA." + signature, now=1_001) is None
    assert read_mailbox_ticket("otro-secreto", ticket, now=1_001) is None
    assert read_mailbox_ticket(SECRET, ticket, now=1_000 + 8 * 86400) is None
    assert read_mailbox_ticket(SECRET, "basura", now=1_001) is None


def test_a_mail_is_matched_by_the_hash_of_the_onboarding_link_it_carries():
    token = "A" * 43
    body = f"Abra http://127.0.0.1:8000/invitacion/{token}\ny http://x/restablecer/{'B' * 43}"
    assert mail_markers(body) == {token_hash(token)}
