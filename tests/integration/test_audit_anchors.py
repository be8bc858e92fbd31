"""Anchors of the audit chain outside the database: `mac audit verify` checks the chain against every sealed
anchor, so a chain rewritten by someone who controls the database (the superuser) is detected, even though
its hashes and links are consistent again."""

from __future__ import annotations

import json

import psycopg
import pytest

from app.audit_checkpoints import read_anchor, signature_problem, write_anchor
from app.config import psycopg_url
from tests.scale_fixtures import scratch  # noqa: F401




def append_entries(owner_url: str, count: int) -> None:
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        conn.execute("SELECT set_config('app.role', 'sistema', true)")
        for n in range(count):
            conn.execute("INSERT INTO audit_log (seq, prev_hash, hash, actor_label, actor_role, action, record_type,"
                         " record_id, after) VALUES (0, '', '', 'sistema', 'sistema', 'prueba', 'prueba', %s,"
                         " %s::jsonb)", (str(n), json.dumps({"monto": f"{100 + n}.00"})))


def rewrite_history_as_superuser(owner_url: str, seq: int) -> None:
    """What someone with full control of the database can do: change one entry and recompute every later hash
    and link, and the head, so that the chain is consistent again."""
    with psycopg.connect(psycopg_url(owner_url)) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET after = '{\"monto\": \"1.00\"}'::jsonb WHERE seq = %s", (seq,))
        conn.execute("""
            DO $$ DECLARE r record; previous text;
            BEGIN
              SELECT hash INTO previous FROM audit_log WHERE seq = %s - 1;
              previous := coalesce(previous, repeat('0', 64));
              FOR r IN SELECT seq FROM audit_log WHERE seq >= %s ORDER BY seq LOOP
                UPDATE audit_log SET prev_hash = previous WHERE seq = r.seq;
                UPDATE audit_log a SET hash = audit_digest(a) WHERE a.seq = r.seq RETURNING hash INTO previous;
              END LOOP;
              UPDATE audit_chain_head SET last_hash = previous WHERE id = 1;
            END $$""".replace("%s", str(int(seq))))
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")


def test_a_rewritten_chain_passes_its_own_check_but_not_the_anchors(scratch):
    append_entries(scratch.owner_url, 5)
    anchored = scratch.mac("audit", "anclar")
    assert anchored.returncode == 0, anchored.stderr
    assert "Ancla creada" in anchored.stdout
    [path] = sorted(scratch.settings.checkpoint_dir().glob("ancla-*.json"))
    assert read_anchor(path).anchor.seq == 5
    append_entries(scratch.owner_url, 3)  # work goes on after the anchor
    verified = scratch.mac("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "8 entradas" in verified.stdout and "Anclas verificadas: 1" in verified.stdout

    rewrite_history_as_superuser(scratch.owner_url, 2)
    with psycopg.connect(psycopg_url(scratch.owner_url)) as conn:
        from app.audit import verify_chain_on

        assert verify_chain_on(conn).intact  # the database alone can no longer tell
    tampered = scratch.mac("audit", "verify")
    assert tampered.returncode == 1
    assert "AUDITORÍA ALTERADA" in tampered.stderr and "la entrada 5 tiene otro hash" in tampered.stderr
    assert path.name in tampered.stderr


def test_anchoring_twice_at_the_same_head_makes_one_anchor(scratch):
    append_entries(scratch.owner_url, 2)
    assert "Ancla creada" in scratch.mac("audit", "anclar").stdout
    again = scratch.mac("audit", "anclar")
    assert again.returncode == 0 and "ya está anclada" in again.stdout
    assert len(list(scratch.settings.checkpoint_dir().glob("ancla-*.json"))) == 1


async def test_an_anchor_whose_hash_was_edited_in_the_file_fails_its_seal(scratch):
    append_entries(scratch.owner_url, 1)
    assert scratch.mac("audit", "anclar").returncode == 0
    [path] = sorted(scratch.settings.checkpoint_dir().glob("ancla-*.json"))
    stored = read_anchor(path)
    assert await signature_problem(stored, scratch.settings) is None
    forged = type(stored.anchor)(seq=stored.anchor.seq, hash="f" * 64, at=stored.anchor.at)
    path.unlink()
    forged_path = write_anchor(path.parent, forged, stored.signature)  # the old seal on new content
    assert await signature_problem(read_anchor(forged_path), scratch.settings) == \
        "la firma no corresponde al contenido del ancla"
    verified = scratch.mac("audit", "verify")
    assert verified.returncode == 1 and "la firma no corresponde" in verified.stderr
