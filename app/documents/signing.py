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

Levels of the platform's seal (ETSI EN 319 142, PAdES baseline): B-B without a TSA; with ``TSA_URL``, B-LT by
default (the signature timestamp, then the certificate chain and CRL/OCSP answers embedded in the document's
DSS, so the seal can be validated after the CA's revocation services are gone) or, with ``SEALING_LEVEL``, B-T
or B-LTA (a document timestamp over the DSS as well). The level recorded is read back from the produced PDF.
The demo CA keeps its key under ``DATA_DIR/sealing`` and issues a CRL there, which the validation context
receives as a known CRL: demo and tests produce real B-LT documents offline.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import crl as asn1_crl
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
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from app.errors import ValidationFailed

DEMO_LABEL = "SELLO DE DEMOSTRACIÓN (sin valor legal)"
# Where the demo CA's CRL says it is published. Nothing is served there (``.invalid`` never resolves): the
# CRL is handed to the validator as a known CRL and embedded in every long-term document.
DEMO_CRL_URL = "http://crl.plataforma-mac.invalid/ca-demostracion.crl"
DEMO_CRL_VALIDITY = timedelta(days=7)


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
    # Roots the seal's own chain and its TSA's chain are validated against before embedding their validation
    # data (the seal's chain roots and SIGNATURE_TRUST_ROOTS), and the intermediates we hold.
    validation_roots: tuple[asn1_x509.Certificate, ...] = ()
    other_certs: tuple[asn1_x509.Certificate, ...] = ()
    demo_dir: Path | None = None  # the demo CA's folder: its CRL is the revocation data (no network)

    @property
    def label(self) -> str:
        return self.certificate.subject.native.get("common_name", "Sello de la Plataforma MAC")

    def validation_context(self) -> ValidationContext:
        """The context pyHanko validates the seal (and the TSA) in before signing, and whose certificates,
        CRLs and OCSP answers it embeds in the DSS: a real seal fetches them from the CA (CRL distribution
        points, OCSP); the demo seal uses the demo CA's own CRL, refreshed when it nears its next update.

        Built once per thread and reused for VALIDATION_CONTEXT_SECONDS (a batch of statements validates the
        same chain and fetches the same CRLs and OCSP answers once, not once per document); the demo seal's
        context is rebuilt as soon as its CRL file changes (a revocation is seen at once)."""
        stamp = self._crl_stamp()
        cache = _validation_contexts.__dict__.setdefault("by_identity", {})
        hit = cache.get(id(self))
        now = time.monotonic()
        if hit is not None and hit[0] is self and hit[1] == stamp and now - hit[2] < VALIDATION_CONTEXT_SECONDS:
            return hit[3]
        context = self._new_validation_context()
        cache[id(self)] = (self, self._crl_stamp(), now, context)
        return context

    def _crl_stamp(self) -> tuple[int, int] | None:
        if self.demo_dir is None:
            return None
        try:
            info = (self.demo_dir / "demo-ca.crl").stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_size

    def _new_validation_context(self) -> ValidationContext:
        roots = list(self.validation_roots or self.chain_roots)
        if self.demo_dir is not None:
            return ValidationContext(trust_roots=roots, other_certs=list(self.other_certs),
                                     crls=[demo_crl(self.demo_dir)], allow_fetching=False,
                                     revocation_mode="hard-fail")
        return ValidationContext(trust_roots=roots, other_certs=list(self.other_certs), allow_fetching=True,
                                 revocation_mode="hard-fail")


VALIDATION_CONTEXT_SECONDS = 300
_validation_contexts = threading.local()  # pyHanko's context and its fetchers are not shared across threads
_identity_lock = threading.Lock()
_identity_cache: dict[tuple, SealingIdentity] = {}


def sealing_identity(settings) -> SealingIdentity:  # noqa: ANN001
    """The configured seal (PKCS#12, or PEM key + certificate), else the demo seal under DATA_DIR."""
    key = (settings.sealing_pkcs12_path, settings.sealing_key_path, settings.sealing_cert_path,
           str(settings.data_dir), getattr(settings, "signature_trust_roots", None))
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
    roots = roots or (signer.signing_cert,)
    if is_demo:  # demo documents sealed under an earlier demo CA stay verifiable
        roots = (*roots, *(c for p in sorted(ca_path.parent.glob("retired-ca-*.crt"))
                           for c in load_certificates(p.read_bytes())))
    extra = load_trust_roots(getattr(settings, "signature_trust_roots", None))
    return SealingIdentity(signer=signer, certificate=signer.signing_cert, chain_roots=roots, is_demo=is_demo,
                           validation_roots=(*roots, *extra), other_certs=tuple(chain),
                           demo_dir=ca_path.parent if is_demo else None)


def ensure_demo_sealing_certificate(data_dir: Path) -> tuple[Path, Path, Path]:
    """A demo CA and a sealing certificate issued by it, generated on first use and kept in DATA_DIR, with the
    CA's key (it signs the CRL). A folder from before the CA key was kept gets a new demo PKI; the old CA
    certificate is kept as ``retired-ca-<serial>.crt`` and stays a trust root for the demo documents it sealed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    folder = data_dir / "sealing"
    key_path, cert_path, ca_path = folder / "demo-seal.key", folder / "demo-seal.crt", folder / "demo-ca.crt"
    ca_key_path = folder / "demo-ca.key"
    if key_path.exists() and cert_path.exists() and ca_path.exists() and ca_key_path.exists():
        return key_path, cert_path, ca_path
    folder.mkdir(parents=True, exist_ok=True)
    if ca_path.exists():
        old = load_certificates(ca_path.read_bytes())[0]
        ca_path.rename(folder / f"retired-ca-{old.serial_number:x}.crt")
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
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(DEMO_CRL_URL)], relative_name=None, reasons=None,
                crl_issuer=None)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    for path, private in ((ca_key_path, ca_key), (key_path, key)):
        path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "demo-ca.crl").unlink(missing_ok=True)  # a CRL of an earlier CA
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path, ca_path


def write_demo_crl(folder: Path, *, revoked_serials: tuple[int, ...] = (), revoked_at: datetime | None = None) -> Path:
    """A CRL signed by the demo CA (valid DEMO_CRL_VALIDITY), listing ``revoked_serials`` (revoked at
    ``revoked_at``, else now); written atomically."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    ca = x509.load_pem_x509_certificate((folder / "demo-ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((folder / "demo-ca.key").read_bytes(), password=None)
    now = datetime.now(UTC) - timedelta(minutes=5)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now)
               .next_update(now + DEMO_CRL_VALIDITY)
               .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False))
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at or now).build())
    crl = builder.sign(ca_key, hashes.SHA256())
    path, tmp = folder / "demo-ca.crl", folder / f".demo-ca.crl.{os.getpid()}.{threading.get_ident()}"
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    tmp.replace(path)
    return path


