"""Frame readers: videos (OpenCV, falling back to PyAV) and frame folders, one interface.

Frames are numbered in decode order and come with their timestamp (seconds) when the container
has one, so triplets whose two frame gaps differ (variable frame rate, dropped frames, the
irregular Cinepak AVI in the sample data) can be rejected instead of silently mislabelled.
OpenCV is the primary decoder because it converts to BGR about twice as fast as PyAV here; PyAV
catches containers OpenCV's FFmpeg build cannot open.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from collect.sources import image_files, triplet_files
from dynvfi_core.errors import InputError
from dynvfi_core.imageio import read_image


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Frame:
    index: int
    bgr: np.ndarray | None  # None: this frame could not be decoded
    time: float | None  # seconds, None when the source has no timestamps
    #: the file this frame was read from when it is an 8-bit RGB PNG: its bytes are exactly what
    #: the collector would store at this size, so it copies them instead of re-encoding (zlib
    #: encoding costs ~10x decoding)
    png: Path | None = None


def is_rgb8_png(path: Path) -> bool:
    """True for a PNG whose header says 8-bit RGB (colour type 2), the collector's own format.

    Other PNGs (gray, palette, alpha, 16-bit) decode to something else than their bytes say
    after :func:`~dynvfi_core.imageio.to_rgb_uint8`, so they are re-encoded, not copied.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(26)
    except OSError:
        return False
    # signature, IHDR length + type, width, height, bit depth (byte 24), colour type (byte 25)
    return len(head) == 26 and head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR" and head[24:26] == b"\x08\x02"


@dataclass
class Meta:
    width: int
    height: int
    fps: float | None
    declared_frames: int | None
    backend: str


class FrameReader:
    """Iterate a clip's frames; ``meta`` is known after construction (before decoding all)."""

    meta: Meta
    #: set while iterating when decoding stopped early; the run reports it for the clip
    problem: str | None = None

    def __iter__(self) -> Iterator[Frame]:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        """Release the decoder."""


class OpenCVReader(FrameReader):
    def __init__(self, path: Path) -> None:
        self.cap = cv2.VideoCapture(str(path))
        if not self.cap.isOpened():
            raise InputError("OpenCV cannot open it")
        ok, first = self.cap.read()
        if not ok or first is None:
            self.cap.release()
            raise InputError("OpenCV decodes no frame")
        self._first = (first, self._time())
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        count = int(self.cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.meta = Meta(first.shape[1], first.shape[0], fps if 0 < fps < 10_000 else None,
                         count if count > 0 else None, "opencv")

    def _time(self) -> float | None:
        ms = self.cap.get(cv2.CAP_PROP_POS_MSEC)
        return ms / 1000.0 if ms >= 0 else None

    def __iter__(self) -> Iterator[Frame]:
        first, t0 = self._first
        yield Frame(0, first, t0)
        index = 1
        while True:
            ok, img = self.cap.read()
            if not ok or img is None:
                break
            if img.shape[:2] != first.shape[:2]:
                self.problem = f"frame size changed at frame {index}; decoding stopped"
                break
            yield Frame(index, img, self._time())
            index += 1

    def close(self) -> None:
        self.cap.release()


class PyAVReader(FrameReader):
    def __init__(self, path: Path) -> None:
        import av

        from dynvfi_core.video import frame_rate, open_video

        av.logging.set_level(av.logging.PANIC)
        self.container = open_video(path)  # InputError with the reason for this source's report
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        cc = self.stream.codec_context
        rate = frame_rate(self.stream)
        self.meta = Meta(cc.width, cc.height, float(rate) if rate else None, self.stream.frames or None, "pyav")
        if not cc.width or not cc.height:
            self.close()
            raise InputError("PyAV finds no frame size")

    def __iter__(self) -> Iterator[Frame]:
        import av

        index = 0
        try:
            for frame in self.container.decode(self.stream):
                img = frame.to_ndarray(format="bgr24")
                if img.shape[:2] != (self.meta.height, self.meta.width):
                    self.problem = f"frame size changed at frame {index}; decoding stopped"
                    return
                yield Frame(index, img, frame.time)
                index += 1
        except av.error.FFmpegError as exc:
            self.problem = f"decoding failed after {index} frames ({exc})"

    def close(self) -> None:
        self.container.close()


class FolderReader(FrameReader):
    """Image files of one folder in natural order (or the given ``files`` in their order, e.g. a
    ready-made triplet's frame0, gt, frame1); an unreadable file is one failed frame."""

    def __init__(self, folder: Path, fps: float | None, files: list[Path] | None = None) -> None:
        if not folder.is_dir():
            raise InputError(f"frame folder not found: {folder}")
        self.files = files if files is not None else image_files(folder)
        if not self.files:
            raise InputError(f"empty folder (no image files): {folder}")
        first = None
        for f in self.files:
            try:
                first = read_image(f)
                break
            except InputError:
                continue
        if first is None:
            raise InputError(f"no readable image in {folder}")
        self.meta = Meta(first.shape[1], first.shape[0], fps, len(self.files), "images")

    def __iter__(self) -> Iterator[Frame]:
        failed = 0
        for i, f in enumerate(self.files):
            try:
                rgb = read_image(f)
                ok = rgb.shape[:2] == (self.meta.height, self.meta.width)
            except InputError:
                ok = False
            if not ok:
                failed += 1
                self.problem = f"{failed} unreadable or differently sized frame file(s), e.g. {f.name}"
            if not ok:
                yield Frame(i, None, None)
                continue
            yield Frame(i, np.ascontiguousarray(rgb[:, :, ::-1]), None, f if is_rgb8_png(f) else None)


def open_reader(path: Path, media: str, fps: float | None) -> FrameReader:
    """A reader for a video file or frame folder; :class:`InputError` when nothing decodes."""
    if media == "frames":
        return FolderReader(path, fps)
    if media == "triplet":
        files = triplet_files(path) if path.is_dir() else None
        if files is None:
            raise InputError(f"not a triplet folder (frame_00/frame_01_gt/frame_02 or frame0/gt/frame1): {path}")
        return FolderReader(path, fps, list(files))
    if not path.is_file():
        raise InputError(f"video not found: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"zero-byte video file: {path}")
    try:
        reader: FrameReader = OpenCVReader(path)
    except InputError as cv_exc:
        try:
            reader = PyAVReader(path)
        except InputError as av_exc:
            raise InputError(f"cannot decode video {path.name}: {cv_exc}; {av_exc}") from av_exc
    if fps is not None:
        reader.meta.fps = fps
    return reader
