"""The peers of ``compare.py``: their own venv, and each one set up the way its docs say.

The peers are not project dependencies, and one of them (LiteLLM) pulls a large tree, so they
live in their own venv, ``.venv-peers`` at the root of the checkout, made on first use:

    python -m venv .venv-peers
    .venv-peers/bin/pip install -c scripts/constraints.txt -e '.[redis]'
    .venv-peers/bin/pip install -c scripts/constraints.txt --no-deps redis-openai-agents
    .venv-peers/bin/pip install -c scripts/constraints.txt betterdb-agent-cache
    .venv-peers/bin/pip install -c scripts/constraints.txt litellm

``redis-openai-agents`` goes in with ``--no-deps``: its dependencies include
sentence-transformers, so torch, for its semantic layer; the ``RedisCachingModel`` measured here
needs only ``redis`` (its module is loaded from its file, as ``bench_redis.py`` does, because
the package's ``__init__`` imports redisvl and more). Each peer is installed on its own, so
one that does not install is reported with pip's own error and the others still run. What was
installed is written to ``.venv-peers/agentcache-peers.json``; delete the venv to redo it.

``build(config, ...)`` runs inside that venv (``compare.py --worker``) and returns how its runs
reach the upstream:

* ``redis-openai-agents``: ``RedisCachingModel(model, redis_url=...)`` then ``initialize()``,
  given to the Runner as ``RunConfig(model=...)``. It is not an ``agents.Model`` subclass, so
  the Runner does not accept it as a model (the error is recorded in the results); the smallest
  adaptation is one line, ``agents.Model.register(RedisCachingModel)``.
* ``betterdb``: ``CachedModelProvider(OpenAIProvider(...), cache=AgentCache(...))`` on a valkey
  client to the same Redis, analytics, discovery and config refresh off; no adaptation.
* ``litellm`` / ``litellm-nocache``: the SDK's ``LitellmModel("openai/<model>", base_url=...)``,
  with ``litellm.cache = litellm.Cache(type="redis", ...)`` for the cached one; no adaptation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-peers"
MARKER = VENV / "agentcache-peers.json"
CONSTRAINTS = ROOT / "scripts" / "constraints.txt"
# Each peer, with the pip arguments that install it.
PEER_PACKAGES: dict[str, list[str]] = {
    "redis-openai-agents": ["--no-deps", "redis-openai-agents"],
    "betterdb-agent-cache": ["betterdb-agent-cache"],
    # litellm 1.110's cache hit imports its proxy package, which needs fastapi and soundfile
    # (both only in its "proxy" extra): without them every cache hit raises
    # ModuleNotFoundError. Installed here so that the rest of its cache can be measured.
    "litellm": ["litellm", "fastapi", "soundfile"],
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _pip(python: Path, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "-c",
        str(CONSTRAINTS),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _pip_error(proc: subprocess.CompletedProcess[str]) -> str:
    """pip's own error lines (``ERROR: ...`` and what follows), not its whole log."""
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.startswith("ERROR")), max(len(lines) - 12, 0)
    )
    return "\n".join(lines[start : start + 12])


