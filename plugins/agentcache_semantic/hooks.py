"""The hook implementations the ``agentcache`` entry point registers."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from agentcache.chain import Stage, StageContext
from agentcache.hookspecs import OptionCheck, hookimpl

from .config import SemanticConfig
from .index import InProcessIndex, VectorIndex
from .stage import SemanticStage
from .vectorizer import identify, resolve


@hookimpl
def agentcache_stages(context: StageContext) -> Iterable[Stage]:
    config = SemanticConfig.from_option(context.config.options.get("semantic"))
    if config is None:
        return []
    guards = config.guard_list(context.plugins)
    index = config.index if config.index is not None else _default_index(context)
    embed, space = resolve(config.vectorizer), identify(config.vectorizer)
    return [SemanticStage(context, config, index, embed, guards, space)]


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
    sem.add_argument("--vectorizer", default=None, help='"onnx" or "onnx-int8" (default: torch)')
    sem.set_defaults(run=_semantic_command)


def _semantic_command(args: argparse.Namespace) -> int:
    from .explain import explain_match

    try:
        config = SemanticConfig(vectorizer=args.vectorizer)
        if args.threshold is not None:
            config = dataclasses.replace(config, threshold=args.threshold)
        report = asyncio.run(explain_match(args.new, args.cached, config))
    except (ValueError, RuntimeError) as exc:
        print(f"agentcache: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.hits else 1


# One in-process index per store object: models sharing a store (a CachedModelProvider's, or
# yours) share its semantic entries too, as they would through Redis.
_INDEXES: weakref.WeakKeyDictionary[object, InProcessIndex] = weakref.WeakKeyDictionary()


def _default_index(context: StageContext) -> VectorIndex:
    """RedisVL in the model's Redis when its store is a (single-server) RedisStore, else an
    in-process index shared by every model on the same store object."""
    store = context.store.store
    try:
        from agentcache_redis.hooks import find_redis_store
    except ImportError:
        redis = None
    else:
        redis = find_redis_store(store)
    if redis is None or redis.cluster:  # the search module does not span a cluster here
        try:
            return _INDEXES.setdefault(store, InProcessIndex())
        except TypeError:  # a store that cannot be weakly referenced
            return InProcessIndex()
    from .redis_index import RedisVLIndex

    # named after the store's prefix: two prefixes in one Redis are two separate indexes
    return RedisVLIndex(redis.client, name=f"{redis.prefix}-semantic", prefix=f"{redis.prefix}-sem")
