"""PAdES signatures with pyHanko: the platform's seal, reserved signature fields, and the validation of PDFs
signed outside the platform (FIRMA PERÚ or any IOFE certificate).

Shared by every domain that issues signed documents (adhesions, statements). No database here; the only
files touched are the configured key material and, for the embedded/demo run, a demo sealing certificate
generated once under ``DATA_DIR/sealing`` and labelled as such everywhere it shows.

Rules kept here:
- every change to a document is an incremental update: the original bytes are always a prefix of the result,
  so earlier signatures stay valid in any reader;
- a signed upload is accepted only if its bytes start with the exact document the platform issued and the
  only change after it is the party's signature in its reserved field (pyHanko's difference analysis);
- the signer's certificate must chain to the configured trust roots, be valid now (we cannot trust a
  self-declared signing time without a timestamp) and carry the entity's RUC (``FAU <RUC>`` in the subject).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, SuspiciousModification
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from app.errors import ValidationFailed

DEMO_LABEL = "SELLO DE DEMOSTRACIÓN (sin valor legal)"


# --- Trust roots and key material -----------------------------------------------------------------------------


def load_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """Every certificate in a PEM bundle or a single DER certificate."""
    if asn1_pem.detect(data):
        return [asn1_x509.Certificate.load(der) for kind, _, der in asn1_pem.unarmor(data, multiple=True)
                if kind == "CERTIFICATE"]
    return [asn1_x509.Certificate.load(data)]


def load_trust_roots(spec: str | None) -> list[asn1_x509.Certificate]:
    """Certificates from files or directories listed in ``spec`` (separated by commas or the path separator)."""
    roots: list[asn1_x509.Certificate] = []
    for part in re.split(rf"[,{re.escape(os.pathsep)}]", spec or ""):
        part = part.strip()
        if not part:
            continue
        path = Path(part)
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for file in files:
            roots.extend(load_certificates(file.read_bytes()))
    return roots


@dataclass(frozen=True)
class SealingIdentity:
    """The platform's sealing key and certificate, and the roots its chain ends in."""

    signer: signers.SimpleSigner
    certificate: asn1_x509.Certificate
    chain_roots: tuple[asn1_x509.Certificate, ...]
    is_demo: bool

    @property
    def label(self) -> str:
        return self.certificate.subject.native.get("common_name", "Sello de la Plataforma MAC")


_identity_lock = threading.Lock()
_identity_cache: dict[tuple, SealingIdentity] = {}


def sealing_identity(settings) -> SealingIdentity:  # noqa: ANN001
    """The configured seal (PKCS#12, or PEM key + certificate), else the demo seal under DATA_DIR."""
    key = (settings.sealing_pkcs12_path, settings.sealing_key_path, settings.sealing_cert_path,
           str(settings.data_dir))
    with _identity_lock:
        if key not in _identity_cache:
            _identity_cache[key] = _load_identity(settings)
        return _identity_cache[key]


def _load_identity(settings) -> SealingIdentity:  # noqa: ANN001
    chain = load_trust_roots(settings.sealing_chain_path) if settings.sealing_chain_path else []
    if settings.sealing_pkcs12_path:
        password = settings.sealing_pkcs12_password.encode() if settings.sealing_pkcs12_password else None
        signer = signers.SimpleSigner.load_pkcs12(settings.sealing_pkcs12_path, passphrase=password,
                                                  other_certs=chain)
        is_demo = False
    elif settings.sealing_key_path and settings.sealing_cert_path:
        password = settings.sealing_key_password.encode() if settings.sealing_key_password else None
        signer = signers.SimpleSigner.load(settings.sealing_key_path, settings.sealing_cert_path,
                                           key_passphrase=password, other_certs=chain)
        is_demo = False
    else:
        key_path, cert_path, ca_path = ensure_demo_sealing_certificate(Path(settings.data_dir))
        ca = load_certificates(ca_path.read_bytes())
        signer = signers.SimpleSigner.load(str(key_path), str(cert_path), other_certs=ca)
        chain = ca
        is_demo = True
    if signer is None:
        raise RuntimeError("No se pudo cargar el certificado de sello de la plataforma (revise SEALING_*)")
    roots = tuple(c for c in [*chain, signer.signing_cert] if c.self_signed == "maybe" or c.self_signed == "yes")
    return SealingIdentity(signer=signer, certificate=signer.signing_cert, chain_roots=roots or (signer.signing_cert,),
                           is_demo=is_demo)


