"""The agents under evaluation: a support agent with tools and a handoff, a triage agent with
structured output, and a calculator. Tools read fixed tables: the answers are deterministic."""

from __future__ import annotations

from typing import Literal

from agents import Agent, function_tool
from pydantic import BaseModel

WEATHER = {
    "Paris": "Sunny, 21°C in Paris.",
    "Oslo": "Snow, -3°C in Oslo.",
    "Lima": "Overcast, 18°C in Lima.",
    "Tokyo": "Rain, 16°C in Tokyo.",
    "Cairo": "Clear, 34°C in Cairo.",
}
RATES = {("EUR", "USD"): 1.08, ("USD", "EUR"): 0.93, ("GBP", "JPY"): 191.5, ("USD", "CHF"): 0.88}
ORDERS = {
    "1001": "Order #1001: shipped on 3 May, arriving 6 May.",
    "1002": "Order #1002: delivered on 1 May.",
    "1003": "Order #1003: waiting for payment.",
}


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return WEATHER.get(city, f"No weather data for {city}.")


@function_tool
def convert_currency(amount: float, source: str, target: str) -> str:
    """Convert an amount between two currencies (ISO codes)."""
    rate = RATES.get((source, target))
    if rate is None:
        return f"No rate from {source} to {target}."
    return f"{amount:g} {source} is {amount * rate:.2f} {target}."


@function_tool
def lookup_order(order_id: str) -> str:
    """The status of an order."""
    return ORDERS.get(order_id, f"Order #{order_id}: not found.")


@function_tool
def refund_policy(order_id: str) -> str:
    """Whether an order can be refunded."""
    if order_id == "1002":
        return "Order #1002 can be refunded until 31 May."
    return f"Order #{order_id} cannot be refunded before delivery."


class Triage(BaseModel):
    category: Literal["billing", "bug", "account", "other"]
    priority: Literal["normal", "high"]
    summary: str


refunds = Agent(
    name="refunds",
    instructions="You handle refund requests: check the refund policy for the order.",
    tools=[refund_policy],
)
support = Agent(
    name="support",
    instructions="Help customers with weather, currencies and orders; hand refunds over.",
    tools=[get_weather, convert_currency, lookup_order],
    handoffs=[refunds],
)
triage = Agent(name="triage", instructions="Classify the support ticket.", output_type=Triage)
calculator = Agent(name="calculator", instructions="Answer arithmetic questions briefly.")
