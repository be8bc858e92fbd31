"""The seal's validation context (its trust roots and the CA's CRL, which pyHanko validates the seal against and
embeds in a long-term seal) is built once per thread and reused by the documents sealed after it, and rebuilt
at once when the demo CA's CRL changes, so a revocation is never missed."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.adhesion.pdf import SIGNATURE_BOXES, render_clause
from app.documents import signing
from tests.unit.test_adhesion_pdf import clause
from tests.unit.test_long_term_seal import demo_settings, demo_tsa, seal


@pytest.fixture(scope="module")
def original() -> bytes:
    pdf = render_clause(clause())
    return signing.reserve_signature_fields(pdf, page=len(PdfReader(io.BytesIO(pdf)).pages) - 1, boxes=SIGNATURE_BOXES)


async def test_a_batch_reuses_the_context_and_a_revocation_after_it_still_stops_the_next_seal(tmp_path: Path,
                                                                                              original: bytes):
    identity = signing.sealing_identity(demo_settings(tmp_path))
    tsa = demo_tsa(identity)
    first = identity.validation_context()
    assert identity.validation_context() is first  # the next document of the batch
    assert (await seal(original, identity, timestamper=tsa)).level == "PAdES B-LT"

    signing.write_demo_crl(identity.demo_dir, revoked_serials=(identity.certificate.serial_number,))
    assert identity.validation_context() is not first
    with pytest.raises(signing.SealingFailed, match="No se pudo sellar el documento.*revoked"):
        await seal(original, identity, timestamper=tsa)


def test_each_thread_has_its_own_context(tmp_path: Path):
    identity = signing.sealing_identity(demo_settings(tmp_path))
    mine = identity.validation_context()
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(identity.validation_context()))
    worker.start()
    worker.join()
    assert theirs and theirs[0] is not mine
    assert identity.validation_context() is mine