def demo_crl(folder: Path) -> asn1_crl.CertificateList:
    """The demo CA's current CRL, issued anew when missing or within a day of its next update (the revoked
    serials it lists are carried over)."""
    path = folder / "demo-ca.crl"
    crl = asn1_crl.CertificateList.load(path.read_bytes()) if path.exists() else None
    next_update = crl["tbs_cert_list"]["next_update"].native if crl is not None else None
    if next_update is None or next_update - datetime.now(UTC) < timedelta(days=1):
        revoked = tuple(r["user_certificate"].native for r in crl["tbs_cert_list"]["revoked_certificates"]) \
            if crl is not None else ()
        crl = asn1_crl.CertificateList.load(write_demo_crl(folder, revoked_serials=revoked).read_bytes())
    return crl


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


def _has_signature_timestamp(sig) -> bool:  # noqa: ANN001 - pyHanko's EmbeddedPdfSignature
    return next(extract_tst_data_iter(sig.signer_info, signed=False), None) is not None


def _dss_holds_validation_data_for(sig) -> bool:  # noqa: ANN001
    """The document's DSS holds the signer's certificate and at least one CRL or OCSP answer."""
    try:
        dss = DocumentSecurityStore.read_dss(sig.reader)
    except NoDSSFoundError:
        return False
    signer = sig.signer_cert.dump()
    return bool(dss.crls or dss.ocsps) and any(c.dump() == signer for c in dss.load_certs())


