"""Plugin discovery: a typed facade over pluggy, and a guarded entry-point loader.

A plugin that fails to import never breaks ``import agentcache`` or a model: it is recorded in
:attr:`Plugins.report` with an install hint (``agentcache plugins`` prints the report), and its
hint is repeated in the error a user gets when they ask for something it would have provided.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from . import builtin, hookspecs
from .secrets import redact_url
from .tracing import Tracer, combine

if TYPE_CHECKING:
    from .call import ModelCall
    from .chain import Stage, StageContext
    from .config import CacheConfig
    from .stores.base import Store

ENTRY_POINT_GROUP = "agentcache"
DISTRIBUTION = "agentcache-middleware"
log = logging.getLogger("agentcache")


@dataclass(frozen=True)
class PluginStatus:
    name: str
    value: str
    distribution: str | None
    loaded: bool
    error: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.value} ({self.distribution or 'unknown distribution'})"
        if self.loaded:
            return f"{self.name}: loaded from {where}"
        return f"{self.name}: NOT loaded from {where}: {self.error}. Hint: {self.hint}"


class Plugins:
    """The hooks of one plugin manager, called with types instead of ``pm.hook.*`` kwargs."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager("agentcache")
        self.pm.add_hookspecs(hookspecs)
        self.pm.register(builtin, name="agentcache.builtin")
        self.report: list[PluginStatus] = []
        if load_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self.report.append(self._load(ep))

    def _load(self, ep: EntryPoint) -> PluginStatus:
        dist = ep.dist.name if ep.dist is not None else None
        try:
            plugin = ep.load()
            self.pm.register(plugin, name=ep.name)
        except Exception as exc:
            hint = _hint(ep, dist, exc)
            level = logging.DEBUG if isinstance(exc, ModuleNotFoundError) else logging.WARNING
            log.log(level, "agentcache: plugin %r not loaded (%s); %s", ep.name, exc, hint)
            return PluginStatus(
                ep.name, ep.value, dist, False, f"{type(exc).__name__}: {exc}", hint
            )
        return PluginStatus(ep.name, ep.value, dist, True)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object or module in code (tests, notebooks, applications)."""
        self.pm.register(plugin, name=name)

    def unregister(self, plugin: object) -> None:
        self.pm.unregister(plugin)

    def bypass_reason(self, call: ModelCall) -> str | None:
        reason: str | None = self.pm.hook.agentcache_bypass(call=call)
        return reason

    def stages(self, context: StageContext) -> list[Stage]:
        groups: list[Iterable[Stage] | None] = self._each("agentcache_stages", context=context)
        return [stage for group in groups if group for stage in group]

    def tracer(self, config: CacheConfig) -> Tracer:
        tracers: list[Tracer | None] = self._each("agentcache_tracer", config=config)
        return combine([t for t in tracers if t is not None])

    def semantic_guards(self) -> dict[str, hookspecs.SemanticGuard]:
        guards: dict[str, hookspecs.SemanticGuard] = {}
        for mapping in self._each("agentcache_semantic_guards"):  # registered later wins
            guards.update(mapping or {})
        return guards

    def store_schemes(self) -> dict[str, hookspecs.StoreFactory]:
        schemes: dict[str, hookspecs.StoreFactory] = {}
        for mapping in self._each("agentcache_store_schemes"):  # registered later wins
            schemes.update(mapping or {})
        return schemes

    def store_clearers(self, store: Store) -> list[hookspecs.Clear]:
        """What clears the plugins' data about ``store``'s entries, with the store's ``clear``."""
        groups: list[Iterable[hookspecs.Clear] | None] = self._each(
            "agentcache_store_clearers", store=store
        )
        return [clear for group in groups if group for clear in group]

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Every option is one a plugin declared, with a value its check accepts."""
        checks: dict[str, hookspecs.OptionCheck] = {}
        for mapping in self._each("agentcache_options"):  # registered later wins
            checks.update(mapping or {})
        for name, value in options.items():
            check = checks.get(name)
            if check is None:
                failed = [s.name for s in self.report if not s.loaded]
                raise ValueError(
                    f"unknown option {name!r}; known options: {', '.join(sorted(checks))}"
                    + (f" (plugins that failed to load: {', '.join(failed)})" if failed else "")
                )
            try:
                check(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"option {name!r}: {exc}") from None

    def cli_commands(self, subparsers: Any) -> None:
        """Let every plugin add its subcommands to the command line's sub-parsers."""
        self._each("agentcache_cli_commands", subparsers=subparsers)

    def _each(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call each plugin's implementation on its own, in registration order: a plugin whose
        hook raises is logged and left out instead of breaking every cached model."""
        results = []
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                results.append(impl.function(**{k: kwargs[k] for k in impl.argnames}))
            except Exception:
                log.exception("agentcache: plugin %r failed in %s; ignored", impl.plugin_name, hook)
        return results

    def resolve_store(self, url: str) -> Store:
        scheme, sep, _ = url.partition("://")
        schemes = self.store_schemes()
        if not sep or scheme not in schemes:
            failed = [str(s) for s in self.report if not s.loaded]
            raise ValueError(
                f"no store for {redact_url(url)!r}: expected one of "
                + ", ".join(f"{s}://" for s in sorted(schemes))
                + ("; plugins that failed to load: " + "; ".join(failed) if failed else "")
            )
        return schemes[scheme](url)


def _hint(ep: EntryPoint, dist: str | None, exc: Exception) -> str:
    extras: list[Any] = list(getattr(ep, "extras", []) or [])
    if isinstance(exc, ModuleNotFoundError):
        if dist and extras:
            return f"pip install '{dist}[{','.join(extras)}]'"
        return f"pip install {exc.name}" if exc.name else f"reinstall {dist or ep.value}"
    return f"the plugin failed while importing; upgrade or uninstall {dist or ep.value}"


_default: Plugins | None = None


def get_plugins() -> Plugins:
    """The process-wide plugins, discovered on first use (not at ``import agentcache``)."""
    global _default
    if _default is None:
        _default = Plugins()
    return _default
