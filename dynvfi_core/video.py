"""Video in and out for frame interpolation: PyAV decoding, scene cuts, encoding with the audio kept.

- :func:`probe` / :func:`decode_frames` / :func:`demux`: frames as RGB uint8 arrays (and, for
  :func:`demux`, the audio packets in container order so they can be copied untouched);
- :class:`CutDetector`: the collection pipeline's PySceneDetect-based detector fed frame by frame,
  so cut detection rides on a decode we do anyway instead of decoding the file a second time;
- :class:`VideoWriter`: H.264 (or the container's usual codec) at the new frame rate; audio is
  remuxed without re-encoding when the output container accepts its codec, else re-encoded to AAC.

Every decoding failure (missing, zero-byte, truncated or non-video file) becomes an
:class:`~dynvfi_core.errors.InputError` with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Self

import av
import av.error
import cv2
import numpy as np

from dynvfi_core.analysis import SceneCuts, analysis_size
from dynvfi_core.atomic import atomic_path
from dynvfi_core.errors import InputError, OutputError

#: PySceneDetect's default content threshold; higher = fewer cuts
DEFAULT_CUT_THRESHOLD = 27.0

#: output codec per container suffix (anything else: H.264)
_CODECS = {".webm": "libvpx-vp9", ".avi": "mpeg4"}
#: FFmpeg muxer per output suffix (named, since the file is written under a temporary name)
_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm", ".avi": "avi"}
#: output containers VideoWriter supports (H.264 in all but .webm and .avi)
VIDEO_SUFFIXES = tuple(_FORMATS)


def check_video_suffix(path: Path) -> None:
    """Refuse an output video name of a container VideoWriter cannot write, before any work."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise OutputError(f"cannot write a video named '{path.name}': use one of {', '.join(VIDEO_SUFFIXES)}")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` learns from the container header (frame count may be an estimate)."""

    path: Path
    width: int
    height: int
    fps: Fraction
    frames_hint: int  # from the header; 0 when the container does not say
    duration_s: float | None
    has_audio: bool


def open_video(path: str | Path) -> av.container.InputContainer:
    """The container of a readable file with a video stream; otherwise a one-line InputError.

    Shared by every decoder in DynVFI (this module's strict readers and the collector's tolerant
    PyAV fallback), so a missing, empty or non-video file is reported the same way everywhere.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"video not found: {p}")
    if not p.is_file():
        raise InputError(f"not a file: {p}")
    if p.stat().st_size == 0:
        raise InputError(f"video file is empty (0 bytes): {p}")
    try:
        container = av.open(str(p))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot open video {p}: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise InputError(f"no video stream in {p}")
    return container


def frame_rate(stream: av.video.stream.VideoStream) -> Fraction | None:
    """The stream's frame rate from its header (average, guessed, then base rate); None if unknown."""
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate and rate > 0 else None


def _fps(stream: av.video.stream.VideoStream) -> Fraction:
    rate = frame_rate(stream)
    if rate is None:
        raise InputError(f"cannot determine the frame rate of {stream.container.name}")
    return rate


def probe(path: str | Path) -> VideoInfo:
    """Size, frame rate and streams of a video, without decoding it."""
    with open_video(path) as c:
        v = c.streams.video[0]
        if not v.codec_context.width or not v.codec_context.height:
            raise InputError(f"video stream of {path} has no frame size (truncated or corrupt?)")
        duration = float(c.duration / av.time_base) if c.duration else None
        return VideoInfo(Path(path), v.codec_context.width, v.codec_context.height, _fps(v), int(v.frames or 0),
                         duration, bool(c.streams.audio))


def _decode_error(path: str | Path, exc: Exception) -> InputError:
    return InputError(f"cannot decode video {path} (corrupt or truncated?): {exc}")


def decode_frames(path: str | Path, stop_at_damage: bool = False) -> Iterator[np.ndarray]:
    """Every video frame as RGB uint8 ``(H, W, 3)``, in presentation order (see :func:`demux`)."""
    for kind, item in demux(path, with_audio=False, stop_at_damage=stop_at_damage):
        if kind == "video":
            yield item


