"""Per-frame and per-sample measurements: scene cuts, motion, perceptual hash, timing.

All of them run on an *analysis* copy of each frame whose short side is 256 px (or the source's,
if smaller): cut detection and DIS flow cost milliseconds there whatever the source resolution,
and thresholds mean the same for a 4K and a 256p source. Motion is reported in pixels at the
stored size by scaling, which is what DIS's own coarse-to-fine pyramid does internally anyway.
"""

from __future__ import annotations

import cv2
import imagehash
import numpy as np
from PIL import Image
from scenedetect import ContentDetector, FrameTimecode

ANALYSIS_SHORT_SIDE = 256


def analysis_size(width: int, height: int) -> tuple[int, int]:
    short = min(width, height)
    if short <= ANALYSIS_SHORT_SIDE:
        return width, height
    scale = ANALYSIS_SHORT_SIDE / short
    return max(1, round(width * scale)), max(1, round(height * scale))


class SceneCuts:
    """Streaming hard-cut detector (PySceneDetect's ContentDetector, HSV frame differences).

    ``min_scene_len=0`` turns off PySceneDetect's flash filter, so every frame whose content
    jumps is reported at once (no look-ahead): a sample only needs to know whether *any* jump
    happens inside it, and a flash is as unusable for interpolation as a cut.

    ContentDetector compares frames pixel by pixel, so fast continuous motion (hand-held close-ups,
    fast pans) looks like a cut to it. With ``residual`` set, a jump is confirmed only when it
    survives motion compensation: the previous frame is warped onto the current one with DIS flow
    and the same HSV difference is measured again (:func:`motion_residual`). Motion explains its
    own jumps; a cut does not, because no flow maps one scene onto another. Jumps explained away
    are kept in ``explained`` for the report.
    """

    def __init__(self, threshold: float, fps: float | None, residual: float | None = None) -> None:
        self.threshold = threshold
        self.residual = residual
        self.detector = ContentDetector(threshold=threshold, min_scene_len=0)
        self.fps = fps or 30.0
        self.cuts: set[int] = set()  # frame i is a cut: content jumps between frames i-1 and i
        self.explained: set[int] = set()  # content jumps that motion compensation explained
        self.residuals: dict[int, float] = {}  # motion_residual of every jump it was measured for
        self._prev: np.ndarray | None = None
        self._dis: cv2.DISOpticalFlow | None = None

    def add(self, index: int, bgr: np.ndarray) -> None:
        for tc in self.detector.process_frame(FrameTimecode(index, fps=self.fps), bgr):
            cut = tc.frame_num
            if self.residual is not None and cut == index and self._prev is not None:
                if self._dis is None:
                    self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
                self.residuals[cut] = motion_residual(self._prev, bgr, self._dis)
                if self.residuals[cut] < self.residual:
                    self.explained.add(cut)
                    continue
            self.cuts.add(cut)
        self._prev = bgr

    def reset(self) -> None:
        """Forget the previous frame (after a frame that failed to decode)."""
        self.detector = ContentDetector(threshold=self.threshold, min_scene_len=0)
        self._prev = None

    def spans_cut(self, first: int, last: int) -> bool:
        return any(first < c <= last for c in self.cuts)


def hsv_difference(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """ContentDetector's frame score: mean absolute HSV difference (H 0-179, S and V 0-255),
    the three channels weighted equally; over ``mask`` pixels only when given."""
    diff = cv2.absdiff(cv2.cvtColor(a, cv2.COLOR_BGR2HSV), cv2.cvtColor(b, cv2.COLOR_BGR2HSV))
    if mask is None:
        return float(diff.mean())
    return float(diff[mask].mean()) if mask.any() else float(diff.mean())


def motion_residual(prev: np.ndarray, cur: np.ndarray, dis: cv2.DISOpticalFlow) -> float:
    """HSV difference (:func:`hsv_difference`) between ``cur`` and ``prev`` warped onto it.

    Backward flow (cur -> prev) gives, for every pixel of ``cur``, where it came from; pixels
    whose source lies outside ``prev`` (content entering the frame) are left out.
    """
    g0, g1 = (cv2.cvtColor(x, cv2.COLOR_BGR2GRAY) for x in (prev, cur))
    flow = dis.calc(g1, g0, None)
    h, w = g1.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    warped = cv2.remap(prev, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return hsv_difference(warped, cur, inside)


class Motion:
    """DIS optical flow magnitude between a sample's outer frames (the motion to interpolate)."""

    def __init__(self) -> None:
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def measure(self, gray0: np.ndarray, gray1: np.ndarray) -> tuple[float, float]:
        """(mean, 95th percentile) of the flow magnitude in pixels of the given frames."""
        flow = self.dis.calc(gray0, gray1, None)
        mag = cv2.magnitude(flow[..., 0], flow[..., 1])
        return float(mag.mean()), float(np.percentile(mag, 95))


def phash(gray: np.ndarray) -> str:
    """64-bit DCT perceptual hash (imagehash's pHash) as 16 hex digits.

    pHash looks at a 32x32 grayscale thumbnail; shrinking with OpenCV's area filter first gives
    imagehash that thumbnail directly, ten times cheaper than letting PIL resample the frame.
    """
    thumb = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA)
    return str(imagehash.phash(Image.fromarray(thumb), hash_size=8, highfreq_factor=4))


def irregular_timing(times: tuple[float | None, float | None, float | None], tolerance: float) -> bool:
    """True when the middle frame is not (close to) halfway in time between the outer frames."""
    t0, t1, t2 = times
    if t0 is None or t1 is None or t2 is None:
        return False
    gap_a, gap_b = t1 - t0, t2 - t1
    if gap_a <= 0 or gap_b <= 0:
        return True
    return abs(gap_a - gap_b) > tolerance * max(gap_a, gap_b)
