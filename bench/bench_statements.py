"""Benchmark: generate and seal 500 statements, against a minimal floor measured in the same run.

* Statements: what the worker does for each statement, minus the database: the entity's lines from a real
  allocation (500 participants × 10 items), the full PDF layout (header, summary, two charts, a table per
  category, the derivation appendix, page numbers, QR on every page), the PAdES seal with the platform's
  sealing certificate (app.documents.signing), and the CSV and XLSX.
* Floor: the least a signed statement can cost with the same tools: the same rows in one reportlab table per
  category on plain pages, signed with pyHanko (same key, same hash, the same signer object, whose private
  key is parsed once — see app.billing_reports.generation.fast_sealing_identity), nothing else. For context the
  floor is also timed on a sample with pyHanko's stock SimpleSigner, which re-parses the key on every
  signature.

Prints each side's time and throughput, the ratio of throughputs (goal ≥ 0.5× the floor) and the peak memory
(resident set size of the process, and the largest Python allocation peak of one side, from tracemalloc run on
a sample after the timed runs so it does not slow them down).

    .venv/bin/python bench/bench_statements.py [--n 500]
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.platypus import SimpleDocTemplate, Table  # noqa: E402
from stdnum.pe import ruc as pe_ruc  # noqa: E402

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402

from app.billing_reports.derivation import lines_from_result  # noqa: E402
from app.billing_reports.generation import fast_sealing_identity, render_documents  # noqa: E402
from app.billing_reports.sample import CALLAO, CASE, CATEGORY_LABELS, ITEMS  # noqa: E402
from app.billing_reports.statement import MonthShare, Party, StatementData, by_category  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.costsharing.allocation import allocate, parse_case  # noqa: E402
from app.documents import signing  # noqa: E402


def ruc(n: int) -> str:
    base = f"20{n:08d}"
    return base + pe_ruc.calc_check_digit(base)


def case_with(participants: int) -> dict:
    entities = [{"ruc": ruc(100000 + i), "name": f"Entidad pública de prueba N.º {i + 1}",
                 "active_from": "2026-10-11" if i % 9 == 0 else "2026-01-01", "active_to": None,
                 "drivers": {"area_m2": f"{20 + i % 97}.{i % 100:02d}", "modules": str(1 + i % 6),
                             "advisors": str(1 + i % 9), "attentions": str(500 + 37 * i)}} for i in range(participants)]
    rules = dict(CASE["methodology"]["rules"])
    rules["orientacion"] = {"attentions": "1"}  # a fixed split names its entities; here everyone shares
    return {**CASE, "entities": entities, "methodology": {"version": "SGP-2026.1", "rules": rules},
            "costs": [{**c, "amount": str(Decimal(c["amount"]) * 120)} for c in CASE["costs"]]}


def statements(n: int) -> list[StatementData]:
    result = allocate(parse_case(case_with(n)))
    history = tuple(MonthShare(date(2025 + (m + 10) // 12, (m + 10) % 12 + 1, 1), Decimal(1000 + 17 * m))
                    for m in range(11))
    out = []
    for p in result.case.participants:
        lines = tuple(lines_from_result(result, p.ruc, ITEMS, CATEGORY_LABELS))
        code = f"EC-{p.ruc[-4:]}-BNCH"
        out.append(StatementData(
            number=f"EC-2026-10-MAC-CALLAO-{p.ruc}-v1", version=1, issued_on=date(2026, 11, 5), status="definitivo",
            centre_name="Centro MAC Callao", administering=CALLAO, participant=Party(p.name, p.ruc),
            period_start=date(2026, 10, 1), period_end=date(2026, 10, 31), methodology_version="SGP-2026.1",
            methodology_title="Lineamientos de distribución", vacancy_policy="la asume la entidad administradora",
            rounding_rule="mayor residuo", lines=lines,
            history=(*history, MonthShare(date(2026, 10, 1), sum((ln.amount for ln in lines), Decimal(0)))),
            verification_code=code, verification_url=f"https://mac.gob.pe/verificar/{code}"))
    return out


def floor_one(data: StatementData, signer: signers.SimpleSigner) -> bytes:
    """The same rows, one plain table per category, signed: the least a signed statement can cost."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, invariant=1)
    story = []
    for _code, label, group in by_category(data.lines):
        rows = [["Ítem", "Clave", "Cantidad", "Total", "Participación", "Importe"]]
        rows += [[ln.item, ln.key, str(ln.quantity), str(ln.total_quantity), str(ln.percentage), str(ln.amount)]
                 for ln in group]
        story.append(Table([[label], *rows]))
    doc.build(story)
    writer = IncrementalPdfFileWriter(io.BytesIO(buffer.getvalue()))
    fields.append_signature_field(writer, fields.SigFieldSpec(sig_field_name="Sello"))
    out = signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Sello", md_algorithm="sha256"),
                           signer=signer, bytes_reserved=16_384)
    return out.getvalue()


def timed(label: str, fn, items) -> float:  # noqa: ANN001
    start = time.perf_counter()
    size = 0
    for item in items:
        size += fn(item)
    elapsed = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{label:<34} {len(items)} en {elapsed:7.2f} s = {len(items) / elapsed:6.1f} por segundo "
          f"({size / len(items) / 1024:6.1f} KB promedio; RSS pico del proceso hasta aquí {rss:6.0f} MB)")
    return len(items) / elapsed


def python_peak(fn, items) -> float:  # noqa: ANN001
    tracemalloc.start()
    for item in items:
        fn(item)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024 / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    settings = get_settings().model_copy(update={"data_dir": Path(tempfile.mkdtemp(prefix="bench-sello-"))})
    stock = signing.sealing_identity(settings)  # the demo seal, generated once (not timed)
    identity = fast_sealing_identity(stock)
    print(f"Preparando {args.n} estados de cuenta desde un reparto real ({args.n} entidades × 10 ítems)…")
    data = statements(args.n)
    floor_one(data[0], identity.signer)  # warm-up: fonts, imports
    render_documents(data[0], settings)

    floor = timed("Piso (tablas reportlab + pyHanko)", lambda d: len(floor_one(d, identity.signer)), data)
    ours = timed("Estados de cuenta (PDF+sello+CSV+XLSX)",
                 lambda d: (lambda docs: len(docs.pdf) + len(docs.csv) + len(docs.xlsx))(render_documents(d, settings)),
                 data)
    timed("Piso con SimpleSigner sin caché", lambda d: len(floor_one(d, stock.signer)), data[: min(50, len(data))])
    sample = data[: min(20, len(data))]
    floor_peak = python_peak(lambda d: floor_one(d, identity.signer), sample)
    ours_peak = python_peak(lambda d: render_documents(d, settings), sample)
    ratio = ours / floor
    print(f"Razón de rendimiento: {ratio:.2f}× del piso (meta ≥ 0.50×) — {'CUMPLE' if ratio >= 0.5 else 'NO CUMPLE'}")
    print(f"Memoria Python pico (tracemalloc, {len(sample)} documentos): piso {floor_peak:.1f} MB, "
          f"estados de cuenta {ours_peak:.1f} MB; RSS pico del proceso "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