def ensure_demo_sealing_certificate(data_dir: Path) -> tuple[Path, Path, Path]:
    """A demo CA and a sealing certificate issued by it, generated on first use and kept in DATA_DIR."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    folder = data_dir / "sealing"
    key_path, cert_path, ca_path = folder / "demo-seal.key", folder / "demo-seal.crt", folder / "demo-ca.crt"
    if key_path.exists() and cert_path.exists() and ca_path.exists():
        return key_path, cert_path, ca_path
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "PE"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Plataforma MAC (demostración)"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "CA de demostración de la Plataforma MAC")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "PE"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Plataforma MAC (demostración)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"Plataforma MAC · {DEMO_LABEL}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path, ca_path


def timestamper_for(tsa_url: str | None) -> timestamps.TimeStamper | None:
    return timestamps.HTTPTimeStamper(tsa_url) if tsa_url else None


# --- Reserving fields and sealing ------------------------------------------------------------------------------


REPRODUCIBLE_DATE = datetime(2000, 1, 1, tzinfo=UTC)  # reportlab's invariant mode uses the same date


class _ReproducibleWriter(IncrementalPdfFileWriter):
    """pyHanko stamps /ModDate with the current time on every update; an issued document must be reproducible
    (its date is printed in its text), so the metadata date is fixed like reportlab's invariant mode."""

    def _update_meta(self) -> None:
        super()._update_meta()
        if self._info is not None:
            from pyhanko.pdf_utils.metadata.info import update_info_dict

            self._meta.last_modified = REPRODUCIBLE_DATE
            update_info_dict(self._meta, self._info.get_object(), only_update_existing=True)


def reserve_signature_fields(pdf: bytes, *, page: int, boxes: dict[str, tuple[int, int, int, int]]) -> bytes:
    """Add one empty signature field per party, as an incremental update (page content is untouched).
    The same input always gives the same bytes."""
    writer = _ReproducibleWriter(io.BytesIO(pdf))
    # pyHanko gives each update a random second /ID; derive it from the content instead, so issuing the same
    # document twice gives the same bytes (the preview a person reads is exactly what is later signed).
    first_id = writer.document_id[0]
    writer._document_id = generic.ArrayObject([  # noqa: SLF001 - no public setter in pyHanko 0.38
        generic.ByteStringObject(first_id), generic.ByteStringObject(hashlib.sha256(pdf).digest()[:16])])
    for name, box in boxes.items():
        fields.append_signature_field(writer, fields.SigFieldSpec(sig_field_name=name, on_page=page, box=box))
    # SignaturesExist | AppendOnly from the start: signing later changes nothing but the field itself.
    acroform = writer.root["/AcroForm"]
    acroform["/SigFlags"] = generic.NumberObject(3)
    writer.update_container(acroform)
    out = io.BytesIO()
    writer.write(out)
    return pdf + out.getvalue()[len(pdf):] if out.getvalue().startswith(pdf) else out.getvalue()


def level_of(*, timestamped: bool, has_dss: bool = False, has_doc_timestamp: bool = False) -> str:
    if has_doc_timestamp and has_dss:
        return "PAdES B-LTA"
    if has_dss and timestamped:
        return "PAdES B-LT"
    return "PAdES B-T" if timestamped else "PAdES B-B"


@dataclass(frozen=True)
class SealResult:
    pdf: bytes
    level: str
    signed_at: datetime


async def seal(pdf: bytes, *, field_name: str, identity: SealingIdentity, stamp_lines: list[str],
               reason: str, location: str = "Plataforma MAC", tsa_url: str | None = None,
               timestamper: timestamps.TimeStamper | None = None, signer_name: str | None = None) -> SealResult:
    """Sign ``field_name`` (which must already exist) with the platform's seal; returns the new bytes.

    The visible block shows ``stamp_lines`` (who signed, for whom) and the signing time.
    """
    timestamper = timestamper or timestamper_for(tsa_url)
    text = "\n".join([*stamp_lines, "Fecha: %(ts)s"])
    if identity.is_demo:
        text += "\n" + DEMO_LABEL
    style = TextStampStyle(stamp_text=text, text_box_style=TextBoxStyle(font_size=7), border_width=1,
                           timestamp_format="%d/%m/%Y %H:%M:%S UTC")
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256", reason=reason,
                                        location=location, subfilter=SigSeedSubFilter.PADES,
                                        name=signer_name)
    pdf_signer = signers.PdfSigner(meta, identity.signer, timestamper=timestamper, stamp_style=style)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await pdf_signer.async_sign_pdf(writer, existing_fields_only=True)
    data = out.getvalue()
    if not data.startswith(pdf):  # never happens with an incremental writer; guard the invariant anyway
        raise RuntimeError("La firma alteró revisiones anteriores del documento")
    return SealResult(pdf=data, level=level_of(timestamped=timestamper is not None), signed_at=datetime.now(UTC))


