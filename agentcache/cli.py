"""``agentcache`` command line: inspect plugins and manage a store.

Commands::

    agentcache plugins                      which plugins loaded, and install hints for the rest
    agentcache size  file://.agentcache     count entries (optionally --namespace NS)
    agentcache clear file://.agentcache     remove entries (optionally --namespace NS)
    agentcache semantic "new" "cached"      would a cached prompt answer a new one, and why
                                            (the semantic extra; --threshold, --vectorizer)
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from collections.abc import Sequence

from .plugins import get_plugins


async def _store_command(command: str, url: str, namespace: str | None) -> int:
    store = get_plugins().resolve_store(url)
    try:
        return await (store.size(namespace) if command == "size" else store.clear(namespace))
    finally:
        await store.close()


def _semantic(new: str, cached: str, threshold: float | None, vectorizer: str | None) -> int:
    try:
        from agentcache_semantic import SemanticConfig
        from agentcache_semantic.explain import explain_match
    except ImportError as exc:
        print(f"agentcache: {exc}; pip install 'agentcache-middleware[semantic]'", file=sys.stderr)
        return 2
    try:
        config = SemanticConfig(vectorizer=vectorizer)
        if threshold is not None:
            config = dataclasses.replace(config, threshold=threshold)
        report = asyncio.run(explain_match(new, cached, config))
    except (ValueError, RuntimeError) as exc:
        print(f"agentcache: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0 if report.hits else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="agentcache", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("plugins", help="list discovered plugins")
    for name in ("size", "clear"):
        sub = commands.add_parser(name, help=f"{name} a store given by URL")
        sub.add_argument("url", help="store URL, e.g. file://.agentcache")
        sub.add_argument("--namespace", default=None, help="only this namespace")
    sem = commands.add_parser("semantic", help="explain a semantic match of two prompts")
    sem.add_argument("new", help="the prompt being asked")
    sem.add_argument("cached", help="the prompt whose answer is cached")
    sem.add_argument("--threshold", type=float, default=None, help="cosine (default: 0.80)")
    sem.add_argument("--vectorizer", default=None, help='"onnx" or "onnx-int8" (default: torch)')
    args = parser.parse_args(argv)

    if args.command == "semantic":
        return _semantic(args.new, args.cached, args.threshold, args.vectorizer)

    if args.command == "plugins":
        plugins = get_plugins()
        print("agentcache.builtin: loaded (memory://, file://)")
        for status in plugins.report:
            print(status)
        print("store schemes:", ", ".join(f"{s}://" for s in sorted(plugins.store_schemes())))
        return 1 if any(not s.loaded for s in plugins.report) else 0
    try:
        count = asyncio.run(_store_command(args.command, args.url, args.namespace))
    except ValueError as exc:
        print(f"agentcache: {exc}", file=sys.stderr)
        return 2
    print(f"{count} entries" + (" removed" if args.command == "clear" else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
