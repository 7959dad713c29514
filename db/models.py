"""The DynVFI schema (SQLAlchemy 2 declarative).

clip 1─* triplet; collect_run records each collection run. The annotation tables
(interpolation, annotator, vote) live in :mod:`db.annotation`.
Splits are assigned per clip *group* (all Vimeo sequences of one source video share a group) so
that no footage contributes to two splits. Schema changes go through Alembic (``db/migrations``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


#: explicit constraint names, so that Alembic can later alter SQLite tables (batch mode needs
#: names to find a constraint) and migrations are identical on every database backend
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Clip(Base):
    """A source clip (video file, frame folder, Vimeo sequence)."""

    __tablename__ = "clip"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512), unique=True)  # stable id: source + relative path
    source: Mapped[str] = mapped_column(String(64))  # vimeo_triplet | vimeo_septuplet | adobe240 | web | local
    uri: Mapped[str] = mapped_column(Text)
    fps: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    num_frames: Mapped[int | None] = mapped_column(Integer)
    split: Mapped[str] = mapped_column(String(8))  # train | val | test, or "mixed" (split_unit: shot)
    # footage identity the split is drawn from (e.g. the Vimeo video of a sequence): no leakage
    group_key: Mapped[str | None] = mapped_column(String(512))
    # hash of the sampling/filter settings of the run that fully collected this clip; resume
    # skips a clip whose signature matches, so a killed run re-does only unfinished clips
    signature: Mapped[str | None] = mapped_column(String(64))
    # per-clip counts: rejections by reason, tiers skipped, decoded vs declared frames, warnings
    stats: Mapped[dict | None] = mapped_column(JSON)
    # [[frame0, stride, phash_hex], ...] of every sample that passed the per-clip filters, kept
    # even when the sample is later dropped as a cross-clip duplicate, so de-duplication is a
    # function of the whole set and not of the order in which clips or shards finished
    sample_hashes: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    triplets: Mapped[list[Triplet]] = relationship(back_populates="clip", cascade="all, delete-orphan")


class Triplet(Base):
    """Three frames (outer pair + ground-truth middle) stored as PNG under the data root."""

    __tablename__ = "triplet"
    __table_args__ = (
        UniqueConstraint("clip_id", "frame0", "stride", "tier", name="uq_triplet_identity"),
        Index("ix_triplet_tier_split", "tier", "split"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    frame0: Mapped[int] = mapped_column(Integer)  # source frame index of the first frame
    stride: Mapped[int] = mapped_column(Integer)  # source frames between outer frame and middle frame
    # frame rate of the sequence frame0, gt, frame1 (source fps / stride); None if fps unknown
    effective_fps: Mapped[float | None] = mapped_column(Float)
    tier: Mapped[str] = mapped_column(String(16))  # 1080p | 720p | 256p | native
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    path0: Mapped[str] = mapped_column(Text)  # relative to the data root
    path_gt: Mapped[str] = mapped_column(Text)
    path1: Mapped[str] = mapped_column(Text)
    # DIS flow magnitude frame0 -> frame1, px at stored size (computed at 256p, scaled)
    motion_mean: Mapped[float | None] = mapped_column(Float)
    motion_p95: Mapped[float | None] = mapped_column(Float)
    phash: Mapped[str | None] = mapped_column(String(32), index=True)  # 64-bit pHash of gt, hex
    split: Mapped[str] = mapped_column(String(8), index=True)  # the clip's split, or its shot's with split_unit: shot
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    control_answer: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    clip: Mapped[Clip] = relationship(back_populates="triplets")


class CollectRun(Base):
    """One collection run (or shard of one): its config and its report, for resume and audit."""

    __tablename__ = "collect_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_hash: Mapped[str] = mapped_column(String(64), index=True)
    shard: Mapped[str] = mapped_column(String(16), default="1/1")  # i/N, 1-based
    report: Mapped[dict | None] = mapped_column(JSON)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
