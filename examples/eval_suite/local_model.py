"""A LOCAL SCRIPTED MODEL: a deterministic stand-in for an LLM, so the suite needs no key.

It reads the conversation the way a model would and answers by simple rules: it calls the tool
(or hands off) that the last user message asks for, answers from a tool's output, fills a
structured output, or does sums. Each call waits ``EVAL_MODEL_LATENCY`` seconds (0.2 by
default) to stand in for a hosted model's response time. Ids are derived from the input, so a
re-recording of the same answers is byte for byte the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any

from agents.items import ModelResponse
from agents.models.interface import Model
from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call
from agents.usage import Usage

CALLS: list[str] = []
"""Every call that reached this model in this process (the suite reports the count)."""


def _text(item: Any) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def _tool_call(tool: str, text: str) -> dict[str, Any] | None:
    """The arguments for ``tool`` found in the user's words, or None if it does not fit."""
    if tool == "get_weather" and (m := re.search(r"weather in ([A-Z][a-z]+)", text)):
        return {"city": m.group(1)}
    if tool == "convert_currency" and (
        m := re.search(r"([\d.]+) ([A-Z]{3}) (?:to|in) ([A-Z]{3})", text)
    ):
        return {"amount": float(m.group(1)), "source": m.group(2), "target": m.group(3)}
    if tool in ("lookup_order", "refund_policy") and (m := re.search(r"#(\d+)", text)):
        return {"order_id": m.group(1)}
    return None


def _structured(text: str) -> str:
    lowered = text.lower()
    category = next(
        (c for c, words in _CATEGORIES.items() if any(w in lowered for w in words)), "other"
    )
    priority = "high" if re.search(r"urgent|asap|down|immediately", lowered) else "normal"
    summary = " ".join(text.split()[:6])
    return json.dumps({"category": category, "priority": priority, "summary": summary})


_CATEGORIES = {
    "billing": ("invoice", "charged", "payment"),
    "bug": ("crash", "error", "broken", "down"),
    "account": ("password", "login", "email"),
}


def _arithmetic(text: str) -> str:
    if m := re.search(r"(\d+) ([-+*]) (\d+)", text):
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        value = a + b if op == "+" else a - b if op == "-" else a * b
        return f"{a} {op} {b} = {value}."
    return "Hello! Ask me about the weather, currencies, orders or refunds."


class LocalModel(Model):
    def __init__(self, latency: float | None = None) -> None:
        self.latency = float(os.environ.get("EVAL_MODEL_LATENCY", "0.2"))
        self.latency = self.latency if latency is None else latency

    def _answer(
        self, items: list[Any], tools: list[Any], output_schema: Any, handoffs: list[Any], ids: str
    ) -> list[Any]:
        user = next(_text(i) for i in reversed(items) if i.get("role") == "user")
        calls = [i for i in items if i.get("type") == "function_call"]
        names = {t.name for t in tools}
        if calls and calls[-1]["name"] in names:  # the tool answered: say what it said
            outputs = [i["output"] for i in items if i.get("type") == "function_call_output"]
            return [assistant_message(f"{outputs[-1]}", item_id=f"msg_{ids}")]
        for handoff in handoffs:
            if "refund" in user.lower():
                return [function_call(handoff.tool_name, {}, call_id=f"call_{ids}")]
        for tool in tools:
            if (args := _tool_call(tool.name, user)) is not None:
                return [function_call(tool.name, args, call_id=f"call_{ids}")]
        if output_schema is not None and not output_schema.is_plain_text():
            return [assistant_message(_structured(user), item_id=f"msg_{ids}")]
        return [assistant_message(_arithmetic(user), item_id=f"msg_{ids}")]

    async def get_response(  # type: ignore[override]
        self, system_instructions: Any, input: Any, model_settings: Any, tools: Any,
        output_schema: Any, handoffs: Any, tracing: Any, **kwargs: Any,
    ) -> ModelResponse:  # fmt: skip
        CALLS.append(system_instructions or "")
        await asyncio.sleep(self.latency)
        items = [{"role": "user", "content": input}] if isinstance(input, str) else input
        items = [i if isinstance(i, dict) else i.model_dump() for i in items]
        seen = json.dumps([system_instructions, items], sort_keys=True, default=str)
        digest = hashlib.sha256(seen.encode()).hexdigest()[:16]  # unique per turn, stable
        output = self._answer(items, tools, output_schema, handoffs, digest)
        usage = Usage(requests=1, input_tokens=120, output_tokens=20, total_tokens=140)
        return ModelResponse(output=output, usage=usage, response_id=f"resp_{digest}")

    async def stream_response(  # type: ignore[override]
        self, system_instructions: Any, input: Any, model_settings: Any, tools: Any,
        output_schema: Any, handoffs: Any, tracing: Any, **kwargs: Any,
    ) -> AsyncIterator[Any]:  # fmt: skip
        answer = await self.get_response(
            system_instructions, input, model_settings, tools, output_schema, handoffs, tracing
        )
        step = ModelStep(output=answer.output, usage=answer.usage, response_id=answer.response_id)
        events = ScriptedModel([step]).stream_response(
            system_instructions, input, model_settings, tools, output_schema, handoffs, tracing,
            previous_response_id=None, conversation_id=None, prompt=None,
        )  # fmt: skip
        async for event in events:
            yield event