def _archive_timestamps_after(sig) -> list:  # noqa: ANN001
    """Document timestamps added after ``sig`` over a revision that already holds a DSS (B-LTA)."""
    reader = sig.reader
    return [ts for ts in reader.embedded_timestamp_signatures
            if ts.signed_revision > sig.signed_revision
            and "/DSS" in reader.get_historical_root(ts.signed_revision)]


def level_in(sig) -> str:  # noqa: ANN001
    """The PAdES baseline level a signature in a PDF actually reaches, read from the file: a signature timestamp
    (B-T), validation data for the signer in the DSS (B-LT), a document timestamp over that DSS (B-LTA)."""
    return level_of(timestamped=_has_signature_timestamp(sig), has_dss=_dss_holds_validation_data_for(sig),
                    has_doc_timestamp=bool(_archive_timestamps_after(sig)))


def level_of_field(pdf: bytes, field_name: str) -> str:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    [sig] = [s for s in reader.embedded_regular_signatures if s.field_name == field_name]
    return level_in(sig)


LONG_TERM_LEVELS = ("B-LT", "B-LTA")


def effective_level(requested: str | None, timestamper: timestamps.TimeStamper | None) -> str:
    """The level the seal is made at: B-B without a TSA whatever was asked (every higher level builds on the
    signature timestamp), else the requested one (SEALING_LEVEL), B-LT by default."""
    if timestamper is None:
        return "B-B"
    return requested or "B-LT"


class SealingFailed(RuntimeError):
    """The platform could not seal: its certificate (or its TSA's) did not validate, was revoked, or the
    revocation data for a long-term seal could not be obtained. Nothing is signed at a lower level instead."""


async def sign_with_seal(pdf_signer: signers.PdfSigner, writer: IncrementalPdfFileWriter, **kwargs):  # noqa: ANN201
    """``pdf_signer.async_sign_pdf`` with pyHanko's signing errors (and their cause) said in Spanish."""
    try:
        return await pdf_signer.async_sign_pdf(writer, **kwargs)
    except SigningError as exc:
        cause = exc.__cause__ or exc.__context__
        raise SealingFailed(
            "No se pudo sellar el documento: el certificado de sello o el de la autoridad de sellado de tiempo no "
            "se pudo validar o no se obtuvo su información de revocación (CRL/OCSP) para el nivel PAdES "
            f"pedido (SEALING_LEVEL). Detalle: {exc}" + (f" ({cause})" if cause else "")) from exc


def long_term_options(identity: SealingIdentity, level: str) -> dict:
    """pyHanko's own LTV machinery for :class:`signers.PdfSignatureMetadata`: validation data collected with the
    identity's validation context goes into the DSS after the signature, then (B-LTA) a document timestamp."""
    if level not in LONG_TERM_LEVELS:
        return {}
    return {"embed_validation_info": True, "validation_context": identity.validation_context(),
            "use_pades_lta": level == "B-LTA"}


@dataclass(frozen=True)
class SealResult:
    pdf: bytes
    level: str
    signed_at: datetime


async def seal(pdf: bytes, *, field_name: str, identity: SealingIdentity, stamp_lines: list[str],
               reason: str, location: str = "Plataforma MAC", tsa_url: str | None = None,
               timestamper: timestamps.TimeStamper | None = None, signer_name: str | None = None,
               level: str | None = None) -> SealResult:
    """Sign ``field_name`` (which must already exist) with the platform's seal; returns the new bytes.

    The visible block shows ``stamp_lines`` (who signed, for whom) and the signing time. ``level`` is
    SEALING_LEVEL (see :func:`effective_level`); the level returned is the one read back from the result.
    """
    timestamper = timestamper or timestamper_for(tsa_url)
    level = effective_level(level, timestamper)
    text = "\n".join([*stamp_lines, "Fecha: %(ts)s"])
    if identity.is_demo:
        text += "\n" + DEMO_LABEL
    style = TextStampStyle(stamp_text=text, text_box_style=TextBoxStyle(font_size=7), border_width=1,
                           timestamp_format="%d/%m/%Y %H:%M:%S UTC")
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256", reason=reason,
                                        location=location, subfilter=SigSeedSubFilter.PADES,
                                        name=signer_name, **long_term_options(identity, level))
    pdf_signer = signers.PdfSigner(meta, identity.signer, timestamper=timestamper, stamp_style=style)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await sign_with_seal(pdf_signer, writer, existing_fields_only=True)
    data = out.getvalue()
    if not data.startswith(pdf):  # never happens with an incremental writer; guard the invariant anyway
        raise RuntimeError("La firma alteró revisiones anteriores del documento")
    return SealResult(pdf=data, level=level_of_field(data, field_name), signed_at=datetime.now(UTC))


