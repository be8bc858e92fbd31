"""timestamp offsets: sla_is_timestamp also checks the UTC offset's range

Revision ID: 0018
Revises: 0017

An offset such as ``-99:99`` had the accepted shape, so the check passed and the cast that follows raised: the
whole batch failed instead of that line getting its reason. PostgreSQL accepts offsets up to ±15:59; the
function now checks the hours and minutes of the offset in each of its three shapes (``±hh``, ``±hhmm``,
``±hh:mm``), as it already checked the date and the time.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHAPES = ("{9999-99-99T99:99Z,9999-99-99T99:99-99,9999-99-99T99:99-9999,9999-99-99T99:99-99:99,"
          "9999-99-99T99:99:99Z,9999-99-99T99:99:99-99,9999-99-99T99:99:99-9999,9999-99-99T99:99:99-99:99,"
          "9999-99-99T99:99:99.9Z,9999-99-99T99:99:99.9-99,9999-99-99T99:99:99.9-9999,9999-99-99T99:99:99.9-99:99,"
          "9999-99-99T99:99:99.99Z,9999-99-99T99:99:99.99-99,9999-99-99T99:99:99.99-9999,"
          "9999-99-99T99:99:99.99-99:99,9999-99-99T99:99:99.999Z,9999-99-99T99:99:99.999-99,"
          "9999-99-99T99:99:99.999-9999,9999-99-99T99:99:99.999-99:99,9999-99-99T99:99:99.9999Z,"
          "9999-99-99T99:99:99.9999-99,9999-99-99T99:99:99.9999-9999,9999-99-99T99:99:99.9999-99:99,"
          "9999-99-99T99:99:99.99999Z,9999-99-99T99:99:99.99999-99,9999-99-99T99:99:99.99999-9999,"
          "9999-99-99T99:99:99.99999-99:99,9999-99-99T99:99:99.999999Z,9999-99-99T99:99:99.999999-99,"
          "9999-99-99T99:99:99.999999-9999,9999-99-99T99:99:99.999999-99:99}")

DATE_AND_TIME = """
             substr(p, 6, 2)::int BETWEEN 1 AND 12
              AND substr(p, 9, 2)::int BETWEEN 1 AND CASE
                    WHEN substr(p, 6, 2)::int IN (4, 6, 9, 11) THEN 30
                    WHEN substr(p, 6, 2)::int = 2 THEN
                      CASE WHEN substr(p, 1, 4)::int % 4 = 0 AND (substr(p, 1, 4)::int % 100 <> 0
                                OR substr(p, 1, 4)::int % 400 = 0) THEN 29 ELSE 28 END
                    ELSE 31 END
              AND substr(p, 12, 2)::int < 24 AND substr(p, 15, 2)::int < 60
              AND (substr(p, 17, 1) <> ':' OR substr(p, 18, 2)::int < 60)"""

# The offset is the text's tail: Z, ±hh:mm (sign 6th from the end), ±hhmm (5th) or ±hh.
OFFSET = """
              AND CASE WHEN right(p, 1) = 'Z' THEN true
                       WHEN substr(p, length(p) - 5, 1) IN ('+', '-')
                         THEN substr(p, length(p) - 4, 2)::int <= 15 AND right(p, 2)::int < 60
                       WHEN substr(p, length(p) - 4, 1) IN ('+', '-')
                         THEN substr(p, length(p) - 3, 2)::int <= 15 AND right(p, 2)::int < 60
                       ELSE right(p, 2)::int <= 15 END"""


def _define(with_offset: bool) -> None:
    op.execute(f"""
    CREATE OR REPLACE FUNCTION sla_is_timestamp(p text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
      SELECT CASE WHEN translate(p, '0123456789+ ', '9999999999-T') = ANY ('{SHAPES}'::text[])
             THEN {DATE_AND_TIME}{OFFSET if with_offset else ''}
             ELSE false END $$""")


def upgrade() -> None:
    _define(with_offset=True)


def downgrade() -> None:
    _define(with_offset=False)