def ensure_venv() -> tuple[str, dict[str, str]]:
    """The peers venv's python and, per peer, ``"ok"`` or pip's error. Made once."""
    python = VENV / "bin" / "python"
    if MARKER.exists() and python.exists():
        done = json.loads(MARKER.read_text())
        if done.get("packages") == PEER_PACKAGES:
            return str(python), dict(done["status"])
    if not python.exists():
        progress(f"  making {VENV} (once; a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        _pip(python, ["--upgrade", "pip>=25.1"])
    proc = _pip(python, ["-e", f"{ROOT}[redis]"])
    if proc.returncode != 0:
        raise RuntimeError(f"installing agentcache into {VENV} failed:\n{_pip_error(proc)}")
    status: dict[str, str] = {}
    for peer, args in PEER_PACKAGES.items():
        progress(f"  pip install {' '.join(args)}")
        proc = _pip(python, args)
        status[peer] = "ok" if proc.returncode == 0 else _pip_error(proc)
    MARKER.write_text(json.dumps({"packages": PEER_PACKAGES, "status": status}, indent=2))
    return str(python), status


# --------------------------------------------------------------------------------------------
# Inside the peers venv


async def build(
    config: str,
    base_url: str,
    redis_url: str | None,
    openai_client: Callable[[str], Any],
    setup: Callable[..., Any],
    model_names: Sequence[str],
) -> Any:
    from agents import OpenAIProvider, RunConfig

    base = OpenAIProvider(openai_client=openai_client(base_url), use_responses=False)
    if config == "redis-openai-agents":
        return await _redis_openai_agents(base, redis_url, setup, model_names)
    if config == "betterdb":
        return await _betterdb(base, redis_url, setup)
    if config in ("litellm", "litellm-nocache"):
        return await _litellm(base_url, redis_url if config == "litellm" else None, setup)
    if config == "peers-baseline":
        return setup(lambda name: RunConfig(model=name, model_provider=base))
    raise ValueError(f"unknown peer configuration {config!r}")


async def _redis_openai_agents(
    base: Any, redis_url: str | None, setup: Callable[..., Any], model_names: Sequence[str]
) -> Any:
    from agents import Agent, Model, RunConfig, Runner

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_redis import load_redis_openai_agents  # the module alone, without redisvl

    caching_model = load_redis_openai_agents()
    if caching_model is None:
        raise RuntimeError("redis-openai-agents is not installed in this venv")
    notes: dict[str, Any] = {}
    # As its docs show it: the wrapped model handed to the Runner. Recorded, then adapted.
    plain = caching_model(base.get_model(model_names[0]), redis_url=redis_url)
    try:
        await Runner.run(
            Agent(name="a", instructions="Hi."), "hello", run_config=RunConfig(model=plain)
        )
        notes["runner_accepts_as_is"] = True
    except Exception as exc:
        notes["runner_accepts_as_is"] = False
        notes["error_as_is"] = f"{type(exc).__name__}: {exc}"[:300]
    try:
        Agent(name="a", model=plain)
        notes["agent_accepts_as_is"] = True
    except Exception as exc:
        notes["agent_accepts_as_is"] = False
        notes["agent_error_as_is"] = f"{type(exc).__name__}: {exc}"[:300]
    # The adaptation: an agents.Model subclass of it, which inherits the Model methods the
    # Runner calls and it lacks (get_retry_advice). Model.register(RedisCachingModel) alone is
    # not enough: the Runner accepts it, then raises AttributeError on get_retry_advice.
    adapted = type("RedisCachingModel", (caching_model, Model), {})
    notes["adaptation"] = "class Adapted(RedisCachingModel, agents.Model): pass"
    models = {}
    for name in model_names:  # one wrapper per model, on one Redis, as a user would have them
        model = adapted(base.get_model(name), redis_url=redis_url, cache_prefix="compare")
        await model.initialize()
        models[name] = model

    async def close() -> None:
        for model in models.values():
            await model.close()

    return setup(lambda name: RunConfig(model=models[name]), close, notes)


async def _betterdb(base: Any, redis_url: str | None, setup: Callable[..., Any]) -> Any:
    os.environ.setdefault("BETTERDB_TELEMETRY", "off")
    import valkey.asyncio as valkey
    from agents import RunConfig
    from betterdb_agent_cache import AgentCache, AgentCacheOptions
    from betterdb_agent_cache.adapters.openai_agents import CachedModelProvider
    from betterdb_agent_cache.types import AnalyticsOptions, ConfigRefreshOptions, DiscoveryOptions

    client = valkey.Valkey.from_url(redis_url)
    cache = AgentCache(
        AgentCacheOptions(
            client=client,
            name=f"compare_{os.getpid()}",
            analytics=AnalyticsOptions(disabled=True),
            config_refresh=ConfigRefreshOptions(enabled=False),
            discovery=DiscoveryOptions(enabled=False),
        )
    )
    provider = CachedModelProvider(base, cache=cache)

    async def close() -> None:
        await cache.shutdown()
        await client.aclose()

    return setup(lambda name: RunConfig(model=name, model_provider=provider), close, {})


async def _litellm(base_url: str, redis_url: str | None, setup: Callable[..., Any]) -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch at import
    import litellm
    from agents import RunConfig
    from agents.extensions.models.litellm_model import LitellmModel

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    notes: dict[str, Any] = {}
    if redis_url:
        from urllib.parse import urlparse

        url = urlparse(redis_url)
        litellm.cache = litellm.Cache(type="redis", host=url.hostname, port=str(url.port))
        notes["cache"] = "litellm.Cache(type='redis')"
    models: dict[str, Any] = {}

    def run_config(name: str) -> Any:
        if name not in models:  # "openai/<name>": LiteLLM's OpenAI-compatible route
            models[name] = LitellmModel(f"openai/{name}", base_url=base_url, api_key="local")
        return RunConfig(model=models[name])

    async def close() -> None:
        cache = litellm.cache
        if cache is not None and hasattr(cache, "disconnect"):
            await cache.disconnect()

    return setup(run_config, close, notes)
