"""Domain errors: a code and a Spanish message. One handler turns them into RFC 9457 problem+json for the API
and into a readable page or flash message for the UI."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "error_de_dominio"
    title = "Solicitud no válida"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.errors = errors or ([{"campo": field, "mensaje": message}] if field else [])


class ValidationFailed(DomainError):
    status_code = 422
    code = "validacion"
    title = "Datos no válidos"


class NotFound(DomainError):
    status_code = 404
    code = "no_encontrado"
    title = "No encontrado"


class Forbidden(DomainError):
    status_code = 403
    code = "prohibido"
    title = "Acceso denegado"


class Conflict(DomainError):
    status_code = 409
    code = "conflicto"
    title = "Conflicto"


class AuthenticationFailed(DomainError):
    status_code = 401
    code = "no_autenticado"
    title = "Autenticación requerida"
