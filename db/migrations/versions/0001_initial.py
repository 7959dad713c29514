"""Initial schema: clip, triplet, collect_run (db.models) and the annotation tables
interpolation, annotator, vote (db.annotation), as they were when migrations were introduced.

Revision ID: 0001_initial
Revises: (none)
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001_initial'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('annotator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('password_hash', sa.String(length=128), nullable=True),
    sa.Column('is_auto', sa.Boolean(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotator')),
    sa.UniqueConstraint('name', name=op.f('uq_annotator_name'))
    )
    op.create_table('clip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('fps', sa.Float(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('num_frames', sa.Integer(), nullable=True),
    sa.Column('split', sa.String(length=8), nullable=False),
    sa.Column('group_key', sa.String(length=512), nullable=True),
    sa.Column('signature', sa.String(length=64), nullable=True),
    sa.Column('stats', sa.JSON(), nullable=True),
    sa.Column('sample_hashes', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clip')),
    sa.UniqueConstraint('key', name=op.f('uq_clip_key'))
    )
    op.create_table('collect_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('config_hash', sa.String(length=64), nullable=False),
    sa.Column('shard', sa.String(length=16), nullable=False),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('finished', sa.Boolean(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collect_run'))
    )
    op.create_index(op.f('ix_collect_run_config_hash'), 'collect_run', ['config_hash'], unique=False)
    op.create_table('triplet',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('frame0', sa.Integer(), nullable=False),
    sa.Column('stride', sa.Integer(), nullable=False),
    sa.Column('effective_fps', sa.Float(), nullable=True),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('path0', sa.Text(), nullable=False),
    sa.Column('path_gt', sa.Text(), nullable=False),
    sa.Column('path1', sa.Text(), nullable=False),
    sa.Column('motion_mean', sa.Float(), nullable=True),
    sa.Column('motion_p95', sa.Float(), nullable=True),
    sa.Column('phash', sa.String(length=32), nullable=True),
    sa.Column('split', sa.String(length=8), nullable=False),
    sa.Column('is_control', sa.Boolean(), nullable=False),
    sa.Column('control_answer', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_triplet_clip_id_clip'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_triplet')),
    sa.UniqueConstraint('clip_id', 'frame0', 'stride', 'tier', name='uq_triplet_identity')
    )
    op.create_index(op.f('ix_triplet_clip_id'), 'triplet', ['clip_id'], unique=False)
    op.create_index(op.f('ix_triplet_phash'), 'triplet', ['phash'], unique=False)
    op.create_index(op.f('ix_triplet_split'), 'triplet', ['split'], unique=False)
    op.create_index('ix_triplet_tier_split', 'triplet', ['tier', 'split'], unique=False)
    op.create_table('interpolation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('triplet_id', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('psnr', sa.Float(), nullable=True),
    sa.Column('ssim', sa.Float(), nullable=True),
    sa.Column('perceptual', sa.Float(), nullable=True),
    sa.Column('perceptual_metric', sa.String(length=64), nullable=True),
    sa.Column('input_perceptual', sa.Float(), nullable=True),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['triplet_id'], ['triplet.id'], name=op.f('fk_interpolation_triplet_id_triplet'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interpolation')),
    sa.UniqueConstraint('triplet_id', 'model', name='uq_interp_triplet_model')
    )
    op.create_index(op.f('ix_interpolation_triplet_id'), 'interpolation', ['triplet_id'], unique=False)
    op.create_table('vote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('annotator_id', sa.Integer(), nullable=False),
    sa.Column('triplet_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('skipped', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['annotator_id'], ['annotator.id'], name=op.f('fk_vote_annotator_id_annotator'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['triplet_id'], ['triplet.id'], name=op.f('fk_vote_triplet_id_triplet'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vote')),
    sa.UniqueConstraint('annotator_id', 'triplet_id', name='uq_vote_annotator_triplet')
    )
    op.create_index(op.f('ix_vote_annotator_id'), 'vote', ['annotator_id'], unique=False)
    op.create_index(op.f('ix_vote_triplet_id'), 'vote', ['triplet_id'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_vote_triplet_id'), table_name='vote')
    op.drop_index(op.f('ix_vote_annotator_id'), table_name='vote')
    op.drop_table('vote')
    op.drop_index(op.f('ix_interpolation_triplet_id'), table_name='interpolation')
    op.drop_table('interpolation')
    op.drop_index('ix_triplet_tier_split', table_name='triplet')
    op.drop_index(op.f('ix_triplet_split'), table_name='triplet')
    op.drop_index(op.f('ix_triplet_phash'), table_name='triplet')
    op.drop_index(op.f('ix_triplet_clip_id'), table_name='triplet')
    op.drop_table('triplet')
    op.drop_index(op.f('ix_collect_run_config_hash'), table_name='collect_run')
    op.drop_table('collect_run')
    op.drop_table('clip')
    op.drop_table('annotator')
