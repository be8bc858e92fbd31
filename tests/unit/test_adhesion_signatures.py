"""Signatures with pyHanko against a throw-away PKI: what the platform accepts from outside, and the platform's
own seal as a standard validator (poppler's pdfsig) sees it."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from pypdf import PdfReader

from app.adhesion.pdf import FIELD_ADMINISTRADORA, FIELD_ENTIDAD, SIGNATURE_BOXES, render_clause
from app.documents import signing
from tests.adhesion_pki import sign_externally, pki_for_tests
from tests.unit.test_adhesion_pdf import clause

RUC = "20295613620"


@pytest.fixture(scope="module")
def original() -> bytes:
    pdf = render_clause(clause())
    return signing.reserve_signature_fields(pdf, page=len(PdfReader(io.BytesIO(pdf)).pages) - 1, boxes=SIGNATURE_BOXES)


@pytest.fixture(scope="module")
def roots():
    return signing.load_certificates(pki_for_tests().root_pem)


@pytest.fixture(scope="module")
def seal_identity(tmp_path_factory):
    settings = SimpleNamespace(sealing_pkcs12_path=None, sealing_key_path=None, sealing_cert_path=None,
                               sealing_chain_path=None, data_dir=tmp_path_factory.mktemp("sello"))
    return signing.sealing_identity(settings)


async def validate(signed: bytes, original: bytes, roots, ruc: str = RUC):
    return await signing.validate_external_signature(signed, original, field_name=FIELD_ENTIDAD, expected_ruc=ruc,
                                                     trust_roots=roots)


def test_the_issued_document_reserves_one_empty_field_per_party_without_touching_the_pages(original):
    pdf = render_clause(clause())
    assert original.startswith(pdf)
    fields = PdfReader(io.BytesIO(original)).get_fields()
    assert set(fields) == {FIELD_ENTIDAD, FIELD_ADMINISTRADORA}
    assert all(f.get("/V") is None for f in fields.values())


def test_issuing_the_same_document_twice_gives_the_same_bytes(original):
    time.sleep(1.1)  # a later second: no clock may leak into the bytes
    pdf = render_clause(clause())
    again = signing.reserve_signature_fields(pdf, page=len(PdfReader(io.BytesIO(pdf)).pages) - 1,
                                             boxes=SIGNATURE_BOXES)
    assert again == original


async def test_a_signature_by_the_entitys_certificate_is_accepted(original, roots):
    signed = await sign_externally(original, pki_for_tests().entity(RUC), field_name=FIELD_ENTIDAD)
    result = await validate(signed, original, roots)
    assert (result.summary.ruc, result.summary.intact, result.summary.trusted) == (RUC, True, True)
    assert result.summary.level == "PAdES B-B"


async def test_a_certificate_of_another_ruc_is_rejected_naming_the_entitys_ruc(original, roots):
    signed = await sign_externally(original, pki_for_tests().entity("20131312955"), field_name=FIELD_ENTIDAD)
    with pytest.raises(signing.SignatureRejected, match=f"La firma no corresponde al RUC {RUC} de la entidad"):
        await validate(signed, original, roots)


async def test_a_personal_certificate_without_fau_is_rejected(original, roots):
    signed = await sign_externally(original, pki_for_tests().entity(RUC, fau=False), field_name=FIELD_ENTIDAD)
    with pytest.raises(signing.SignatureRejected, match="no indica FAU"):
        await validate(signed, original, roots)


async def test_an_expired_certificate_is_rejected(original, roots):
    signed = await sign_externally(original, pki_for_tests().entity(RUC, expired=True), field_name=FIELD_ENTIDAD)
    with pytest.raises(signing.SignatureRejected, match="venció"):
        await validate(signed, original, roots)


async def test_a_certificate_from_an_untrusted_root_is_rejected(original, roots):
    signed = await sign_externally(original, pki_for_tests().entity(RUC, untrusted=True), field_name=FIELD_ENTIDAD)
    with pytest.raises(signing.SignatureRejected, match="no proviene de una entidad de certificación de confianza"):
        await validate(signed, original, roots)


async def test_signing_another_document_is_rejected(original, roots):
    other = render_clause(clause(code="ADH-0000-0000"))
    other = signing.reserve_signature_fields(other, page=len(PdfReader(io.BytesIO(other)).pages) - 1,
                                             boxes=SIGNATURE_BOXES)
    signed = await sign_externally(other, pki_for_tests().entity(RUC), field_name=FIELD_ENTIDAD)
    with pytest.raises(signing.SignatureRejected, match="no corresponde al documento emitido"):
        await validate(signed, original, roots)


async def test_bytes_tampered_after_signing_are_rejected(original, roots):
    signed = bytearray(await sign_externally(original, pki_for_tests().entity(RUC), field_name=FIELD_ENTIDAD))
    position = len(original) + 40  # inside the signed revision, outside the signature value
    signed[position] = ord("X") if signed[position] != ord("X") else ord("Y")
    with pytest.raises(signing.SignatureRejected):
        await validate(bytes(signed), original, roots)


async def test_a_change_inside_the_signed_bytes_breaks_the_signature(original, roots):
    signed = await sign_externally(original, pki_for_tests().entity(RUC), field_name=FIELD_ENTIDAD)
    # The signed reason is inside the byte range: same length, different content.
    assert signed.count(b"Firma digital de prueba") == 1
    tampered = signed.replace(b"Firma digital de prueba", b"Firma digital de PRUEBA")
    with pytest.raises(signing.SignatureRejected, match="no es íntegra"):
        await validate(tampered, original, roots)


async def test_editing_the_pages_in_the_signing_update_is_rejected(original, roots):
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(original))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Rotate"] = generic.NumberObject(90)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    signed = await sign_externally(out.getvalue(), pki_for_tests().entity(RUC), field_name=FIELD_ENTIDAD)
    with pytest.raises(signing.SignatureRejected):
        await validate(signed, original, roots)


async def test_the_platform_seal_is_valid_in_pdfsig_and_keeps_the_first_signature_valid(original, seal_identity,
                                                                                        tmp_path):
    if shutil.which("pdfsig") is None:
        pytest.fail("pdfsig (poppler-utils) no está instalado: apt-get install -y poppler-utils")
    first = await signing.seal(original, field_name=FIELD_ENTIDAD, identity=seal_identity,
                               stamp_lines=["Firmado electrónicamente por: Ana Quispe (DNI 40000000)",
                                            f"en representación de: RENIEC (RUC {RUC})"], reason="Presentación")
    second = await signing.seal(first.pdf, field_name=FIELD_ADMINISTRADORA, identity=seal_identity,
                                stamp_lines=["Contrafirma: Luis Rojas", "GR Callao"], reason="Aceptación")
    assert second.pdf.startswith(first.pdf) and first.pdf.startswith(original)
    path = Path(tmp_path) / "sellado.pdf"
    path.write_bytes(second.pdf)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60).stdout
    assert out.count("Signature Validation: Signature is Valid.") == 2, out
    assert "Signature Field Name: FirmaEntidad" in out and "Signature Field Name: FirmaAdministradora" in out
    assert "Total document signed" in out
    summaries = await signing.inspect(second.pdf, list(seal_identity.chain_roots))
    assert [(s.field_name, s.intact, s.valid, s.trusted) for s in summaries] == [
        (FIELD_ENTIDAD, True, True, True), (FIELD_ADMINISTRADORA, True, True, True)]


async def test_the_demo_seal_says_it_is_a_demo(seal_identity):
    assert seal_identity.is_demo
    assert "DEMOSTRACIÓN" in seal_identity.label


async def test_with_a_timestamp_authority_and_sealing_level_b_t_the_seal_is_level_b_t(original, seal_identity):
    from pyhanko.sign.timestamps import DummyTimeStamper

    # pyHanko's in-process TSA (RSA only): the demo seal's key stands in for a time-stamping authority.
    # (B-LT, the default with a TSA, and B-LTA: tests/unit/test_long_term_seal.py.)
    stamper = DummyTimeStamper(tsa_cert=seal_identity.signer.signing_cert, tsa_key=seal_identity.signer.signing_key)
    result = await signing.seal(original, field_name=FIELD_ENTIDAD, identity=seal_identity,
                                stamp_lines=["Prueba"], reason="Prueba", timestamper=stamper, level="B-T")
    assert result.level == "PAdES B-T"


@pytest.mark.parametrize("form", ["pem", "pkcs12"])
async def test_the_sealing_key_comes_from_configuration_as_pem_or_pkcs12(form, tmp_path, original):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509 import load_pem_x509_certificate

    issued = pki_for_tests().entity("20168999926", person="SELLO PLATAFORMA MAC")
    chain = tmp_path / "cadena.pem"
    chain.write_bytes(b"".join(issued.chain_pem))
    settings = SimpleNamespace(sealing_pkcs12_path=None, sealing_pkcs12_password=None, sealing_key_path=None,
                               sealing_key_password=None, sealing_cert_path=None, sealing_chain_path=str(chain),
                               data_dir=tmp_path / form)
    if form == "pem":
        (tmp_path / "sello.key").write_bytes(issued.key_pem)
        (tmp_path / "sello.crt").write_bytes(issued.cert_pem)
        settings.sealing_key_path, settings.sealing_cert_path = str(tmp_path / "sello.key"), str(tmp_path / "sello.crt")
    else:
        key = serialization.load_pem_private_key(issued.key_pem, password=None)
        blob = pkcs12.serialize_key_and_certificates(
            b"sello", key, load_pem_x509_certificate(issued.cert_pem), None,
            serialization.BestAvailableEncryption(b"clave-p12"))
        (tmp_path / "sello.p12").write_bytes(blob)
        settings.sealing_pkcs12_path, settings.sealing_pkcs12_password = str(tmp_path / "sello.p12"), "clave-p12"
    identity = signing.sealing_identity(settings)
    assert not identity.is_demo and "SELLO PLATAFORMA MAC" in identity.label
    sealed = await signing.seal(original, field_name=FIELD_ENTIDAD, identity=identity, stamp_lines=["Prueba"],
                                reason="Prueba")
    [summary] = [s for s in await signing.inspect(sealed.pdf, signing.load_certificates(pki_for_tests().root_pem))
                 if s.field_name == FIELD_ENTIDAD]
    assert (summary.intact, summary.valid, summary.trusted) == (True, True, True)
    assert not (tmp_path / form / "sealing").exists()  # no demo certificate when one is configured
