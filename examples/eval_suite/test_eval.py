"""An evaluation suite: each case runs an agent through Runner.run and checks the outcome.

Record once, replay for free (see README.md). The model is the LOCAL SCRIPTED MODEL of
local_model.py; with a real model, only the model object changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from agents import Agent, Runner
from eval_agents import Triage, calculator, support, triage
from local_model import LocalModel


@dataclass(frozen=True)
class Case:
    id: str
    agent: Agent[Any]
    prompt: str
    expect: Any
    """A substring of the final output, or the expected structured output."""
    tool: str | None = None
    last_agent: str | None = None


CASES = [
    *(
        Case(f"weather-{city.lower()}", support, f"What is the weather in {city}?", text,
             "get_weather")
        for city, text in [
            ("Paris", "Sunny, 21°C in Paris."),
            ("Oslo", "Snow, -3°C in Oslo."),
            ("Lima", "Overcast, 18°C in Lima."),
            ("Tokyo", "Rain, 16°C in Tokyo."),
            ("Atlantis", "No weather data for Atlantis."),
        ]
    ),
    *(
        Case(f"currency-{i}", support, prompt, text, "convert_currency")
        for i, (prompt, text) in enumerate(
            [
                ("Convert 100 EUR to USD please", "100 EUR is 108.00 USD."),
                ("How much is 50 USD in EUR?", "50 USD is 46.50 EUR."),
                ("Convert 2.5 GBP to JPY", "2.5 GBP is 478.75 JPY."),
                ("Convert 10 EUR to CHF", "No rate from EUR to CHF."),
            ]
        )
    ),
    *(
        Case(f"order-{order}", support, f"Where is my order #{order}?", text, "lookup_order")
        for order, text in [
            ("1001", "shipped on 3 May"),
            ("1002", "delivered on 1 May"),
            ("1003", "waiting for payment"),
            ("9999", "not found"),
        ]
    ),
    Case("refund-delivered", support, "I want a refund for order #1002", "until 31 May",
         "refund_policy", "refunds"),
    Case("refund-in-transit", support, "Refund order #1001 please", "cannot be refunded",
         "refund_policy", "refunds"),
    Case("triage-billing", triage, "I was charged twice on my last invoice",
         Triage(category="billing", priority="normal", summary="I was charged twice on my")),
    Case("triage-outage", triage, "The dashboard is down, fix it urgent",
         Triage(category="bug", priority="high", summary="The dashboard is down, fix it")),
    Case("triage-login", triage, "I cannot login since I changed my email",
         Triage(category="account", priority="normal", summary="I cannot login since I changed")),
    Case("triage-other", triage, "Do you have a dark mode?",
         Triage(category="other", priority="normal", summary="Do you have a dark mode?")),
    Case("sum", calculator, "What is 17 + 25?", "17 + 25 = 42."),
    Case("difference", calculator, "What is 100 - 58?", "100 - 58 = 42."),
    Case("product", calculator, "What is 6 * 7?", "6 * 7 = 42."),
    Case("greeting", calculator, "Hi there", "Hello!"),
]  # fmt: skip


def check(case: Case, result: Any) -> None:
    if isinstance(case.expect, str):
        assert case.expect in result.final_output
    else:
        assert result.final_output == case.expect
    tools = [i.raw_item.name for i in result.new_items if i.type == "tool_call_item"]
    assert tools == ([case.tool] if case.tool else [])
    assert result.last_agent.name == (case.last_agent or case.agent.name)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_case(agentcache: Any, case: Case) -> None:
    config = agentcache.run_config(model=LocalModel())
    check(case, await Runner.run(case.agent, case.prompt, run_config=config))


STREAMED = [case for case in CASES if case.id in ("weather-oslo", "refund-delivered")]


@pytest.mark.parametrize("case", STREAMED, ids=lambda case: case.id)
async def test_streamed(agentcache: Any, case: Case) -> None:
    config = agentcache.run_config(model=LocalModel())
    result = Runner.run_streamed(case.agent, case.prompt, run_config=config)
    deltas = [
        event.data.delta
        async for event in result.stream_events()
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
    ]
    check(case, result)
    assert "".join(deltas).strip() != ""
