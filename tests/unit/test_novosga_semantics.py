"""Novo SGA semantics and the service mapping's rules, without any database."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.sla.sources import mapping, novosga
from app.sla.sources.secrets import decrypt, encrypt

LIMA = ZoneInfo("America/Lima")
T0 = datetime(2026, 3, 3, 9, 0)
DNI = novosga.Target("20295613620", "DNI")


def row(id_: int, status: str, *, live: bool = False, parent: int | None = None, number: int = 1,
        arrived: datetime = T0, service: int = 1, called: bool = True, started: bool = True,
        ended: bool = True) -> novosga.NovoRow:
    return novosga.NovoRow(live=live, id=id_, unidade_id=1, servico_id=service, parent_id=parent, status=status,
                           ticket_number=number, arrived=arrived, called=arrived + timedelta(minutes=5) if called else None,
                           started=arrived + timedelta(minutes=6) if started else None,
                           ended=arrived + timedelta(minutes=9) if ended else None, module=1, user_id=3)


def interpret(*rows: novosga.NovoRow) -> list[novosga.Verdict]:
    return novosga.interpret(rows, source_tag="abcd1234", zone=LIMA,
                             resolve=lambda sid, _day: DNI if sid == 1 else None)


@pytest.mark.parametrize(("code", "name"), list(novosga.STATUS_NAMES.items()))
def test_1x_codes_and_2x_names_mean_the_same_status(code, name):
    assert novosga.status_name(code) == novosga.status_name(str(code)) == novosga.status_name(name) == name


@pytest.mark.parametrize(("status", "what", "outcome", "times"), [
    ("emitida", novosga.SEGMENT, "abandoned", (False, False, False)),
    ("chamado", novosga.SEGMENT, "abandoned", (True, False, False)),
    ("iniciado", novosga.SEGMENT, "attended", (True, True, True)),
    ("encerrado", novosga.SEGMENT, "attended", (True, True, True)),
    ("nao_compareceu", novosga.SEGMENT, "abandoned", (True, False, False)),
    ("cancelada", novosga.CANCELLED, None, None),
    ("erro_triagem", novosga.SEGMENT, "transferred", (True, True, True)),
    ("codificado", novosga.SEGMENT, "attended", (True, True, True)),
])
def test_an_archived_row_becomes_what_its_status_says(status, what, outcome, times):
    (verdict,) = interpret(row(7, status))
    assert verdict.what == what
    if outcome:
        seg = verdict.segment
        assert seg.outcome == outcome
        assert (seg.called_at is not None, seg.started_at is not None, seg.ended_at is not None) == times
        assert seg.issued_at == T0.replace(tzinfo=LIMA)


@pytest.mark.parametrize("status", ["emitida", "chamado", "iniciado"])
def test_a_live_row_still_in_the_queue_is_open_and_not_imported(status):
    assert [v.what for v in interpret(row(1, status, live=True))] == [novosga.OPEN]


def test_a_redirection_continues_the_same_ticket_as_its_next_segment_even_when_ids_collide():
    yesterday = T0 - timedelta(days=1)
    parent = row(5, "erro_triagem", number=8)
    old_same_id = row(5, "erro_triagem", number=8, arrived=yesterday)  # archived the day before, same id
    child = row(6, "codificado", parent=5, number=8, arrived=T0 + timedelta(minutes=9))
    grandchild = row(7, "nao_compareceu", parent=6, number=8, arrived=T0 + timedelta(minutes=20))
    verdicts = interpret(old_same_id, parent, child, grandchild)
    segs = [(v.segment.ticket_id, v.segment.segment, v.segment.outcome) for v in verdicts]
    ticket = f"abcd1234:1:5:{T0:%Y%m%d%H%M%S}"
    assert segs == [(f"abcd1234:1:5:{yesterday:%Y%m%d%H%M%S}", 1, "transferred"), (ticket, 1, "transferred"),
                    (ticket, 2, "attended"), (ticket, 3, "abandoned")]


def test_a_child_whose_parent_was_not_read_is_rejected_with_a_reason():
    (verdict,) = interpret(row(6, "codificado", parent=5))
    assert verdict.what == novosga.REJECTED and "5" in verdict.reason


def test_a_row_of_an_unmapped_service_is_reported_not_imported():
    (verdict,) = interpret(row(1, "codificado", service=42))
    assert verdict.what == novosga.UNMAPPED and "42" in verdict.reason


def test_naive_times_are_read_in_the_source_zone():
    (verdict,) = novosga.interpret([row(1, "codificado")], source_tag="t", zone=ZoneInfo("America/Guatemala"),
                                   resolve=lambda *_: DNI)
    assert verdict.segment.issued_at.astimezone(LIMA).time() == time(10, 0)


def test_the_share_of_arrivals_outside_opening_hours_reveals_a_wrong_zone():
    hours = {9: 40, 10: 50, 15: 10}  # source-local hours of arrival
    opening = (time(8, 0), time(17, 0))
    assert novosga.share_outside_hours(hours, LIMA, opening, LIMA, date(2026, 3, 3)) == 0
    assert novosga.share_outside_hours(hours, ZoneInfo("Asia/Tokyo"), opening, LIMA, date(2026, 3, 3)) == 1


def test_the_window_rereads_whole_days_before_the_watermark():
    watermark = datetime(2026, 3, 10, 15, 30, tzinfo=ZoneInfo("UTC"))
    assert novosga.window_start(watermark, 3, LIMA, date(2026, 1, 1)) == datetime(2026, 3, 7)
    assert novosga.window_start(None, 3, LIMA, date(2026, 1, 1)) == datetime(2026, 1, 1)


A, B = uuid.uuid4(), uuid.uuid4()


def entry(service: int, entity: uuid.UUID, code: str, start: date, *, children: bool = False,
          end: date | None = None) -> mapping.MapEntry:
    return mapping.MapEntry(service, children, entity, "20100000001" if entity == A else "20100000002", code, start,
                            end)


def test_a_macro_service_stands_for_its_children_unless_a_child_has_its_own_mapping():
    entries = [entry(2, A, "RUC", date(2026, 1, 1), children=True), entry(4, A, "TRIB", date(2026, 1, 1))]
    macro_of = {3: 2, 4: 2}
    assert mapping.resolve(entries, macro_of, 3, date(2026, 2, 1)).service_code == "RUC"
    assert mapping.resolve(entries, macro_of, 4, date(2026, 2, 1)).service_code == "TRIB"
    assert mapping.resolve(entries, macro_of, 3, date(2025, 12, 31)) is None


def test_a_new_version_closes_the_one_in_force_and_must_start_later():
    first = entry(1, A, "DNI", date(2026, 1, 1))
    closed, new = mapping.add_version([first], entry(1, B, "RUC", date(2026, 3, 1)), {})
    assert closed.valid_to == date(2026, 2, 28) and new.version == 2
    with pytest.raises(mapping.MappingRefused) as earlier:
        mapping.add_version([first], entry(1, B, "RUC", date(2026, 1, 1)), {})
    assert earlier.value.field == "desde"


def test_refused_a_novo_service_for_two_entities_and_an_entity_service_mapped_twice():
    macro = entry(2, A, "RUC", date(2026, 1, 1), children=True)
    with pytest.raises(mapping.MappingRefused, match="dos entidades"):
        mapping.add_version([macro], entry(3, B, "DNI", date(2026, 2, 1)), {3: 2})
    with pytest.raises(mapping.MappingRefused, match="ya está mapeado"):
        mapping.add_version([macro], entry(9, A, "RUC", date(2026, 2, 1)), {})
    # Not at once: a mapping that ended before the new one starts is no conflict.
    ended = entry(2, A, "RUC", date(2026, 1, 1), end=date(2026, 1, 31))
    assert mapping.add_version([ended], entry(9, A, "RUC", date(2026, 2, 1)), {})[1].version == 1


def test_a_password_is_stored_encrypted_and_only_the_same_secret_reads_it():
    token = encrypt("clave secreta", secret_key="k" * 40)
    assert "clave" not in token and decrypt(token, secret_key="k" * 40) == "clave secreta"
    with pytest.raises(ValueError, match="clave secreta de la plataforma cambió"):
        decrypt(token, secret_key="otra" * 10)


def test_the_novo_feed_keeps_every_ingest_rule_but_the_start_of_a_transferred_segment():
    from app.sla import ingest
    from app.sla.sources.sync import NOVO_TICKETS

    kept = set(NOVO_TICKETS.rules)
    dropped = [r for r in ingest.TICKETS.rules if r not in kept]
    # The ingest's two rules (call and start for attended or transferred) become the Novo pair below.
    assert [field for field, _cond, _reason in dropped] == ["llamado", "inicio"]
    assert len(NOVO_TICKETS.rules) == len(ingest.TICKETS.rules) - 2 + 2
    added = [r for r in NOVO_TICKETS.rules if r not in set(ingest.TICKETS.rules)]
    assert [(field, "'derivado'" in cond) for field, cond, _reason in added] == [("llamado", True), ("inicio", False)]


def test_a_status_novo_does_not_have_is_rejected_hinting_at_the_version():
    (verdict,) = interpret(row(1, "desconocido:9"))
    assert verdict.what == novosga.REJECTED and verdict.field == "status" and "«9»" in verdict.reason
