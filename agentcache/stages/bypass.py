from __future__ import annotations

from collections.abc import Callable

from agents.items import ModelResponse

from ..builtin import agentcache_bypass as builtin_rule
from ..call import ModelCall
from ..chain import ORDER_BYPASS, Handler, StageContext
from ..keys import KeyEncodingError
from ..plugins import Plugins


class BypassStage:
    """Decides, with a named reason, which calls go straight to the model.

    Built-in reasons: ``disabled`` (``enabled=False``), ``no_cache`` (the per-call control),
    ``unkeyable_input`` (a value the key cannot encode, logged with the field's path),
    ``key_error`` (building the key raised: the SDK's converters validate what they convert,
    and the inner model, not the cache, decides what an invalid request gets), then the
    ``agentcache_bypass`` hook: the built-in ``previous_response_id`` / ``conversation_id``
    rule and any plugin's rules. A bypassed call is marked so later stages pass it through.
    """

    name = "bypass"
    order = ORDER_BYPASS

    def __init__(self, context: StageContext, rule: Callable[[ModelCall], str | None]) -> None:
        self._enabled = context.config.enabled
        self._stats = context.stats
        self._warn = context.store.warn
        self._rule = rule
        # The plugins' hook, when ``rule`` is it: while the built-in rule is its only
        # implementation, that rule is called directly (pluggy's hook call costs about 4 us on
        # every call). Plugins registered later are seen: the check is made on every call.
        plugins = context.plugins
        is_hook = (
            getattr(rule, "__func__", None) is Plugins.bypass_reason
            and getattr(rule, "__self__", None) is plugins
        )
        self._hook = plugins.pm.hook.agentcache_bypass if plugins is not None and is_hook else None

    async def handle(self, call: ModelCall, call_next: Handler) -> ModelResponse:
        self.decide(call)
        return await call_next(call)

    def decide(self, call: ModelCall) -> None:
        """Mark the call bypassed, with its reason, if it must go straight to the model."""
        reason = self.reason(call)
        if reason is not None:
            call.state.outcome = "bypass"
            call.state.bypass_reason = reason

    def reason(self, call: ModelCall) -> str | None:
        if not self._enabled:
            return "disabled"
        if call.controls.no_cache:
            return "no_cache"
        try:
            call.key  # noqa: B018 - computing the key is the check
        except KeyEncodingError as exc:
            self._warn("unkeyable_input", "%s; bypassing the cache for this call", exc)
            return "unkeyable_input"
        except Exception as exc:  # the SDK's converters also validate (a tool set, a schema)
            self._warn("key_error", "building the key raised %r; bypassing the cache", exc)
            return "key_error"
        try:
            hook = self._hook
            if hook is not None:
                impls = hook.get_hookimpls()
                if len(impls) == 1 and impls[0].function is builtin_rule:
                    return builtin_rule(call)
            return self._rule(call)
        except Exception as exc:
            self._stats.count("errors", "bypass_hook")
            self._warn("bypass_hook", "a bypass rule raised %r; bypassing", exc)
            return "bypass_hook_error"
