"""The hook implementations the ``agentcache`` entry point registers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from agentcache.chain import Stage, StageContext
from agentcache.hookspecs import Clear, OptionCheck, hookimpl
from agentcache.stores.base import Store

from .bound import ErrorBound
from .config import SemanticConfig
from .index import InProcessIndex, VectorIndex
from .stage import SemanticStage
from .vectorizer import Coalesced, identify, preload, resolve

if TYPE_CHECKING:
    from agentcache_redis.store import RedisStore

    from .redis_index import RedisVLIndex


@hookimpl
def agentcache_stages(context: StageContext) -> Iterable[Stage]:
    config = SemanticConfig.from_option(context.config.options.get("semantic"))
    if config is None:
        return []
    guards = config.guard_list(context.plugins)
    if config.index is not None:
        index = config.index
        with contextlib.suppress(TypeError):  # a store that cannot be weakly referenced
            _GIVEN.setdefault(context.store.store, {})[id(index)] = index
    else:
        index = _default_index(context)
    embed, space = Coalesced(resolve(config.vectorizer)), identify(config.vectorizer)
    preload(embed)  # a local model loads in the background from now on
    stage = SemanticStage(context, config, index, embed, guards, space)
    if stage.bound is not None:
        with contextlib.suppress(TypeError):
            _BOUNDS.setdefault(context.store.store, weakref.WeakSet()).add(stage.bound)
    return [stage]


@hookimpl
def agentcache_store_clearers(store: Store) -> list[Clear]:
    """The prompts indexed for the store's entries: in this process (the in-process index, an
    index given in ``SemanticConfig``) and, for a Redis store, in its Redis; and the error
    bound's calibration this process keeps (the store's copy is an entry of the namespace)."""
    indexes: list[Any] = []
    with contextlib.suppress(TypeError):
        indexes += [*_GIVEN.get(store, {}).values(), _INDEXES.get(store)]
    redis = _redis_of(store)
    if redis is not None:
        with contextlib.suppress(ImportError):  # without redisvl, no RedisVL index was made
            indexes.append(_redis_index(redis))
    unique = {id(index): index for index in indexes if index is not None}.values()
    clears = [index.clear for index in unique if callable(getattr(index, "clear", None))]
    with contextlib.suppress(TypeError):  # and what max_error learned, kept in this process
        clears += [bound.forget for bound in _BOUNDS.get(store, ())]
    return clears


@hookimpl
def agentcache_options() -> Mapping[str, OptionCheck]:
    return {"semantic": SemanticConfig.from_option}


@hookimpl
def agentcache_cli_commands(subparsers: Any) -> None:
    sem = subparsers.add_parser(
        "semantic",
        help="explain a semantic match of two prompts",
        description="Would the answer cached for CACHED answer NEW, and why (exit 0: a hit).",
    )
    sem.add_argument("new", help="the prompt being asked")
    sem.add_argument("cached", help="the prompt whose answer is cached")
    sem.add_argument("--threshold", type=float, default=None, help="cosine (default: 0.80)")
    sem.add_argument(
        "--vectorizer", default=None, help='"onnx" or "onnx-int8" (default: the local model)'
    )
    sem.add_argument(
        "--judge-url", help="also ask a judge: an OpenAI-compatible server's /v1 URL"
    )  # fmt: skip
    sem.add_argument("--judge-model", default="gpt-4o-mini", help="the judge's model name")
    sem.set_defaults(run=_semantic_command)


def _semantic_command(args: argparse.Namespace) -> int:
    from .explain import explain_match

    try:
        config = SemanticConfig(vectorizer=args.vectorizer, judge=_judge(args))
        if args.threshold is not None:
            config = dataclasses.replace(config, threshold=args.threshold)
        report = asyncio.run(explain_match(args.new, args.cached, config))
    except (ValueError, RuntimeError) as exc:
        print(f"agentcache: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.hits else 1


def _judge(args: argparse.Namespace) -> Any:
    """The judge ``--judge-url`` names, if any."""
    from .judge import openai_compatible

    return openai_compatible(args.judge_url, args.judge_model) if args.judge_url else None


# One in-process index per store object: models sharing a store (a CachedModelProvider's, or
# yours) share its semantic entries too, as they would through Redis.
_INDEXES: weakref.WeakKeyDictionary[object, InProcessIndex] = weakref.WeakKeyDictionary()
# The error bounds of the stages on each store: what they learned is forgotten with the store.
_BOUNDS: weakref.WeakKeyDictionary[object, weakref.WeakSet[ErrorBound]] = (
    weakref.WeakKeyDictionary()
)
# The indexes given in SemanticConfig(index=...), by store: cleared with the store.
_GIVEN: weakref.WeakKeyDictionary[object, dict[int, VectorIndex]] = weakref.WeakKeyDictionary()


def _default_index(context: StageContext) -> VectorIndex:
    """RedisVL in the model's Redis when its store is a (single-server) RedisStore, else an
    in-process index shared by every model on the same store object."""
    store = context.store.store
    redis = _redis_of(store)
    if redis is None:
        try:
            return _INDEXES.setdefault(store, InProcessIndex())
        except TypeError:  # a store that cannot be weakly referenced
            return InProcessIndex()
    return _redis_index(redis)


def _redis_of(store: Store) -> RedisStore | None:
    """The single-server RedisStore under ``store``'s wrappers, if any (the search module does
    not span a cluster here: a cluster store gets the in-process index)."""
    try:
        from agentcache_redis.hooks import find_redis_store
    except ImportError:
        return None
    redis = find_redis_store(store)
    return None if redis is None or redis.cluster else redis


def _redis_index(redis: RedisStore) -> RedisVLIndex:
    from .redis_index import RedisVLIndex

    # named after the store's prefix: two prefixes in one Redis are two separate indexes
    return RedisVLIndex(redis.client, name=f"{redis.prefix}-semantic", prefix=f"{redis.prefix}-sem")
