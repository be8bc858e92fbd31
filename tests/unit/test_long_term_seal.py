"""The platform's seal at PAdES B-LT and B-LTA: with a timestamp authority the document carries, in its DSS, the
certificate chain and the CA's CRL, so it can still be validated when the CA's services are gone; with
SEALING_LEVEL=B-LTA a document timestamp covers that DSS. Without a TSA the seal stays B-B.

Real artefacts only: the demo sealing CA (and the CRL it signs) under a temporary DATA_DIR, pyHanko's
DummyTimeStamper (a real RFC 3161 TSA in-process, certified by the demo CA) and, for the statements' path that
only knows TSA_URL, the same TSA behind a local HTTP endpoint; poppler's pdfsig as an independent validator."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.validation import async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import extract_contents
from pypdf import PdfReader

from app.adhesion.pdf import FIELD_ADMINISTRADORA, FIELD_ENTIDAD, SIGNATURE_BOXES, render_clause
from app.documents import signing
from tests.unit.test_adhesion_pdf import clause


def demo_settings(data_dir: Path, **extra) -> SimpleNamespace:
    return SimpleNamespace(sealing_pkcs12_path=None, sealing_key_path=None, sealing_cert_path=None,
                           sealing_chain_path=None, signature_trust_roots=None, data_dir=data_dir, **extra)


def demo_tsa(identity: signing.SealingIdentity) -> DummyTimeStamper:
    """A time-stamping authority certified by the demo CA (extended key usage timeStamping), as pyHanko requires
    of a TSA whose validation data goes into the DSS."""
    folder = identity.demo_dir
    ca = x509.load_pem_x509_certificate((folder / "demo-ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((folder / "demo-ca.key").read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC) - timedelta(minutes=5)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TSA de demostración")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + timedelta(days=365))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))


@pytest.fixture(scope="module")
def identity(tmp_path_factory) -> signing.SealingIdentity:
    return signing.sealing_identity(demo_settings(tmp_path_factory.mktemp("sello-lt")))


@pytest.fixture(scope="module")
def tsa(identity) -> DummyTimeStamper:
    return demo_tsa(identity)


@pytest.fixture(scope="module")
def original() -> bytes:
    pdf = render_clause(clause())
    return signing.reserve_signature_fields(pdf, page=len(PdfReader(io.BytesIO(pdf)).pages) - 1, boxes=SIGNATURE_BOXES)


async def seal(pdf: bytes, identity, field: str = FIELD_ENTIDAD, **kwargs) -> signing.SealResult:  # noqa: ANN001
    return await signing.seal(pdf, field_name=field, identity=identity, stamp_lines=["Prueba de sello"],
                              reason="Prueba", **kwargs)


def dss_of(pdf: bytes) -> tuple[set[bytes], list[bytes], list[bytes]]:
    """Certificates (DER), CRLs and OCSP answers in the document's DSS."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    dss = DocumentSecurityStore.read_dss(reader)
    return ({c.dump() for c in dss.load_certs()}, [ref.get_object().data for ref in dss.crls],
            [ref.get_object().data for ref in dss.ocsps])


def pem_to_der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)