async def seal_new_field(pdf: bytes, *, field_name: str, identity: SealingIdentity, reason: str,
                         tsa_url: str | None = None, timestamper: timestamps.TimeStamper | None = None,
                         level: str | None = None) -> SealResult:
    """Seal a document that has no reserved field (e.g. a constancia): an invisible signature field is added."""
    timestamper = timestamper or timestamper_for(tsa_url)
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256", reason=reason,
                                        location="Plataforma MAC", subfilter=SigSeedSubFilter.PADES,
                                        **long_term_options(identity, effective_level(level, timestamper)))
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await sign_with_seal(signers.PdfSigner(meta, identity.signer, timestamper=timestamper), writer)
    data = out.getvalue()
    return SealResult(pdf=data, level=level_of_field(data, field_name), signed_at=datetime.now(UTC))


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


def _context(trust_roots: list[asn1_x509.Certificate], moment: datetime | None,
             reader: PdfFileReader | None = None) -> ValidationContext:
    """No network; what the document carries in its DSS (certificates, CRLs, OCSP answers) is known to the
    validator, so a B-LT/B-LTA document is checked against the revocation data embedded when it was signed."""
    kwargs = {"trust_roots": trust_roots, "allow_fetching": False, "revocation_mode": "soft-fail", "moment": moment}
    if reader is not None:
        try:
            return DocumentSecurityStore.read_dss(reader).as_validation_context(kwargs)
        except NoDSSFoundError:
            pass
    return ValidationContext(**kwargs)


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
        status = await async_validate_pdf_signature(
            sig, signer_validation_context=_context(trust_roots, moment, sig.reader), skip_diff=skip_diff)
    except Exception as exc:  # noqa: BLE001 - a malformed signature is reported, not raised
        return SignatureSummary(field_name=sig.field_name, signer=signer_name(cert), ruc=ruc_from_certificate(cert),
                                signed_at=sig.self_reported_timestamp, intact=False, valid=False, trusted=False,
                                level="desconocido", covers_whole_file=False, modification_level="desconocido",
                                problems=(f"La firma no se pudo validar: {exc}",))
    timestamped = status.timestamp_validity is not None
    signed_at = status.timestamp_validity.timestamp if timestamped else status.signer_reported_dt
    if timestamped and not (status.timestamp_validity.intact and status.timestamp_validity.valid):
        problems.append("El sello de tiempo de la firma no es válido.")
        timestamped = False
    has_dss = _dss_holds_validation_data_for(sig)
    archive_ok = False
    for ts in _archive_timestamps_after(sig):
        ts_status = await async_validate_pdf_timestamp(ts, validation_context=_context(trust_roots, moment, sig.reader),
                                                       skip_diff=skip_diff)
        if ts_status.intact and ts_status.valid:
            archive_ok = True
        else:
            problems.append(f"El sello de tiempo del documento «{ts.field_name}» no es válido.")
    mod = getattr(status, "modification_level", None)
    coverage = getattr(status, "coverage", None)
    return SignatureSummary(
        field_name=sig.field_name, signer=signer_name(cert), ruc=ruc_from_certificate(cert), signed_at=signed_at,
        intact=bool(status.intact), valid=bool(status.valid), trusted=bool(status.trusted),
        level=level_of(timestamped=timestamped, has_dss=has_dss, has_doc_timestamp=archive_ok),
        covers_whole_file=coverage is not None and coverage.name == "ENTIRE_FILE",
        modification_level=mod.name if mod is not None else "desconocido", problems=tuple(problems))


async def inspect(pdf: bytes, trust_roots: list[asn1_x509.Certificate]) -> list[SignatureSummary]:
    """Every signature in a PDF, validated against ``trust_roots`` (for the public verification page). Document
    timestamps are not signatures of anyone: they count in the level of the signatures they cover (B-LTA)."""
    reader = _reader(pdf)
    return [await summarise(sig, trust_roots) for sig in reader.embedded_regular_signatures]


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
