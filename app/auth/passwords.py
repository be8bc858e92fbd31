"""Password hashing (argon2id) and the rules a new password must meet."""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.errors import ValidationFailed

_hasher = PasswordHasher()
# Verifying against this keeps the time of "no such user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash("contraseña-de-relleno-para-tiempos-iguales")
MIN_LENGTH = 10


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a one-time link token: what is stored instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_new_password(password: str, confirmation: str) -> None:
    if password != confirmation:
        raise ValidationFailed("Las contraseñas no coinciden.", field="confirmacion")
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(f"La contraseña debe tener al menos {MIN_LENGTH} caracteres.", field="contrasena")
    if password.isdigit() or password.isalpha():
        raise ValidationFailed("La contraseña debe combinar letras y números o símbolos.", field="contrasena")
