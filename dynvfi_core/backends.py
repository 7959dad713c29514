"""Accelerated CPU inference: the PyTorch networks run as cached OpenVINO graphs.

Why OpenVINO: measured on the project's 2-core CPU (2 threads, interleaved medians, a shared
and busy machine), the unchanged PyTorch network converted by OpenVINO 2026.4's PyTorch frontend
ran RIFE v4.25 1.55x faster than PyTorch at 448x256, 1.75x at 720p and 2.3x at 1080p, with the
same frames (max abs diff 2e-5 on real pairs). ONNX Runtime 1.32 on the same network (exported
with ``torch.onnx``) matched PyTorch at 448x256 and reached 1.8x at 720p where OpenVINO reached
3.1x in the same run; ``torch.compile`` was slower than eager at 448x256 and compiles for a
minute in every new process.

Backends (the ``backend=`` option of a model spec, the DPA's ``backend`` argument, or
``$DYNVFI_BACKEND`` for every model at once):

- ``torch``: the PyTorch path, the reference every fidelity test checks; always used on CUDA.
- ``openvino``: the same network converted to an OpenVINO graph, run in float32 (OpenVINO would
  otherwise pick bfloat16 on CPUs that have it, which moves RIFE's flow by whole pixels).

With no choice made, CPU models use ``openvino`` when the package is installed and fall back to
``torch`` otherwise (the log says so and why). Asking for ``openvino`` explicitly without the
package is an error, not a silent fallback.

The converted graph is cached under ``$DYNVFI_HOME/backends/openvino`` as one file per network,
named by a key over the network's code, its weights (sha256 of every tensor), the PyTorch and
OpenVINO versions and the graph's format, so changed weights or code never reuse an old graph.
The graph has dynamic shapes; it is compiled in memory for each input shape and thread count
(a fraction of a second). The file is written atomically and carries the sha256 of its content:
a truncated, corrupt or foreign file is rebuilt, never trusted. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import sys
import tempfile
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dynvfi_core.atomic import atomic_path
from dynvfi_core.errors import ConfigError, InputError
from dynvfi_core.paths import home

log = logging.getLogger(__name__)

BACKENDS = ("torch", "openvino")
#: environment variable naming the backend of every model that does not choose one
ENV = "DYNVFI_BACKEND"
#: the pinned package (pyproject.toml / requirements.lock), named in errors and fallback messages
OPENVINO_REQUIREMENT = "openvino==2026.4.1"
#: first bytes of a cached graph file; bump the version when the layout or conversion changes
MAGIC = b"DYNVFI-OVGRAPH/1"
#: compiled shapes kept per graph (a video has one size; a triplet folder may have several)
MAX_COMPILED = 4


def resolve(requested: str | None, device: torch.device) -> str:
    """The backend a model on ``device`` runs with: ``"torch"`` or ``"openvino"``.

    ``requested`` is the spec's ``backend=`` value (None: ``$DYNVFI_BACKEND``, else the default).
    An explicit ``openvino`` without the package, or on a GPU, raises :class:`ConfigError`; the
    default falls back to ``torch`` and logs why.
    """
    explicit = requested if requested is not None else (os.environ.get(ENV) or None)
    if explicit is not None:
        explicit = str(explicit).strip().lower()
        if explicit not in BACKENDS:
            raise ConfigError(f"unknown backend '{explicit}'; choose one of: {', '.join(BACKENDS)}")
        if explicit == "torch":
            return "torch"
        if device.type != "cpu":
            raise ConfigError(f"backend=openvino runs on the CPU only; on {device} use backend=torch")
        _import_openvino()
        return "openvino"
    if device.type != "cpu":
        return "torch"
    try:
        _import_openvino()
    except ConfigError as exc:
        log.warning("falling back to the PyTorch backend: %s", exc)
        return "torch"
    return "openvino"


def _import_openvino():  # noqa: ANN202 - the module object
    """The ``openvino`` module, or a one-line :class:`ConfigError` saying how to install it."""
    try:
        import openvino
    except ImportError as exc:
        raise ConfigError(f"backend=openvino needs the openvino package ({OPENVINO_REQUIREMENT}; "
                          f"`make setup` installs it): {exc}") from exc
    return openvino


def cache_dir() -> Path:
    """Where converted graphs are kept (under ``$DYNVFI_HOME``, so one variable moves everything)."""
    return home() / "backends" / "openvino"


def graph_key(name: str, module: nn.Module, shapes: tuple[tuple[int, ...], ...]) -> str:
    """sha256 over what determines the converted graph: code, weights, trace shapes, tool versions.

    The code is the source of every module file the network is built from: a changed network
    must not reuse an old graph. Weights are hashed tensor by tensor (name, dtype, shape, bytes),
    so a fine-tuned DPA or a different checkpoint gets its own graph. The shapes of the trace's
    example inputs count because a trace may keep size-dependent values as constants (the Swin
    DPA's attention masks for its view).
    """
    ov = _import_openvino()
    digest = hashlib.sha256()
    for part in (MAGIC.decode(), name, type(module).__qualname__, repr(shapes), torch.__version__, ov.__version__):
        digest.update(part.encode() + b"\0")
    files = sorted({getattr(sys.modules.get(type(m).__module__), "__file__", None) or "" for m in module.modules()})
    for file in files:
        if file.endswith(".py") and os.path.isfile(file):
            digest.update(Path(file).read_bytes())
    for key, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def _pack(key: str, xml: bytes, weights: bytes) -> bytes:
    """One self-checking file: magic, key, sha256 of the payload, xml length, xml, weights."""
    payload = struct.pack("<Q", len(xml)) + xml + weights
    return MAGIC + key.encode() + hashlib.sha256(payload).digest() + payload


def _unpack(data: bytes, key: str) -> tuple[bytes, bytes] | None:
    """(xml, weights) of a cached file, or None when it is not a complete file for ``key``."""
    head = len(MAGIC) + len(key) + 32
    if len(data) < head + 8 or not data.startswith(MAGIC) or data[len(MAGIC):len(MAGIC) + len(key)] != key.encode():
        return None
    payload = data[head:]
    if hashlib.sha256(payload).digest() != data[head - 32:head]:
        return None
    (n_xml,) = struct.unpack("<Q", payload[:8])
    return payload[8:8 + n_xml], payload[8 + n_xml:]


class OpenVINOGraph:
    """A PyTorch module's forward as a cached OpenVINO graph: ``graph(*tensors) -> tensor``.

    ``module`` takes float32 tensors and returns one tensor; ``example`` is one set of inputs
    for the conversion trace. The graph keeps dimensions dynamic, but a trace turns values
    computed in Python from a shape into constants (timm's Swin attention masks, the batch size
    in a reshape): ``fixed_shape=True`` says the network does that, and the graph then refuses
    inputs of other shapes instead of computing something wrong.
    ``conversions`` counts how many times this object converted the network (0 when the cache
    was used), so callers and tests can tell a rebuild from a reuse.
    """

    def __init__(self, module: nn.Module, name: str, example: tuple[torch.Tensor, ...],
                 fixed_shape: bool = False) -> None:
        ov = _import_openvino()
        self.name = name
        self.fixed_shape = tuple(tuple(x.shape) for x in example) if fixed_shape else None
        self.key = graph_key(name, module, tuple(tuple(x.shape) for x in example))
        safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in name)
        self.path = cache_dir() / f"{safe}-{self.key[:20]}.ovgraph"
        self.conversions = 0
        self._core = ov.Core()
        self._model = self._load() or self._convert(module, example)
        self._compiled: OrderedDict[tuple, object] = OrderedDict()
        # one infer request per shape is reused, so calls from two threads (a pipelined video
        # job scoring while it interpolates) must take turns
        self._lock = threading.Lock()

    def _load(self):  # noqa: ANN202 - openvino.Model
        if not self.path.is_file():
            return None
        parts = _unpack(self.path.read_bytes(), self.key)
        if parts is None:
            log.warning("cached graph %s is stale, incomplete or corrupt: converting %s again", self.path, self.name)
            return None
        return self._core.read_model(parts[0], parts[1])

    def _convert(self, module: nn.Module, example: tuple[torch.Tensor, ...]):  # noqa: ANN202
        ov = _import_openvino()
        log.info("converting %s to an OpenVINO graph (once; cached in %s)", self.name, self.path.parent)
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # the converter traces with torch.jit.trace, which warns that it is deprecated and,
            # for size-dependent Python values, that they become constants (see fixed_shape)
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            model = ov.convert_model(module.eval(), example_input=tuple(x.detach().clone() for x in example))
        with tempfile.TemporaryDirectory() as tmp:
            xml = Path(tmp) / "graph.xml"
            ov.save_model(model, xml, compress_to_fp16=False)  # float32 weights, as in PyTorch
            xml_bytes, weights = xml.read_bytes(), xml.with_suffix(".bin").read_bytes()
        with atomic_path(self.path) as tmp_path:
            tmp_path.write_bytes(_pack(self.key, xml_bytes, weights))
        self.conversions += 1
        return self._core.read_model(xml_bytes, weights)

    def _request(self, shapes: tuple[tuple[int, ...], ...]):  # noqa: ANN202 - openvino.InferRequest
        """An infer request compiled for these input shapes and the current torch thread count."""
        threads = torch.get_num_threads()
        key = (shapes, threads)
        if key in self._compiled:
            self._compiled.move_to_end(key)
            return self._compiled[key]
        model = self._model.clone()
        model.reshape({port: list(shape) for port, shape in zip(model.inputs, shapes)})
        compiled = self._core.compile_model(model, "CPU", {
            "INFERENCE_NUM_THREADS": threads,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        })
        self._compiled[key] = compiled.create_infer_request()
        if len(self._compiled) > MAX_COMPILED:
            self._compiled.popitem(last=False)
        return self._compiled[key]

    def __call__(self, *inputs: torch.Tensor | np.ndarray) -> torch.Tensor:
        arrays = [np.ascontiguousarray(x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x,
                                       dtype=np.float32) for x in inputs]
        shapes = tuple(a.shape for a in arrays)
        if self.fixed_shape is not None and shapes != self.fixed_shape:
            raise InputError(f"the {self.name} graph only runs on inputs of shapes {self.fixed_shape}, got {shapes}")
        with self._lock:
            result = self._request(shapes).infer(arrays)
            return torch.from_numpy(np.array(result[0], dtype=np.float32, copy=True))


def build_graph(backend: str | None, device: torch.device, module: nn.Module, name: str,
                example: tuple[torch.Tensor, ...], fixed_shape: bool = False) -> OpenVINOGraph | None:
    """``module`` as an :class:`OpenVINOGraph` when ``backend`` resolves to OpenVINO, else None.

    With the default backend (no spec option, no ``$DYNVFI_BACKEND``) a conversion that fails
    (an op the converter lacks, a full disk) logs why and returns None, so the model keeps its
    PyTorch path; a backend asked for by name raises instead.
    """
    if resolve(backend, device) == "torch":
        return None
    try:
        return OpenVINOGraph(module, name, example, fixed_shape=fixed_shape)
    except Exception as exc:
        if backend is not None or os.environ.get(ENV):
            raise
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("falling back to the PyTorch backend for %s: OpenVINO conversion failed (%s)", name, reason)
        return None
