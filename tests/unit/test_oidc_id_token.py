"""The ID token is believed only when it is signed by the provider, for us, current, and for this attempt;
the claims are read the way ID GOB.PE writes them. Pure: keys are generated here with joserfc."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from app.auth.oidc import (
    UNKNOWN_KEY,
    OidcError,
    identity_from_claims,
    parse_dni,
    parse_ruc,
    validate_id_token,
)

ISSUER = "https://idgobpe.example.pe"
CLIENT = "plataforma-mac"
NONCE = "n-0S6_WzA2Mj"


@pytest.fixture(scope="module")
def provider_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "clave-1", "alg": "RS256", "use": "sig"}, private=True)


@pytest.fixture(scope="module")
def jwks(provider_key) -> dict:
    return KeySet([provider_key]).as_dict(private=False)


def claims(**overrides) -> dict:  # noqa: ANN003
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "sujeto-123", "aud": CLIENT, "exp": now + 300, "iat": now, "nonce": NONCE,
            "acr": "nivel-3", "doc": "DNI:12345678"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key, payload: dict, alg: str = "RS256", kid: str | None = "clave-1") -> str:  # noqa: ANN001
    header = {"alg": alg}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, payload, key, algorithms=[alg])


def validate(token: str, jwks: dict, **kwargs) -> dict:  # noqa: ANN003
    options = {"issuer": ISSUER, "client_id": CLIENT, "nonce": NONCE, "algorithms": ["RS256", "ES256"]}
    options.update(kwargs)
    return validate_id_token(token, jwks=jwks, **options)


def test_a_genuine_token_is_accepted(provider_key, jwks):
    assert validate(sign(provider_key, claims()), jwks)["sub"] == "sujeto-123"


def test_the_nonce_of_another_attempt_is_refused(provider_key, jwks):
    with pytest.raises(OidcError) as error:
        validate(sign(provider_key, claims(nonce="otro-intento")), jwks)
    assert error.value.code == "nonce_invalido"


def test_a_token_without_nonce_is_refused(provider_key, jwks):
    with pytest.raises(OidcError) as error:
        validate(sign(provider_key, claims(nonce=None)), jwks)
    assert error.value.code == "nonce_invalido"


def test_a_token_signed_by_another_key_with_the_providers_kid_is_refused(jwks):
    forger = RSAKey.generate_key(2048, parameters={"kid": "clave-1"}, private=True)
    with pytest.raises(OidcError) as error:
        validate(sign(forger, claims()), jwks)
    assert error.value.code == "id_token_invalido"


def test_a_token_with_an_unknown_key_id_asks_for_the_keys_again(jwks):
    stranger = ECKey.generate_key("P-256", parameters={"kid": "clave-2"}, private=True)
    with pytest.raises(OidcError) as error:
        validate(sign(stranger, claims(), alg="ES256", kid="clave-2"), jwks)
    assert error.value.code == UNKNOWN_KEY


def test_a_token_signed_with_the_client_secret_is_refused(jwks):
    """HS256 with a shared secret would let anyone holding our client secret mint identities."""
    secret = OctKey.import_key(b"secreto-del-cliente-de-32-bytes!")
    jwks_with_oct = {"keys": [*jwks["keys"], {**secret.as_dict(), "kid": "clave-1"}]}
    with pytest.raises(OidcError):
        validate(sign(secret, claims(), alg="HS256"), jwks_with_oct, algorithms=["RS256", "HS256"])


def test_an_unsigned_token_is_refused(jwks):
    import base64
    import json

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none'})}.{part(claims())}."
    with pytest.raises(OidcError):
        validate(unsigned, jwks)


@pytest.mark.parametrize("override", [
    {"iss": "https://otro-proveedor.example"},
    {"aud": "otra-aplicacion"},
    {"aud": [CLIENT, "otra-aplicacion"]},  # several audiences and no azp naming us
    {"azp": "otra-aplicacion"},
    {"sub": None},
    {"iat": None},
])
def test_a_token_for_someone_else_or_incomplete_is_refused(provider_key, jwks, override):
    with pytest.raises(OidcError):
        validate(sign(provider_key, claims(**override)), jwks)


def test_several_audiences_are_fine_when_azp_names_us(provider_key, jwks):
    assert validate(sign(provider_key, claims(aud=[CLIENT, "otra"], azp=CLIENT)), jwks)["azp"] == CLIENT


def test_an_expired_token_is_refused_beyond_the_clock_leeway(provider_key, jwks):
    now = int(time.time())
    with pytest.raises(OidcError) as error:
        validate(sign(provider_key, claims(exp=now - 120, iat=now - 600)), jwks)
    assert error.value.code == "id_token_vencido"
    assert validate(sign(provider_key, claims(exp=now - 10, iat=now - 600)), jwks)  # within 60 s of skew


def test_a_tampered_payload_is_refused(provider_key, jwks):
    header, _, signature = sign(provider_key, claims()).split(".")
    _, payload, _ = sign(provider_key, claims(doc="DNI:87654321")).split(".")
    with pytest.raises(OidcError):
        validate(f"{header}.{payload}.{signature}", jwks)


@pytest.mark.parametrize(("doc", "dni"), [
    ("DNI:12345678", "12345678"),
    ("dni: 12345678", "12345678"),
    ("12345678", "12345678"),
    (12345678, "12345678"),
    ("CE:001234567", None),
    ("DNI:1234567", None),
    ("DNI:123456789", None),
    ("1234567a", None),
    (None, None),
    (True, None),
])
def test_the_dni_is_read_from_doc_with_or_without_its_type(doc, dni):
    assert parse_dni(doc) == dni


def test_only_a_ruc_with_a_valid_check_digit_is_taken():
    assert parse_ruc("20131312955") == "20131312955"  # SUNAT
    assert parse_ruc("20131312954") is None
    assert parse_ruc("2013131295") is None
    assert parse_ruc(None) is None


def test_userinfo_fills_in_what_the_id_token_lacks_but_never_changes_who_or_how():
    identity = identity_from_claims(
        {"sub": "s-1", "acr": "nivel-3"},
        {"sub": "s-1", "doc": "DNI:12345678", "ruc": "20131312955", "acr": "nivel-1", "name": "Ana Quispe"})
    assert (identity.subject, identity.dni, identity.ruc, identity.acr, identity.name) == (
        "s-1", "12345678", "20131312955", "nivel-3", "Ana Quispe")


def test_the_id_token_wins_over_userinfo_for_the_document():
    identity = identity_from_claims({"sub": "s-1", "doc": "DNI:11111111"}, {"sub": "s-1", "doc": "DNI:22222222"})
    assert identity.dni == "11111111"


def test_userinfo_about_another_subject_is_refused():
    with pytest.raises(OidcError) as error:
        identity_from_claims({"sub": "s-1"}, {"sub": "s-2", "doc": "DNI:12345678"})
    assert error.value.code == "userinfo_de_otro_sujeto"


async def test_a_provider_over_plain_http_is_refused_before_anything_is_sent(monkeypatch):
    """Codes and tokens must never cross the network in clear text (loopback is allowed for the test provider)."""
    from app.auth import oidc
    from app.config import get_settings

    settings = get_settings()
    monkeypatch.setattr(settings, "oidc_issuer", "http://idgobpe.example.pe")
    monkeypatch.setattr(settings, "oidc_client_id", CLIENT)
    oidc.clear_cache()
    with pytest.raises(OidcError) as error:
        await oidc.provider_metadata()
    assert error.value.code == "proveedor_inseguro"
