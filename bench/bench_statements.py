"""Benchmark: generate and seal statements, against a minimal floor measured in the same run, then the batch in
one and in two worker processes.

* Statements: what the worker does for each statement, minus the database: the entity's lines from a real
  allocation (N participants × 10 items), the full PDF layout (header, summary, two charts, a table per
  category, the derivation appendix, page numbers, QR on every page), the PAdES seal with the platform's
  sealing certificate (app.documents.signing), and the CSV and XLSX.
* Floor: the least a signed statement can cost with the same tools: the same rows in one reportlab table per
  category on plain pages, signed with pyHanko (same key, same hash, the same signer object, whose private
  key is parsed once — see app.billing_reports.generation.fast_sealing_identity), nothing else.
* Batch: the N statements rendered, sealed and exported by a pool of 1 and then 2 processes (each process
  loads the seal once, as a worker process does); the rate of each and their ratio (goal ≥ 1.6×; it can only
  show on a machine with two idle cores).

Per process, floor and statements are timed alternately over ``--repeat`` rounds (3) of ``--sample`` documents
(100) each; the best round is printed with the range. Goal ≥ 0.6× of the floor. A measurement, not a test:
exits 0 whatever the figures.

    .venv/bin/python bench/bench_statements.py [--n 500] [--sample 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import multiprocessing
import os
import resource
import sys
import tempfile
import time
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
from bench.quiet import quiet  # noqa: E402


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


def rate(fn, items) -> float:  # noqa: ANN001
    started = time.perf_counter()
    for item in items:
        fn(item)
    return len(items) / (time.perf_counter() - started)


def statement_documents(data: StatementData) -> int:
    docs = render_documents(data, _settings)
    return len(docs.pdf) + len(docs.csv) + len(docs.xlsx)


_settings = None


def _worker_start(settings) -> None:  # noqa: ANN001
    """A worker process: its settings, and the seal loaded once (as app.worker does on its first statement)."""
    global _settings
    _settings = settings
    fast_sealing_identity(signing.sealing_identity(settings))


def batch_rate(data: list[StatementData], settings, processes: int) -> float:  # noqa: ANN001
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context, initializer=_worker_start,
                                                initargs=(settings,)) as pool:
        list(pool.map(statement_documents, data[:processes * 2]))  # warm every process (imports, fonts, seal)
        started = time.perf_counter()
        size = sum(pool.map(statement_documents, data, chunksize=10))
        elapsed = time.perf_counter() - started
    assert size > 0
    return len(data) / elapsed


def main() -> int:
    global _settings
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="statements (and participants of the allocation)")
    parser.add_argument("--sample", type=int, default=100, help="documents per timed round, per process")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (best and range printed)")
    args = parser.parse_args()
    quiet()
    settings = get_settings().model_copy(update={"data_dir": Path(tempfile.mkdtemp(prefix="bench-sello-"))})
    _settings = settings
    identity = fast_sealing_identity(signing.sealing_identity(settings))  # the demo seal, made once (untimed)
    data = statements(args.n)
    sample = data[: min(args.sample, len(data))]
    floor_one(data[0], identity.signer)  # warm-up: imports, fonts
    render_documents(data[0], settings)
    rounds = []
    for _ in range(args.repeat):
        floor = rate(lambda d: floor_one(d, identity.signer), sample)
        ours = rate(statement_documents, sample)
        rounds.append((ours / floor, floor, ours))
    ratio, floor, ours = max(rounds)
    one = batch_rate(data, settings, 1)
    two = batch_rate(data, settings, 2)
    print(f"Entrada: {args.n} estados de cuenta de un reparto real ({args.n} entidades × 10 ítems); "
          f"{args.repeat} rondas de {len(sample)} documentos por lado")
    print(f"  piso (tablas reportlab + sello pyHanko) .... {floor:6.1f} por segundo")
    print(f"  estados de cuenta (PDF + sello + CSV + XLSX) {ours:6.1f} por segundo")
    print(f"  RAZÓN por proceso: {ratio:.2f}× del piso (rango {min(r[0] for r in rounds):.2f}–"
          f"{max(r[0] for r in rounds):.2f}; meta ≥ 0.60×)")
    print(f"  lote de {args.n}: 1 proceso {one:6.1f}/s; 2 procesos {two:6.1f}/s; RAZÓN {two / one:.2f}× "
          f"(meta ≥ 1.6×; {os.cpu_count()} núcleos en la máquina)")
    print(f"  RSS pico del proceso principal {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