def frames_at(path: str | Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """The frames of ``path`` at ``indices`` (RGB uint8), decoding no further than the last one."""
    wanted = set(indices)
    out: dict[int, np.ndarray] = {}
    for i, frame in enumerate(decode_frames(path)):
        if i in wanted:
            out[i] = frame
        if len(out) == len(wanted):
            return out
    raise InputError(f"{path} has no frame {min(wanted - set(out))}")


def demux(path: str | Path, with_audio: bool = True, stop_at_damage: bool = False) -> Iterator[tuple[str, object]]:
    """``("video", rgb_frame)`` and ``("audio", packet)`` items in container order.

    Audio packets are yielded undecoded so that a writer can copy them as they are. A decoding
    error raises :class:`InputError`; with ``stop_at_damage`` an error after the first video
    frame ends the stream instead (a truncated file: the caller compares the count with the
    header's to say how much is missing).
    """
    with open_video(path) as c:
        v = c.streams.video[0]
        # slice threads only: with frame threads ("AUTO"), closing a decoder before the end of
        # the stream (an error in another stage, Ctrl-C) can hang forever once torch is loaded
        # (PyAV issues #1849, #1861), and interpolate-video must stop cleanly mid-stream
        v.thread_type = "SLICE"
        streams = [v] + ([c.streams.audio[0]] if with_audio and c.streams.audio else [])
        decoded = 0
        try:
            for packet in c.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is not None and packet.size:
                        yield "audio", packet
                    continue
                for frame in packet.decode():
                    decoded += 1
                    yield "video", frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            if not (stop_at_damage and decoded):
                raise _decode_error(path, exc) from exc


class CutDetector:
    """Scene cuts from frames pushed one at a time.

    A thin adapter over the collection pipeline's detector (:class:`dynvfi_core.analysis.SceneCuts`,
    PySceneDetect's content detector with the flash filter off, on a copy whose short side is
    256 px), so that collection and interpolation agree on what a cut is. ``finish`` returns the
    indices of frames that START a new scene: the pair ``(k-1, k)`` spans a cut and must not be
    interpolated. For interpolation a missed cut is much worse (a ghosted cross-fade) than a
    spurious one (one repeated frame).
    """

    def __init__(self, fps: Fraction, threshold: float = DEFAULT_CUT_THRESHOLD) -> None:
        self.scene_cuts = SceneCuts(threshold, float(fps))
        self.n = 0

    def push(self, rgb: np.ndarray) -> None:
        h, w = rgb.shape[:2]
        size = analysis_size(w, h)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if size != (w, h):
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        self.scene_cuts.add(self.n, bgr)
        self.n += 1

    def finish(self) -> list[int]:
        """All cut indices, sorted."""
        return sorted(c for c in self.scene_cuts.cuts if 0 < c < self.n)


def detect_cuts(path: str | Path, threshold: float = DEFAULT_CUT_THRESHOLD) -> list[int]:
    """Indices of the frames of ``path`` that start a new scene."""
    det = CutDetector(probe(path).fps, threshold)
    for frame in decode_frames(path):
        det.push(frame)
    return det.finish()


class VideoWriter:
    """Write RGB frames at a constant frame rate, optionally carrying an input's audio along.

    Frame ``i`` gets presentation time ``i / fps`` exactly (time base ``1/fps``), so N frames
    last N/fps seconds whatever the codec does.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: Fraction,
                 audio_from: str | Path | None = None, crf: int = 18) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        # the video is written to a hidden temporary file renamed over `path` by close(): a
        # failed, interrupted or killed run never leaves a truncated file under the real name
        self._audio_src: av.container.InputContainer | None = None
        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self.container = av.open(str(tmp), "w", format=_FORMATS.get(self.path.suffix.lower()))
        except (av.error.FFmpegError, ValueError) as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise InputError(f"cannot write video {self.path}: {exc}") from exc
        try:
            self._setup(width, height, audio_from, crf)
        except BaseException as exc:
            self.discard(exc)
            raise

    def _setup(self, width: int, height: int, audio_from: str | Path | None, crf: int) -> None:
        codec = _CODECS.get(self.path.suffix.lower(), "libx264")
        self.stream = self.container.add_stream(codec, rate=self.fps)
        # yuv420p is what every player decodes; it needs even sides, so an odd-sized video is
        # padded by one repeated edge row/column (stated in `padded`, no picture is lost)
        self.size = (width, height)
        self.padded = (width + width % 2, height + height % 2)
        self.stream.width, self.stream.height = self.padded
        self.stream.pix_fmt = "yuv420p"
        # kept separately: the muxer replaces stream.time_base (e.g. 1/12800 for MP4) once the
        # header is written, but frame timestamps must stay in units of one output frame
        self.time_base = 1 / self.fps
        self.stream.time_base = self.time_base
        if codec == "libx264":
            self.stream.options = {"crf": str(crf), "preset": "medium"}
        self.audio_in: av.audio.stream.AudioStream | None = None
        self.audio_out = None
        self.transcode_audio = False
        self._audio_shift = 0
        if audio_from is not None:
            self._add_audio(audio_from)
        self.n = 0

    def _add_audio(self, source: str | Path) -> None:
        """Copy the source's first audio stream's codec, or fall back to AAC if the container refuses it."""
        src = open_video(source)
        self._audio_src = src  # keeps the template stream alive until close()
        if not src.streams.audio:
            return
        self.audio_in = src.streams.audio[0]
        video = src.streams.video[0]
        if video.start_time and self.audio_in.time_base:
            # the output video starts at 0: move the audio by the input video's start time so
            # sound and picture stay where they were relative to each other
            start = Fraction(video.start_time) * video.time_base
            self._audio_shift = round(start / self.audio_in.time_base)
        try:
            self.audio_out = self.container.add_stream_from_template(self.audio_in)
        except (ValueError, av.error.FFmpegError):
            self.transcode_audio = True
            rate = self.audio_in.codec_context.sample_rate or 48000
            self.audio_out = self.container.add_stream("aac", rate=rate)
            self.audio_out.layout = self.audio_in.codec_context.layout

    def write(self, rgb: np.ndarray) -> None:
        if self.padded != self.size:
            pad_w, pad_h = self.padded[0] - self.size[0], self.padded[1] - self.size[1]
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.n
        frame.time_base = self.time_base
        self.container.mux(self.stream.encode(frame))
        self.n += 1

    def write_audio(self, packet: av.Packet) -> None:
        """Mux one audio packet of the ``audio_from`` file, on the output video's time line."""
        if self.audio_out is None:
            return
        if self.transcode_audio:
            for frame in packet.decode():
                frame.pts = None
                self.container.mux(self.audio_out.encode(frame))
            return
        packet.pts = None if packet.pts is None else packet.pts - self._audio_shift
        packet.dts = packet.dts - self._audio_shift
        packet.stream = self.audio_out
        self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoders, finish the file and move it to its real name."""
        try:
            self.container.mux(self.stream.encode())
            if self.audio_out is not None and self.transcode_audio:
                self.container.mux(self.audio_out.encode())
        except BaseException as exc:
            self.discard(exc)
            raise
        self.container.close()
        self._close_audio_source()
        self._atomic.__exit__(None, None, None)  # rename over `path`

    def discard(self, reason: BaseException) -> None:
        """Give up after ``reason``: close without finishing and remove the temporary file, so
        nothing new appears at ``path``."""
        self.container.close()
        self._close_audio_source()
        self._atomic.__exit__(type(reason), reason, reason.__traceback__)

    def _close_audio_source(self) -> None:
        if self._audio_src is not None:
            self._audio_src.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.close()
        else:
            self.discard(exc)
