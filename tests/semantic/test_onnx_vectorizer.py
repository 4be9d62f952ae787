"""The ONNX vectorizer: the same embeddings as sentence-transformers on torch, exported once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from agentcache_semantic import LocalModel, vectorizer
from agentcache_semantic.onnx_vectorizer import OnnxModel
from agentcache_semantic.vectorizer import identify

from agentcache import CachedModel
from tests.semantic.test_semantic_runner import EMBED, EchoModel, ask

PROMPTS = [
    "What is the capital of Australia?",
    "Book a flight from NYC to LA for next Friday.",
    "Convert 100 degrees Fahrenheit to Celsius.",
    "Summarize the attached quarterly report in three bullet points, in French.",
    "how do i reverse a string in rust",
    "Quelle est la capitale du Canada ?",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module", params=[False, True], ids=["fp32", "int8"])
def model(request: pytest.FixtureRequest, cache_dir: Path) -> OnnxModel:
    return OnnxModel(quantize=request.param, cache_dir=cache_dir)


def cosine(a: object, b: object) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))


async def test_agrees_with_sentence_transformers(model: OnnxModel) -> None:
    for prompt in PROMPTS:
        ours, reference = await model.embed(prompt), await EMBED.embed(prompt)
        assert len(ours) == len(reference) == 384
        assert abs(float(np.linalg.norm(ours)) - 1.0) < 1e-4
        assert cosine(ours, reference) >= 0.99, prompt


async def test_a_paraphrase_is_closer_than_an_unrelated_prompt(model: OnnxModel) -> None:
    base = await model.embed("What is the capital of Australia?")
    paraphrase = await model.embed("What's the capital city of Australia?")
    unrelated = await model.embed("How do I reverse a string in Rust?")
    assert cosine(base, paraphrase) > 0.85 > cosine(base, unrelated)


def test_a_second_instance_loads_from_the_cache(model: OnnxModel, cache_dir: Path) -> None:
    path = model.model_path()
    assert model.exported  # the first instance, on an empty cache: exported (or quantized)
    stamp = path.stat().st_mtime_ns
    again = OnnxModel(quantize=model.quantize, cache_dir=cache_dir)
    vector = again.encode("What is the capital of Australia?")
    assert not again.exported and again.model_path() == path
    assert path.stat().st_mtime_ns == stamp  # not rewritten
    assert cosine(vector, model.encode("What is the capital of Australia?")) > 0.9999
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("vectorizer", ["onnx", "onnx-int8"])
async def test_the_fast_vectorizers_through_the_runner(
    vectorizer: str, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTCACHE_CACHE_DIR", str(cache_dir))
    inner = EchoModel()
    cached = CachedModel(inner, semantic={"vectorizer": vectorizer})
    await ask(cached, "What is the capital of Australia?")
    assert await ask(cached, "What's the capital city of Australia?") == (
        "answer to: What is the capital of Australia?"
    )
    assert await ask(cached, "What is the capital of Austria?") == (
        "answer to: What is the capital of Austria?"
    )
    assert inner.calls == 2
    # float32 ONNX gives torch's vectors, so the two share an embedding space; int8 does not
    assert (identify(vectorizer) == identify(None)) is (vectorizer == "onnx")


def test_an_onnx_model_given_as_an_object_names_its_own_embedding_space(tmp_path: Path) -> None:
    """Vectors of two models never meet: an ``OnnxModel`` is named by its model and its
    precision, not by its class (two models of that class are two spaces)."""
    assert identify(OnnxModel()) == identify("onnx") == identify(None)
    assert identify(OnnxModel(quantize=True)) == identify("onnx-int8")
    other = tmp_path / "models" / "another-minilm"
    assert identify(OnnxModel(other)) not in (identify(OnnxModel()), identify("onnx-int8"))
    assert identify(OnnxModel(other)) != identify(OnnxModel(other, quantize=True))
    assert identify(OnnxModel(other).embed) == identify(OnnxModel(other))


# -- the default local model (vectorizer=None): ONNX in float32 when onnxruntime is there ------


@pytest.fixture
def fresh_default(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    """This process's first default model, exporting into this module's cache directory."""
    monkeypatch.setattr(vectorizer, "_SHARED", {})
    monkeypatch.setattr(vectorizer, "_SHARED_ONNX", {})
    monkeypatch.setenv("AGENTCACHE_CACHE_DIR", str(cache_dir))


@pytest.mark.usefixtures("fresh_default")
async def test_the_default_model_runs_on_onnx_with_the_same_vectors() -> None:
    inner = EchoModel()
    cached = CachedModel(inner, semantic=True)
    await cached.warmup()
    default = vectorizer._SHARED[None]
    assert isinstance(default.active(), OnnxModel) and not default.active().quantize
    for prompt in PROMPTS:  # the same space as torch's: the same thresholds, the same indexes
        assert cosine(await default.embed(prompt), await EMBED.embed(prompt)) > 0.9999, prompt
    assert identify(default.embed) == identify(None) == identify(EMBED.embed)
    await ask(cached, "What is the capital of Australia?")
    assert await ask(cached, "What's the capital city of Australia?") == (
        "answer to: What is the capital of Australia?"
    )
    assert cached.stats().hits_by_layer == {"semantic": 1} and inner.calls == 1


@pytest.mark.usefixtures("fresh_default")
async def test_a_failed_export_falls_back_to_torch_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: OnnxModel) -> Path:
        raise RuntimeError("export failed: no space left on device")

    monkeypatch.setattr(OnnxModel, "model_path", broken)
    inner = EchoModel()
    cached = CachedModel(inner, semantic=True)
    await cached.warmup()
    await ask(cached, "What is the capital of Australia?")
    assert await ask(cached, "What's the capital city of Australia?") == (
        "answer to: What is the capital of Australia?"
    )
    default = vectorizer._SHARED[None]
    assert isinstance(default.active(), LocalModel) and default.onnx is None
    assert cached.stats().errors == {} and inner.calls == 1
    warnings = [r for r in caplog.records if "ONNX export failed" in r.getMessage()]
    assert len(warnings) == 1 and "no space left" in warnings[0].getMessage()


def test_without_onnxruntime_the_default_is_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name)
    )
    default = vectorizer.DefaultModel(None)
    assert default.onnx is None and isinstance(default.active(), LocalModel)
