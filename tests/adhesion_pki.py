"""A throw-away PKI for signature tests (the way pyHanko's own tests build theirs): a root CA standing in for
the IOFE, an intermediate, entity certificates with ``FAU <RUC>`` in the subject as FIRMA PERÚ issues them, an
expired certificate, a certificate of another RUC and a root nobody configured."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Issued:
    key_pem: bytes
    cert_pem: bytes
    chain_pem: tuple[bytes, ...] = ()


def _name(cn: str, *, org: str = "Entidad de Certificación de Pruebas", ou: str | None = None,
          serial: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "PE"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _pem_key(key) -> bytes:  # noqa: ANN001
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: x509.Name, key, issuer: x509.Name, issuer_key, *, ca: bool,  # noqa: ANN001
          not_before: datetime, not_after: datetime) -> x509.Certificate:
    usage = x509.KeyUsage(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                          encipher_only=False, decipher_only=False)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(issuer_key, hashes.SHA256()))


class TestPKI:
    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.now = now
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root_name = _name("Raíz de Pruebas IOFE")
        self.root = _cert(self.root_name, self.root_key, self.root_name, self.root_key, ca=True,
                          not_before=now - timedelta(days=3650), not_after=now + timedelta(days=3650))
        self.ica_key = ec.generate_private_key(ec.SECP256R1())
        self.ica_name = _name("EC de Pruebas para Personas Jurídicas")
        self.ica = _cert(self.ica_name, self.ica_key, self.root_name, self.root_key, ca=True,
                         not_before=now - timedelta(days=3000), not_after=now + timedelta(days=3000))
        # A root nobody configured as trusted.
        self.rogue_key = ec.generate_private_key(ec.SECP256R1())
        self.rogue_name = _name("Raíz Desconocida", org="Autoridad no acreditada")
        self.rogue_root = _cert(self.rogue_name, self.rogue_key, self.rogue_name, self.rogue_key, ca=True,
                                not_before=now - timedelta(days=100), not_after=now + timedelta(days=3650))

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def entity(self, ruc: str, *, person: str = "PEREZ GOMEZ Juan", expired: bool = False,
               untrusted: bool = False, fau: bool = True) -> Issued:
        """A certificate for a person signing for the entity ``ruc`` (FAU + RUC in the subject)."""
        key = ec.generate_private_key(ec.SECP256R1())
        serial = f"FAU {ruc} soft" if fau else "DNI 40000000"
        subject = _name(f"{person} FAU {ruc} soft" if fau else person, org="ENTIDAD DE PRUEBAS",
                        ou=f"RUC {ruc}" if fau else None, serial=serial)
        if expired:
            nb, na = self.now - timedelta(days=800), self.now - timedelta(days=30)
        else:
            nb, na = self.now - timedelta(days=10), self.now + timedelta(days=365)
        if untrusted:
            cert = _cert(subject, key, self.rogue_name, self.rogue_key, ca=False, not_before=nb, not_after=na)
            chain = (self.rogue_root.public_bytes(serialization.Encoding.PEM),)
        else:
            cert = _cert(subject, key, self.ica_name, self.ica_key, ca=False, not_before=nb, not_after=na)
            chain = (self.ica.public_bytes(serialization.Encoding.PEM), self.root_pem)
        return Issued(key_pem=_pem_key(key), cert_pem=cert.public_bytes(serialization.Encoding.PEM), chain_pem=chain)


@lru_cache
def pki_for_tests() -> TestPKI:
    return TestPKI()


async def sign_externally(pdf: bytes, issued: Issued, *, field_name: str) -> bytes:
    """Sign ``pdf`` in ``field_name`` as FIRMA PERÚ would (PAdES, incremental)."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    from app.documents.signing import simple_signer

    signer = simple_signer(issued.key_pem, issued.cert_pem, list(issued.chain_pem))
    meta = signers.PdfSignatureMetadata(field_name=field_name, md_algorithm="sha256",
                                        subfilter=SigSeedSubFilter.PADES, reason="Firma digital de prueba")
    out = await signers.PdfSigner(meta, signer).async_sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)),
                                                               existing_fields_only=True)
    return out.getvalue()
