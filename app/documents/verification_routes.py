"""The public verification page: by code (the link and QR on every page) or by uploading a PDF.

No sign-in. Everything runs in an anonymous tenant context and reads only through the SECURITY DEFINER
functions ``document_public_by_code`` and ``document_public_by_sha256``: authenticity, signers, times, levels
and the subject's current state, and nothing else.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect

from app.auth.actor import client_ip
from app.config import get_settings
from app.db import TenantContext, get_database
from app import offload
from app.documents import signing, verification
from app.web.page import Page

MAX_UPLOAD = 5 * 1024 * 1024  # like every document upload (the app-wide body limit refuses more with 413)


@dataclass(frozen=True)
class FileCheck:
    verdict: str  # exacto | ampliado | alterado | desconocido
    message: str
    document: verification.PublicDocument | None
    revision: int | None
    signatures: list[signing.SignatureSummary]
    sha256: str


def code_in_pdf(content: bytes) -> str | None:
    from app.adhesion.pdf import CODE_IN_KEYWORDS

    try:
        from pyhanko.pdf_utils.reader import PdfFileReader

        info = PdfFileReader(io.BytesIO(content), strict=False).trailer_view.get("/Info")
        keywords = str(info.get_object().get("/Keywords", "")) if info is not None else ""
    except Exception:  # noqa: BLE001 - an unreadable file simply has no code
        return None
    match = CODE_IN_KEYWORDS.search(keywords)
    return match.group(1) if match else None


def trust_roots() -> list:
    settings = get_settings()
    return [*signing.load_trust_roots(settings.signature_trust_roots),
            *signing.sealing_identity(settings).chain_roots]


async def check_file(content: bytes, ip: str | None) -> FileCheck:
    sha = verification.sha256_hex(content)
    async with get_database().transaction(TenantContext.anonymous(ip)) as s:
        match = await verification.public_match_by_hash(s, sha)
        code = match[0] if match else await offload.run(code_in_pdf, content)
        document = await verification.public_document(s, code) if code else None
    try:
        signatures = (await offload.run_async(signing.inspect, content, trust_roots())
                      if content.startswith(b"%PDF-") else [])
    except signing.SignatureRejected:
        signatures = []
    if match and document:
        return FileCheck("exacto", f"El archivo es idéntico a la revisión {match[1]} del documento {match[0]} "
                                   "registrado por la plataforma: es auténtico y no fue modificado.",
                         document, match[1], signatures, sha)
    if document:
        for revision in reversed(document.revisions):
            if len(content) > revision.size and verification.sha256_hex(content[:revision.size]) == revision.sha256:
                intact = signatures and all(x.intact and x.valid for x in signatures)
                return FileCheck(
                    "ampliado",
                    f"El archivo contiene íntegra la revisión {revision.number} del documento {document.code} y "
                    "cambios posteriores que la plataforma no registró"
                    + (" (firmas que se validan abajo)." if intact else "; revise las firmas abajo."),
                    document, revision.number, signatures, sha)
        return FileCheck("alterado", f"El archivo dice ser el documento {document.code}, pero su contenido no "
                                     "coincide con ninguna revisión registrada: fue modificado o no es auténtico.",
                         document, None, signatures, sha)
    return FileCheck("desconocido", "El archivo no corresponde a ningún documento emitido por la plataforma.",
                     None, None, signatures, sha)


class VerificationController(Controller):
    path = "/verificar"
    include_in_schema = False

    @get("/")
    async def form(self, codigo: FromQuery[str | None] = None) -> Page | Redirect:
        if codigo:
            return Redirect(f"/verificar/{verification.normalise_code(codigo)[:24]}")
        return Page("verification/form.html", context={"error": None})

    @get("/{code:str}")
    async def by_code(self, request: Request, code: FromPath[str]) -> Page:
        async with get_database().transaction(TenantContext.anonymous(client_ip(request))) as s:
            document = await verification.public_document(s, code[:40])
        url = verification.verification_url(get_settings().base_url, document.code) if document else None
        return Page("verification/result.html", status_code=200 if document else 404,
                    context={"document": document, "code": code[:40], "check": None,
                             "qr": verification.qr_svg(url) if url else None, "url": url})

    @post("/")
    async def upload(self, request: Request,
                     data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]) -> Page:
        file = data.get("pdf")
        content = await file.read() if isinstance(file, UploadFile) else b""
        if not content:
            return Page("verification/form.html", status_code=422, context={"error": "Adjunte un archivo PDF."})
        if len(content) > MAX_UPLOAD:
            return Page("verification/form.html", status_code=422,
                        context={"error": "El archivo supera los 5 MB."})
        check = await check_file(content, client_ip(request))
        document = check.document
        url = verification.verification_url(get_settings().base_url, document.code) if document else None
        return Page("verification/result.html", context={"document": document, "code": document.code if document
                                                         else "", "check": check, "url": url,
                                                         "qr": verification.qr_svg(url) if url else None})