def pdfsig(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdfsig") is None:
        pytest.fail("pdfsig (poppler-utils) no está instalado: apt-get install -y poppler-utils")
    path = tmp_path / "sellado.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60).stdout


async def test_with_a_tsa_the_seal_is_b_lt_with_the_ca_certificate_and_its_crl_in_the_dss(identity, tsa, original):
    sealed = await seal(original, identity, timestamper=tsa)

    assert sealed.level == "PAdES B-LT"
    assert sealed.pdf.startswith(original)
    certs, crls, _ = dss_of(sealed.pdf)
    folder = identity.demo_dir
    assert pem_to_der(folder / "demo-ca.crt") in certs and identity.certificate.dump() in certs
    assert crls == [(folder / "demo-ca.crl").read_bytes()]  # the CRL the demo CA signed, as issued
    crl = x509.load_der_x509_crl(crls[0])
    ca = x509.load_pem_x509_certificate((folder / "demo-ca.crt").read_bytes())
    assert crl.is_signature_valid(ca.public_key()) and crl.next_update_utc > datetime.now(UTC)
    reader = PdfFileReader(io.BytesIO(sealed.pdf), strict=False)
    [sig] = reader.embedded_regular_signatures
    assert signing._has_signature_timestamp(sig)  # B-T underneath
    assert reader.embedded_timestamp_signatures == []  # no archive timestamp at B-LT


async def test_b_lta_adds_a_valid_document_timestamp_over_the_dss(identity, tsa, original):
    sealed = await seal(original, identity, timestamper=tsa, level="B-LTA")

    assert sealed.level == "PAdES B-LTA"
    reader = PdfFileReader(io.BytesIO(sealed.pdf), strict=False)
    [sig] = reader.embedded_regular_signatures
    [doc_ts] = reader.embedded_timestamp_signatures
    assert doc_ts.signed_revision > sig.signed_revision
    assert "/DSS" in reader.get_historical_root(doc_ts.signed_revision)  # the timestamp covers the DSS
    status = await async_validate_pdf_timestamp(doc_ts, validation_context=signing._context(
        list(identity.chain_roots), None, reader))
    assert status.intact and status.valid and status.trusted


async def test_sealing_level_b_t_keeps_the_seal_at_b_t(identity, tsa, original):
    sealed = await seal(original, identity, timestamper=tsa, level="B-T")
    assert sealed.level == "PAdES B-T"
    assert b"/DSS" not in sealed.pdf[len(original):]


@pytest.mark.parametrize("asked", [None, "B-LT", "B-LTA"])
async def test_without_a_tsa_the_seal_stays_b_b_whatever_level_is_asked(identity, original, asked):
    sealed = await seal(original, identity, level=asked)
    assert sealed.level == "PAdES B-B"
    assert b"/DSS" not in sealed.pdf[len(original):]


async def test_both_parties_sealed_at_b_lta_are_valid_in_pdfsig_and_in_the_verification(identity, tsa, original,
                                                                                          tmp_path):
    first = await seal(original, identity, timestamper=tsa, level="B-LTA")
    second = await seal(first.pdf, identity, FIELD_ADMINISTRADORA, timestamper=tsa, level="B-LTA")
    assert second.pdf.startswith(first.pdf) and second.level == "PAdES B-LTA"

    report = pdfsig(second.pdf, tmp_path)
    assert report.count("Signature Validation: Signature is Valid.") == 2, report
    assert "Signature Field Name: FirmaEntidad" in report and "Signature Field Name: FirmaAdministradora" in report

    summaries = await signing.inspect(second.pdf, list(identity.chain_roots))
    assert [(s.field_name, s.intact, s.valid, s.trusted, s.level, s.problems) for s in summaries] == [
        (FIELD_ENTIDAD, True, True, True, "PAdES B-LTA", ()),
        (FIELD_ADMINISTRADORA, True, True, True, "PAdES B-LTA", ())]


async def test_the_verification_reports_b_lt_b_t_and_b_b_as_found_in_the_file(identity, tsa, original):
    found = {}
    for asked, timestamper in (("B-LT", tsa), ("B-T", tsa), (None, None)):
        sealed = await seal(original, identity, timestamper=timestamper, level=asked)
        [summary] = [s for s in await signing.inspect(sealed.pdf, list(identity.chain_roots))
                     if s.field_name == FIELD_ENTIDAD]
        assert (summary.intact, summary.valid, summary.trusted) == (True, True, True)
        found[asked] = summary.level
    assert found == {"B-LT": "PAdES B-LT", "B-T": "PAdES B-T", None: "PAdES B-B"}


async def test_the_verification_checks_the_seal_against_the_crls_the_document_carries(identity, tsa, original,
                                                                                       tmp_path):
    sealed = await seal(original, identity, timestamper=tsa)
    # The CA later publishes that the seal's key was compromised before it sealed: a CRL added to the DSS
    # (an LTV update, allowed after signing) must make the seal untrusted.
    other = tmp_path / "ca"
    other.mkdir()
    for name in ("demo-ca.crt", "demo-ca.key"):
        shutil.copy(identity.demo_dir / name, other / name)
    revoked = signing.write_demo_crl(other, revoked_serials=(identity.certificate.serial_number,),
                                     revoked_at=datetime.now(UTC) - timedelta(hours=1))
    reader = PdfFileReader(io.BytesIO(sealed.pdf), strict=False)
    out = io.BytesIO(sealed.pdf)
    DocumentSecurityStore.add_dss(out, extract_contents(reader.embedded_regular_signatures[0].sig_object),
                                  crls=[asn1_crl.CertificateList.load(revoked.read_bytes())])
    [summary] = await signing.inspect(out.getvalue(), list(identity.chain_roots))
    assert (summary.intact, summary.valid) == (True, True)
    assert summary.trusted is False


async def test_a_seal_whose_certificate_the_demo_ca_revoked_cannot_seal_at_b_lt(tmp_path, original):
    revoked = signing.sealing_identity(demo_settings(tmp_path))
    tsa = demo_tsa(revoked)
    signing.write_demo_crl(revoked.demo_dir, revoked_serials=(revoked.certificate.serial_number,))
    with pytest.raises(signing.SealingFailed, match="No se pudo sellar el documento.*revoked"):
        await seal(original, revoked, timestamper=tsa)


# --- The statements' path only knows TSA_URL: the same TSA over HTTP (RFC 3161 transport) -----------------


class _TsaHandler(BaseHTTPRequestHandler):
    stamper: DummyTimeStamper

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
        response = asyncio.run(self.stamper.async_request_tsa_response(request)).dump()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(response)))
        self.end_headers()
        self.wfile.write(response)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@contextmanager