async def seal_new_field(pdf: bytes, *, field_name: str, identity: SealingIdentity, reason: str,
                         tsa_url: str | None = None) -> SealResult:
    """Seal a document that has no reserved field (e.g. a constancia): an invisible signature field is added."""
    timestamper = timestamper_for(tsa_url)
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256", reason=reason,
                                        location="Plataforma MAC", subfilter=SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await signers.PdfSigner(meta, identity.signer, timestamper=timestamper).async_sign_pdf(writer)
    return SealResult(pdf=out.getvalue(), level=level_of(timestamped=timestamper is not None),
                      signed_at=datetime.now(UTC))


# --- Reading certificates ------------------------------------------------------------------------------------

_FAU = re.compile(r"FAU\s*[:\-]?\s*(\d{11})", re.IGNORECASE)
_VATPE = re.compile(r"(?:VATPE|RUC)\s*[:\-]?\s*(\d{11})", re.IGNORECASE)


def subject_values(cert: asn1_x509.Certificate) -> list[str]:
    values: list[str] = []
    for rdn in cert.subject.chosen:
        for attr in rdn:
            value = attr["value"].native
            values.append(str(value))
    return values


def ruc_from_certificate(cert: asn1_x509.Certificate) -> str | None:
    """The RUC a legal-person certificate names: ``FAU 20131312955 ...`` (as FIRMA PERÚ and RENIEC issue them),
    or an organisationIdentifier ``VATPE-20131312955``."""
    for value in subject_values(cert):
        match = _FAU.search(value) or _VATPE.search(value)
        if match:
            return match.group(1)
    return None


def signer_name(cert: asn1_x509.Certificate) -> str:
    subject = cert.subject.native
    return subject.get("common_name") or subject.get("organization_name") or cert.subject.human_friendly


# --- Validating ---------------------------------------------------------------------------------------------------


class SignatureRejected(ValidationFailed):
    code = "firma_rechazada"


@dataclass(frozen=True)
class SignatureSummary:
    field_name: str
    signer: str
    ruc: str | None
    signed_at: datetime | None
    intact: bool
    valid: bool
    trusted: bool
    level: str
    covers_whole_file: bool
    modification_level: str
    problems: tuple[str, ...] = field(default_factory=tuple)


def _context(trust_roots: list[asn1_x509.Certificate], moment: datetime | None) -> ValidationContext:
    return ValidationContext(trust_roots=trust_roots, allow_fetching=False, revocation_mode="soft-fail",
                             moment=moment)


def _reader(pdf: bytes) -> PdfFileReader:
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        _ = reader.root
        return reader
    except Exception as exc:  # noqa: BLE001 - anything unreadable is "not a PDF" to the user
        raise SignatureRejected("El archivo no es un PDF válido o está dañado.") from exc


async def summarise(sig, trust_roots: list[asn1_x509.Certificate], moment: datetime | None = None,  # noqa: ANN001
                    skip_diff: bool = False) -> SignatureSummary:
    problems: list[str] = []
    cert = sig.signer_cert
    try:
        status = await async_validate_pdf_signature(sig, signer_validation_context=_context(trust_roots, moment),
                                                    skip_diff=skip_diff)
    except Exception as exc:  # noqa: BLE001 - a malformed signature is reported, not raised
        return SignatureSummary(field_name=sig.field_name, signer=signer_name(cert), ruc=ruc_from_certificate(cert),
                                signed_at=sig.self_reported_timestamp, intact=False, valid=False, trusted=False,
                                level="desconocido", covers_whole_file=False, modification_level="desconocido",
                                problems=(f"La firma no se pudo validar: {exc}",))
    timestamped = status.timestamp_validity is not None
    signed_at = status.timestamp_validity.timestamp if timestamped else status.signer_reported_dt
    mod = getattr(status, "modification_level", None)
    coverage = getattr(status, "coverage", None)
    return SignatureSummary(
        field_name=sig.field_name, signer=signer_name(cert), ruc=ruc_from_certificate(cert), signed_at=signed_at,
        intact=bool(status.intact), valid=bool(status.valid), trusted=bool(status.trusted),
        level=level_of(timestamped=timestamped),
        covers_whole_file=coverage is not None and coverage.name == "ENTIRE_FILE",
        modification_level=mod.name if mod is not None else "desconocido", problems=tuple(problems))


