"""interpolation.seconds dropped: it was written by every interpolation run and read by nothing
(timings come from ``dynvfi bench`` and route-eval, measured under controlled conditions).

Revision ID: 0003_drop_interpolation_seconds
Revises: 0002_interpolation_failure
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_drop_interpolation_seconds'
down_revision: str | None = '0002_interpolation_failure'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('interpolation') as batch:  # SQLite rebuilds the table
        batch.drop_column('seconds')


def downgrade() -> None:
    with op.batch_alter_table('interpolation') as batch:
        batch.add_column(sa.Column('seconds', sa.Float(), nullable=True))
