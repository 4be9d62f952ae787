"""Every hook a plugin can implement. This module is the reference for plugin authors.

Hooks *register* things and make *synchronous, pure decisions*; they never run the cache. pluggy
calls hooks synchronously, so async work belongs in a :class:`~agentcache.chain.Stage`, which a
plugin contributes through :func:`agentcache_stages` and the chain then awaits.

A plugin is a module or object with functions decorated by ``agentcache.hookimpl``, registered
through the ``agentcache`` entry-point group::

    [project.entry-points.agentcache]
    my_rules = "my_package.agentcache_rules"

See ``examples/agentcache_example_plugin`` for a complete third-party plugin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .call import ModelCall
    from .chain import Stage, StageContext
    from .config import CacheConfig
    from .stores.base import Store
    from .tools import ToolCall
    from .tracing import Tracer

hookspec = pluggy.HookspecMarker("agentcache")
hookimpl = pluggy.HookimplMarker("agentcache")

StoreFactory = Callable[[str], "Store"]
SemanticGuard = Callable[[str, str], "str | None"]
OptionCheck = Callable[[Any], object]
Clear = Callable[[str | None], Awaitable[object]]


@hookspec(firstresult=True)
def agentcache_bypass(call: ModelCall) -> str | None:
    """Return a reason to send this call straight to the model, or ``None`` to let it be cached.

    The first non-``None`` reason wins; it is counted in ``stats().bypasses`` under that name and
    shown in debug logs, so make it a short, stable identifier such as ``"pii_detected"``.
    ``call`` is a frozen :class:`~agentcache.ModelCall`: read ``call.input``,
    ``call.model_settings``, ``call.tools``... Runs on every call, so keep it cheap and never
    raise: an exception is logged, counted as ``errors["bypass_hook"]`` and the call bypasses
    with reason ``bypass_hook_error`` (a broken rule must not serve a wrong hit).

    The built-in rule (server-side conversation state) is an implementation of this hook.
    """


@hookspec(firstresult=True)
def agentcache_tool_bypass(call: ToolCall) -> str | None:
    """Return a reason to run this tool call for real, or ``None`` to let the cache answer it.

    Called for every invocation of a tool wrapped by :func:`agentcache.cached_tool` (tools are
    never cached unless wrapped), after the built-in reasons (``disabled``, ``no_cache``,
    ``unkeyable_arguments``). ``call`` is a frozen :class:`~agentcache.ToolCall`: read
    ``call.tool`` (the tool's name), ``call.arguments`` (the parsed arguments, volatile ones
    dropped), ``call.namespace`` and ``call.context`` (the SDK's ``ToolContext``). The first
    non-``None`` reason wins and is counted in ``stats().tool_bypasses``. Keep it cheap and never
    raise: an exception is logged, counted as ``errors["tool_bypass_hook"]``, and the call runs
    the tool with reason ``bypass_hook_error``.
    """


@hookspec
def agentcache_stages(context: StageContext) -> Iterable[Stage] | None:
    """Contribute async stages to every cached model's chain.

    Called once per :class:`~agentcache.CachedModel` when its chain is built. ``context`` gives
    the model's guarded store, stats, configuration and background scheduler. Each stage has an
    ``order``; the chain runs stages in ascending order (see ``agentcache.chain`` for the
    built-in positions) and each stage awaits ``call_next(call)`` to continue. A stage with
    something slow to get ready (a model to load) may have ``async def warmup(self)``, which
    ``await cached.warmup()`` awaits: start the work when the stage is built, finish it there.
    """


@hookspec
def agentcache_store_schemes() -> Mapping[str, StoreFactory] | None:
    """Map URL schemes to store factories: ``{"memory": MemoryStore.from_url}``.

    ``CachedModel(model, store="scheme://...")`` calls the factory with the whole URL. The
    built-ins provide ``memory`` and ``file``; a later registration of a scheme replaces an
    earlier one, so a plugin can provide its own implementation of a built-in scheme.
    """


@hookspec
def agentcache_tracer(config: CacheConfig) -> Tracer | None:
    """Return a :class:`~agentcache.tracing.Tracer` to observe the I/O steps of every call.

    Called once per :class:`~agentcache.CachedModel`, before its chain is built; the tracer is
    then ``context.tracer`` for every stage. Core wraps the exact lookup (``"lookup"``), the
    background store write (``"store_write"``) and the inner model call (``"model"``, for a
    stream: until it ended or was abandoned) in ``tracer.span(step, call)``; the semantic layer
    adds ``"semantic_lookup"``; a cached tool's whole invocation is ``"tool"``, with a
    :class:`~agentcache.ToolCall` as ``call``. Several tracers nest in registration order.
    Return ``None`` to stay out (for example when your tracing library is not configured).
    """


@hookspec
def agentcache_semantic_guards() -> Mapping[str, SemanticGuard] | None:
    """Add guards to the semantic layer (the ``semantic`` extra): ``{"ticket_ids": guard}``.

    A guard is ``guard(new_prompt, cached_prompt) -> str | None``: return a short reason to veto
    a near-duplicate hit whose answer would differ (``"ticket_id"``), or ``None`` to let it
    through. Plugin guards run after the built-in ones, on every candidate above the
    similarity threshold, always (``SemanticConfig.guards`` selects built-ins only). A veto is
    counted in ``stats().semantic`` as ``vetoed:<reason>``; a guard that raises vetoes as
    ``<name>:guard_error``, so a broken guard can cost a hit but never serve a wrong one. Keep
    guards pure and fast: they run on the event loop.
    """


@hookspec
def agentcache_options() -> Mapping[str, OptionCheck] | None:
    """Declare the ``CachedModel(options={...})`` names this plugin reads, each with a check.

    ``{"my_plugin_window": check_window}``: a check gets the value the user gave and raises
    ``ValueError`` or ``TypeError`` saying what is wrong with it (its return value is ignored).
    Both run when a cached model is built, so a typo in a name, or a bad value, is one clear
    error there instead of a silent no-op found in production. Prefix your names with your
    plugin's; a later registration of a name replaces an earlier one.
    """


@hookspec
def agentcache_store_clearers(store: Store) -> Iterable[Clear] | None:
    """Return what else to clear when a namespace of ``store`` is cleared.

    A plugin that keeps data about a store's entries outside them (the semantic layer keeps
    their prompts in a vector index) returns async functions ``clear(namespace)`` that remove
    it (``namespace=None``: every namespace's). ``CachedModel.clear`` and ``agentcache clear``
    await each one after the store's own ``clear``, so a cleared namespace leaves nothing of
    its users' words behind. ``store`` is the store as given (wrappers such as ``SignedStore``
    included); return ``None`` for a store you keep nothing about. The hook itself only
    returns the functions: keep it cheap, and let them raise if they fail (the clear fails).
    """


@hookspec
def agentcache_cli_commands(subparsers: Any) -> None:
    """Add subcommands to the ``agentcache`` command line.

    ``subparsers`` is the :mod:`argparse` sub-parsers object of the ``agentcache`` parser: add
    a parser with ``subparsers.add_parser("name", help=...)``, its arguments, and
    ``set_defaults(run=function)``, where ``function(args) -> int`` returns the exit code
    (0 ok, 1 found problems, 2 usage or environment error). Plugins are loaded only for a
    command the core does not know (and for ``--help``), so keep the hook cheap and import
    heavy modules inside ``function``.
    """
