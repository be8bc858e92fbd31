"""Documents around an adhesion: signing outside the platform, the sealed constancia, attachments and the
e-mails to whoever must act next."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.adhesion import services
from app.config import get_settings
from app.db import TenantContext, get_database
from app.documents import signing, verification
from app.worker.models import OutgoingEmail
from tests.adhesion_pki import sign_externally, pki_for_tests
from tests.adhesion_world import walk_to, world  # noqa: F401


@pytest.fixture
def trusted_test_root(tmp_path, monkeypatch):
    path = tmp_path / "raiz-iofe-pruebas.pem"
    path.write_bytes(pki_for_tests().root_pem)
    monkeypatch.setattr(get_settings(), "signature_trust_roots", str(path))
    return path


async def test_the_entity_signs_with_its_own_certificate_and_the_platform_accepts_it(world, trusted_test_root):
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    _, issued = await services.issue_for_external_signature(world.gestor, adhesion_id)
    signed = await sign_externally(issued, pki_for_tests().entity(world.participant.entity.ruc), field_name="FirmaEntidad")
    assert await services.upload_signed_pdf(world.gestor, adhesion_id, signed) == "presentada"
    view = await services.get_adhesion(world.gestor, adhesion_id)
    assert [r.kind for r in view.revisions] == ["original", "firma_digital"]
    assert view.revisions[-1].sha256 == verification.sha256_hex(signed)
    event = next(e for e in view.events if e.to_state == "presentada")
    assert event.details["firma"] == "digital" and world.participant.entity.ruc in event.details["certificado"]


async def test_a_certificate_of_another_ruc_is_refused_and_nothing_changes(world, trusted_test_root):
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    _, issued = await services.issue_for_external_signature(world.gestor, adhesion_id)
    signed = await sign_externally(issued, pki_for_tests().entity("20131312955"), field_name="FirmaEntidad")
    with pytest.raises(signing.SignatureRejected,
                       match=f"La firma no corresponde al RUC {world.participant.entity.ruc} de la entidad"):
        await services.upload_signed_pdf(world.gestor, adhesion_id, signed)
    assert (await services.get_adhesion(world.gestor, adhesion_id)).adhesion.state == "borrador"


async def test_the_countersignature_must_extend_the_document_the_entity_signed(world, trusted_test_root):
    adhesion_id = await walk_to(world, "opinion_favorable")
    _, current = await services.issue_for_external_signature(world.coordinador, adhesion_id)
    # Signed on the bare original instead of the entity-signed revision: another document.
    view = await services.get_adhesion(world.coordinador, adhesion_id)
    async with get_database().transaction(world.coordinador.ctx()) as s:
        from app.documents.models import DocumentRevision
        original = (await s.execute(select(DocumentRevision.content).where(
            DocumentRevision.document_id == view.documents[-1].id, DocumentRevision.number == 0))).scalar_one()
    wrong = await sign_externally(original, pki_for_tests().entity(world.administrator.entity.ruc),
                                  field_name="FirmaAdministradora")
    with pytest.raises(signing.SignatureRejected, match="no corresponde al documento emitido"):
        await services.upload_signed_pdf(world.coordinador, adhesion_id, wrong, start_date=services.today_lima())
    right = await sign_externally(current, pki_for_tests().entity(world.administrator.entity.ruc),
                                  field_name="FirmaAdministradora")
    assert await services.upload_signed_pdf(world.coordinador, adhesion_id, right,
                                            start_date=services.today_lima()) == "vigente"
    _, final = await services.document_pdf(world.gestor, adhesion_id)
    assert [name for name, f in PdfReader(io.BytesIO(final)).get_fields().items() if f.get("/V")] == \
        ["FirmaEntidad", "FirmaAdministradora"]


async def test_the_constancia_lists_every_step_and_hash_and_is_sealed(world, tmp_path):
    adhesion_id = await walk_to(world, "vigente")
    _, pdf = await services.evidence_pdf(world.gestor, adhesion_id)
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    view = await services.get_adhesion(world.gestor, adhesion_id)
    for revision in view.revisions:
        assert revision.sha256[:40] in text.replace("\n", "")
    assert "203.0.113.7" in text and "contrasena" in text
    if shutil.which("pdfsig"):
        (tmp_path / "constancia.pdf").write_bytes(pdf)
        out = subprocess.run(["pdfsig", str(tmp_path / "constancia.pdf")], capture_output=True, text=True).stdout
        assert "Signature is Valid" in out


async def test_attachments_are_checked_for_size_and_type(world):
    adhesion_id = await walk_to(world, "en_evaluacion")
    fake_pdf = services.Upload("informe.pdf", "application/pdf", b"MZ\x90\x00 not a pdf")
    with pytest.raises(services.ValidationFailed, match="PDF, PNG o JPEG"):
        await services.transition(world.coordinador, adhesion_id, "observar", reason="x", attachment=fake_pdf)
    too_big = services.Upload("informe.pdf", "application/pdf", b"%PDF-" + b"0" * services.MAX_ATTACHMENT_BYTES)
    with pytest.raises(services.ValidationFailed, match="5 MB"):
        await services.transition(world.coordinador, adhesion_id, "observar", reason="x", attachment=too_big)
    good = services.Upload("informe.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n")
    await services.transition(world.coordinador, adhesion_id, "observar", reason="Ver informe", attachment=good)
    view = await services.get_adhesion(world.gestor, adhesion_id)
    assert [a.filename for a in view.attachments] == ["informe.pdf"]
    stored = await services.attachment_file(world.gestor, adhesion_id, view.attachments[0].id)
    assert stored.content == good.content


async def test_whoever_must_act_next_gets_an_email(world, db):
    adhesion_id = await walk_to(world, "pendiente_opinion_sgp")
    async with db.transaction(TenantContext.system()) as s:
        rows = (await s.execute(select(OutgoingEmail.to_address, OutgoingEmail.subject))).all()
    to_coordinator = [subject for to, subject in rows if to == world.administrator.users["coordinador_centro"].email]
    to_sgp = [subject for to, subject in rows if to == world.sgp.users["supervisor_sgp"].email]
    assert any("Presentada" in s for s in to_coordinator)
    assert any("Pendiente de opinión de la SGP" in s for s in to_sgp)
    # The outsider is never written to.
    assert not [to for to, _ in rows if to in {u.email for u in world.outsider.users.values()}]


async def test_the_preview_is_byte_for_byte_the_document_that_gets_signed(world):
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    _, preview = await services.preview_pdf(world.gestor, adhesion_id)
    await services.sign_in_platform(world.gestor, adhesion_id, password="Firma-Segura-2026")
    view = await services.get_adhesion(world.gestor, adhesion_id)
    original = next(r for r in view.revisions if r.number == 0)
    assert original.sha256 == verification.sha256_hex(preview)
    _, signed = await services.document_pdf(world.gestor, adhesion_id)
    assert signed.startswith(preview)


async def test_a_document_issued_for_signature_is_replaced_when_the_data_changes(world):
    adhesion_id = await services.create_adhesion(world.gestor, world.draft())
    _, issued = await services.issue_for_external_signature(world.gestor, adhesion_id)
    await services.update_adhesion(world.gestor, adhesion_id, world.draft(modules=5))
    _, reissued = await services.issue_for_external_signature(world.gestor, adhesion_id)
    assert reissued != issued
    await services.sign_in_platform(world.gestor, adhesion_id, password="Firma-Segura-2026")
    _, signed = await services.document_pdf(world.gestor, adhesion_id)
    assert signed.startswith(reissued) and not signed.startswith(issued)
