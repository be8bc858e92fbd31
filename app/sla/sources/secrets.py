"""A source's password, encrypted with the platform's secret key (Fernet: AES-128-CBC + HMAC-SHA256).

The Fernet key is derived from the secret key with HKDF under a label of its own, so it is never the key
that signs sessions. The clear password exists only in memory while a connection is opened.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.config import get_settings

LABEL = b"plataforma-mac/fuentes-de-datos/v1"


def _fernet(secret_key: str | None = None) -> Fernet:
    secret = (secret_key or get_settings().resolved_secret_key()).encode("utf-8")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(password: str, *, secret_key: str | None = None) -> str:
    return _fernet(secret_key).encrypt(password.encode("utf-8")).decode("ascii")


def decrypt(token: str, *, secret_key: str | None = None) -> str:
    """The clear password; ValueError when the secret key changed since it was stored."""
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ValueError("La clave guardada no se puede descifrar: la clave secreta de la plataforma cambió; "
                         "vuelva a ingresar la contraseña de la fuente.") from None
