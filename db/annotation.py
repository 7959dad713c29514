"""Annotation tables.

triplet 1─* interpolation     (a model's middle frame + metrics against the ground truth)
        1─* vote *─1 annotator (scores 1-4, one row per annotator x triplet; automatic
                                pre-scores are votes of a pseudo-annotator ``auto:<metric>``)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models import Base, utcnow


class Interpolation(Base):
    """One model's interpolated middle frame for a triplet, with its quality against the ground truth."""

    __tablename__ = "interpolation"
    __table_args__ = (UniqueConstraint("triplet_id", "model", name="uq_interp_triplet_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    triplet_id: Mapped[int] = mapped_column(ForeignKey("triplet.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)  # relative to the data root
    psnr: Mapped[float | None] = mapped_column(Float)
    ssim: Mapped[float | None] = mapped_column(Float)
    perceptual: Mapped[float | None] = mapped_column(Float)  # LPIPS-family distance
    perceptual_metric: Mapped[str | None] = mapped_column(String(64))  # which metric produced it
    input_perceptual: Mapped[float | None] = mapped_column(Float)  # distance between the two inputs (DPA aux target)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Annotator(Base):
    """A person (or a pseudo-annotator ``auto:<metric>``) who gives scores."""

    __tablename__ = "annotator"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(128))  # bcrypt; NULL for pseudo-annotators
    is_auto: Mapped[bool] = mapped_column(Boolean, default=False)
    seed: Mapped[int] = mapped_column(Integer, default=0)  # per-annotator item order
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Vote(Base):
    """A 1-4 score (or a skip) of one annotator for one triplet; re-rating updates the row."""

    __tablename__ = "vote"
    __table_args__ = (UniqueConstraint("annotator_id", "triplet_id", name="uq_vote_annotator_triplet"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotator_id: Mapped[int] = mapped_column(ForeignKey("annotator.id", ondelete="CASCADE"), index=True)
    triplet_id: Mapped[int] = mapped_column(ForeignKey("triplet.id", ondelete="CASCADE"), index=True)
    score: Mapped[int | None] = mapped_column(Integer)  # 1..4, NULL = skipped
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class InterpolationFailure(Base):
    """A triplet a model's batch run set aside (unreadable or missing frame, wrong size), and why.

    The batch goes on without it; the next run of the same model retries it (it still has no
    :class:`Interpolation` row) and deletes this row when it succeeds.
    """

    __tablename__ = "interpolation_failure"
    __table_args__ = (UniqueConstraint("triplet_id", "model", name="uq_interp_failure_triplet_model"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    triplet_id: Mapped[int] = mapped_column(ForeignKey("triplet.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