def http_tsa(stamper: DummyTimeStamper):  # noqa: ANN201
    """``stamper`` answering RFC 3161 requests over HTTP on a local port; yields its URL (for TSA_URL)."""
    handler = type("Handler", (_TsaHandler,), {"stamper": stamper})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def tsa_url(tsa):  # noqa: ANN001, ANN201
    with http_tsa(tsa) as url:
        yield url


@pytest.mark.parametrize(("level", "expected"), [(None, "PAdES B-LT"), ("B-LTA", "PAdES B-LTA"),
                                                 ("B-T", "PAdES B-T")])
def test_a_statement_sealed_with_tsa_url_records_the_level_it_reaches(identity, tsa_url, level, expected, tmp_path):
    from app.billing_reports.generation import SEAL_FIELD, seal_pdf

    settings = demo_settings(identity.demo_dir.parent, tsa_url=tsa_url, sealing_level=level,
                             sealing_pkcs12_password=None, sealing_key_password=None)
    data = SimpleNamespace(number="EC-2026-0001", period_label="marzo de 2026",
                           participant=SimpleNamespace(ruc="20295613620"))
    sealed = seal_pdf(render_clause(clause()), data, settings)
    assert sealed.level == expected
    report = pdfsig(sealed.pdf, tmp_path)
    assert f"Signature Field Name: {SEAL_FIELD}" in report and "Signature is Valid." in report


async def test_a_demo_folder_from_before_the_ca_kept_its_key_gets_a_new_demo_ca_and_old_seals_stay_trusted(
        tmp_path, original):
    settings = demo_settings(tmp_path)
    old = signing._load_identity(settings)
    sealed = await seal(original, old)
    (tmp_path / "sealing" / "demo-ca.key").unlink()  # as DATA_DIR/sealing was before this change

    new = signing._load_identity(settings)

    assert new.certificate.dump() != old.certificate.dump()
    assert (new.demo_dir / "demo-ca.key").exists()
    [summary] = [s for s in await signing.inspect(sealed.pdf, list(new.chain_roots)) if s.field_name == FIELD_ENTIDAD]
    assert (summary.intact, summary.valid, summary.trusted) == (True, True, True)