async def inspect(pdf: bytes, trust_roots: list[asn1_x509.Certificate]) -> list[SignatureSummary]:
    """Every signature in a PDF, validated against ``trust_roots`` (for the public verification page)."""
    reader = _reader(pdf)
    return [await summarise(sig, trust_roots) for sig in reader.embedded_signatures]


@dataclass(frozen=True)
class ExternalSignature:
    summary: SignatureSummary
    certificate_subject: str
    certificate_serial: str
    certificate_issuer: str


async def validate_external_signature(signed: bytes, original: bytes, *, field_name: str, expected_ruc: str,
                                      trust_roots: list[asn1_x509.Certificate],
                                      now: datetime | None = None) -> ExternalSignature:
    """Accept ``signed`` as ``original`` signed in ``field_name`` by a certificate of ``expected_ruc``, or
    raise :class:`SignatureRejected` with the precise reason."""
    now = now or datetime.now(UTC)
    reader = _reader(signed)
    if not signed.startswith(original):
        raise SignatureRejected(
            "El PDF no corresponde al documento emitido por la plataforma: su contenido difiere del original "
            "(¿otro documento, otra versión o un archivo modificado?). Descargue el documento vigente y fírmelo "
            "sin modificarlo.", code="documento_distinto")
    original_revisions = _reader(original).xrefs.total_revisions
    signatures = [s for s in reader.embedded_signatures if s.field_name == field_name]
    if not signatures:
        raise SignatureRejected(f"El PDF no tiene una firma en el campo «{field_name}» reservado para esta parte.",
                                code="sin_firma")
    sig = signatures[0]
    if sig.signed_revision != original_revisions:
        raise SignatureRejected("La firma no se aplicó directamente sobre el documento emitido por la plataforma.",
                                code="documento_distinto")
    # Only the signature may change after our document: no edits to pages, fields or other content.
    review = DEFAULT_DIFF_POLICY.review_file(reader, original_revisions - 1)
    if isinstance(review, SuspiciousModification) or review.modification_level > ModificationLevel.FORM_FILLING:
        raise SignatureRejected("El documento fue modificado además de firmarse: solo se admite añadir la firma.",
                                code="documento_modificado")
    cert = sig.signer_cert
    not_before, not_after = cert.not_valid_before, cert.not_valid_after
    if not_after < now:
        raise SignatureRejected(
            f"El certificado del firmante venció el {not_after.strftime('%d/%m/%Y')}: la firma no es válida.",
            code="certificado_vencido")
    if not_before > now:
        raise SignatureRejected("El certificado del firmante aún no es válido.", code="certificado_no_vigente")
    summary = await summarise(sig, trust_roots, moment=now)
    if not summary.intact:
        raise SignatureRejected("La firma no es íntegra: el documento fue alterado después de firmarse.",
                                code="firma_alterada")
    if not summary.valid:
        raise SignatureRejected("La firma no es válida criptográficamente.", code="firma_invalida")
    if not summary.trusted:
        raise SignatureRejected(
            "El certificado del firmante no proviene de una entidad de certificación de confianza "
            "(Infraestructura Oficial de Firma Electrónica configurada en la plataforma).",
            code="certificado_no_confiable")
    if summary.ruc != expected_ruc:
        found = f" (el certificado indica el RUC {summary.ruc})" if summary.ruc else \
            " (el certificado no indica FAU con un RUC)"
        raise SignatureRejected(f"La firma no corresponde al RUC {expected_ruc} de la entidad{found}.",
                                code="ruc_distinto")
    return ExternalSignature(summary=summary, certificate_subject=cert.subject.human_friendly,
                             certificate_serial=format(cert.serial_number, "x"),
                             certificate_issuer=cert.issuer.human_friendly)


def signing_key_from_pem(data: bytes) -> asn1_keys.PrivateKeyInfo:
    """Helper for callers holding a PEM key in memory (tests build their PKI this way)."""
    from pyhanko.keys import load_private_key_from_pemder_data

    return load_private_key_from_pemder_data(data, passphrase=None)


def simple_signer(key_pem: bytes, cert_pem: bytes, chain_pem: list[bytes] = ()) -> signers.SimpleSigner:  # noqa: B006
    """A pyHanko signer from in-memory PEM (used by tests and by the CLI's external-signature helper)."""
    cert = load_certificates(cert_pem)[0]
    others = [c for pem in chain_pem for c in load_certificates(pem)]
    return signers.SimpleSigner(signing_cert=cert, signing_key=signing_key_from_pem(key_pem),
                                cert_registry=SimpleCertificateStore.from_certs([cert, *others]))
