"""interpolation_failure: triplets a batch interpolation run set aside, with the reason.

Revision ID: 0002_interpolation_failure
Revises: 0001_initial
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_interpolation_failure'
down_revision: str | None = '0001_initial'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('interpolation_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('triplet_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['triplet_id'], ['triplet.id'], name=op.f('fk_interpolation_failure_triplet_id_triplet'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interpolation_failure')),
    sa.UniqueConstraint('triplet_id', 'model', name='uq_interp_failure_triplet_model')
    )
    op.create_index(op.f('ix_interpolation_failure_triplet_id'), 'interpolation_failure', ['triplet_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_interpolation_failure_triplet_id'), table_name='interpolation_failure')
    op.drop_table('interpolation_failure')
