"""A password in a store URL never shows: not in logs (DEBUG included), ``stats()``, OpenTelemetry
spans, exceptions, reprs, or the command line's output, whether the password is right, wrong,
or the server is not there at all.

The Redis here wants a password (``requirepass`` and ACL users), so a URL without the right
one cannot work: every run below really authenticates, or really fails to.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentcache_redis import find_redis_store, from_url
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentcache
from agentcache import CachedModel, CacheKey
from agentcache.cli import main
from agentcache.secrets import redact_url
from tests.security.conftest import (
    ODD_PASSWORD,
    ODD_PASSWORD_QUOTED,
    PASSWORD,
    AuthRedis,
    TenantModel,
    ask,
)

WRONG = "WrongPw0c4e8b6a2f"
SECRETS = (PASSWORD, WRONG, ODD_PASSWORD, ODD_PASSWORD_QUOTED)
CLI = Path(sys.executable).parent / "agentcache"
ROOT = Path(__file__).parents[2]


def leaks(text: str) -> list[str]:
    """The secrets, or recognizable pieces of the odd one, that ``text`` holds."""
    pieces = (*SECRETS, "s3cr", "p@ss", "W0rd:Zq", "W0rd%3AZq")
    return [p for p in pieces if p in text]


def exception_text(exc: BaseException) -> str:
    """Everything an exception shows: str, repr, the formatted traceback with its chain, and
    the same for what it was raised from or during."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None:
            parts.append(exception_text(linked))
    return "\n".join(parts)


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://alice:pw@10.0.0.5:6379/0", "redis://alice:***@10.0.0.5:6379/0"),
        ("rediss://:pw@host/2?prefix=p", "rediss://:***@host/2?prefix=p"),
        ("redis://u:p@ss@host:1/0", "redis://u:***@host:1/0"),  # "@" in the password
        ("redis://u:pa/ss@host:6379/0", "redis://***@host:6379/0"),  # unencoded "/"
        ("redis://u:pa?ss@host", "redis://***@host"),
        ("redis://u:pa#ss@host", "redis://***@host"),
        ("redis://host/0?password=pw&prefix=p", "redis://host/0?password=***&prefix=p"),
        ("rediss://host?ssl_password=pw", "rediss://host?ssl_password=***"),
        ("u:pw@host:6379", "u:***@host:6379"),  # no scheme
        ("redis://alice@host", "redis://alice@host"),  # a user name is not a secret
        ("redis://host/0?signing_key_env=KEY", "redis://host/0?signing_key_env=KEY"),
        ("file://.agentcache", "file://.agentcache"),
        ("memory://?max_entries=3", "memory://?max_entries=3"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


async def test_runs_on_a_password_url_leave_no_password_anywhere(
    auth_redis: AuthRedis,
    spans: tuple[TracerProvider, InMemorySpanExporter],
    caplog: pytest.LogCaptureFixture,
    warm_embedding_model: None,
) -> None:
    """Hits, misses, streamed runs, bypasses and a semantic lookup (RedisVL in the same Redis)
    on a URL with the right password; then the same on a wrong password and on a server that is
    not there, where every store call fails and is logged (fail open)."""
    caplog.set_level(logging.DEBUG)
    provider, exporter = spans
    prefix = f"pw-{uuid.uuid4().hex[:10]}"
    urls = {
        "right": auth_redis.url(prefix=prefix),
        "odd user": auth_redis.url("bob", ODD_PASSWORD_QUOTED, prefix=prefix),
        "wrong": auth_redis.url(password=WRONG, prefix=prefix),
        "refused": f"redis://alice:{PASSWORD}@127.0.0.1:1/0?prefix={prefix}",
    }
    shown: list[str] = []
    for name, url in urls.items():
        inner = TenantModel()
        cached = CachedModel(
            inner,
            store=url,
            semantic=True,
            store_timeout=2.0,
            options={"otel_tracer_provider": provider, "otel_in_process_steps": True},
        )
        with agentcache.namespace("t1"):
            await ask(cached, "What is the capital of Canada?")
            await ask(cached, "What is the capital of Canada?")  # exact hit (or error)
            await ask(cached, "what's the capital of canada", streamed=True)  # semantic
            with agentcache.no_cache():
                await ask(cached, "What is the capital of Canada?")
        await cached.flush()
        stats = cached.stats()
        if name in ("right", "odd user"):
            assert stats.hits >= 2 and not stats.errors, (name, stats)
        else:  # the password was really checked (or the server was really not there)
            assert inner.total == 4 and stats.errors.get("store_error"), (name, stats)
        redis = find_redis_store(cached.store)
        shown += [
            repr(cached), str(cached), repr(cached.store), repr(cached.guarded_store),
            repr(redis), repr(redis.client if redis else None),
            repr(stats), str(dataclasses.asdict(stats)), repr(cached.recent_calls),
        ]  # fmt: skip
        await cached.close()

    finished = exporter.get_finished_spans()
    assert len(finished) > 20
    shown += [span.to_json() for span in finished]  # attributes, events, status, resource
    shown += [record.getMessage() for record in caplog.records]
    shown += [exception_text(r.exc_info[1]) for r in caplog.records if r.exc_info and r.exc_info[1]]
    shown.append(caplog.text)
    assert any("AuthenticationError" in text or "WRONGPASS" in text for text in shown)
    assert leaks("\n".join(shown)) == []


def raised(url: str, operation: str = "get") -> BaseException:
    """The exception a store URL ends in: at construction, or at its first command."""
    import asyncio

    async def use() -> None:
        store = from_url(url)
        try:
            await store.get(CacheKey("ns", "0" * 64))
        finally:
            await store.close()

    try:
        if operation == "model":
            CachedModel(TenantModel(), store=url)
        else:
            asyncio.run(use())
    except Exception as exc:
        return exc
    raise AssertionError(f"{redact_url(url)} did not fail")


@pytest.mark.parametrize(
    ("case", "url", "operation"),
    [
        ("wrong password", "redis://alice:{WRONG}@127.0.0.1:{port}/0", "get"),
        ("wrong password, no user", "redis://:{WRONG}@127.0.0.1:{port}/0", "get"),
        ("refused", "redis://alice:{PASSWORD}@127.0.0.1:1/0", "get"),
        ("cluster refused", "redis+cluster://alice:{PASSWORD}@127.0.0.1:1", "get"),
        ("unknown host", "rediss://alice:{PASSWORD}@no-such-host.invalid:6379/0", "get"),
        ("unencoded characters", "redis://bob:{ODD_PASSWORD}@127.0.0.1:{port}/0", "get"),
        ("scheme typo", "redsi://alice:{PASSWORD}@127.0.0.1:{port}/0", "model"),
        ("not a redis scheme", "http://alice:{PASSWORD}@127.0.0.1:{port}/0", "get"),
        ("bad store option", "redis://alice:{PASSWORD}@127.0.0.1:{port}/0?scan_count=x", "get"),
        ("bad client option", "redis://alice:{PASSWORD}@h:1/0?socket_timeout=abc", "model"),
        ("unknown client option", "redis://alice:{PASSWORD}@127.0.0.1:{port}/0?nope=1", "get"),
        ("missing signing key", "redis://alice:{PASSWORD}@h/0?signing_key_env=NO_SUCH", "model"),
    ],
)
def test_exceptions_never_quote_the_password(
    auth_redis: AuthRedis, case: str, url: str, operation: str
) -> None:
    values = {"WRONG": WRONG, "PASSWORD": PASSWORD, "ODD_PASSWORD": ODD_PASSWORD}
    exc = raised(url.format(port=auth_redis.port, **values), operation)
    text = exception_text(exc)
    assert leaks(text) == [], text


# -- the command line ------------------------------------------------------------------------


def cli(*args: str, store: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([*args, "--store", store])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(scope="module")
def filled_prefix(auth_redis: AuthRedis) -> str:
    """Two entries under a prefix of the password-protected Redis, written with the password."""
    import asyncio

    prefix = f"pwcli-{uuid.uuid4().hex[:10]}"

    async def fill() -> None:
        cached = CachedModel(TenantModel(), store=auth_redis.url(prefix=prefix))
        await ask(cached, "first question")
        await ask(cached, "second question")
        await cached.close()

    asyncio.run(fill())
    return prefix


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_cli_commands_show_no_password(
    auth_redis: AuthRedis, filled_prefix: str, user: str, capsys: pytest.CaptureFixture[str]
) -> None:
    password = PASSWORD if user == "alice" else ODD_PASSWORD_QUOTED
    right = auth_redis.url(user, password, prefix=filled_prefix)
    wrong = auth_redis.url(user, WRONG, prefix=filled_prefix)
    everything = []
    for command in (["stats"], ["ls"], ["doctor"], ["doctor", "--json"], ["verify"]):
        code, text = cli(*command, store=right, capsys=capsys)
        assert code == 0, text
        everything.append(text)
        code, text = cli(*command, store=wrong, capsys=capsys)
        assert code in (1, 2) and ("AuthenticationError" in text or "WRONGPASS" in text), text
        everything.append(text)
    code, text = cli("ls", store=right.replace("redis://", "redsi://"), capsys=capsys)
    assert code == 2 and f"redsi://{user}:***@127.0.0.1" in text
    everything.append(text)
    assert leaks("\n".join(everything)) == []
    # what is shown still says where the store is, and as whom
    assert f"redis://{user}:***@127.0.0.1:{auth_redis.port}/0?prefix={filled_prefix}" in "".join(
        everything
    )


def test_the_agentcache_command_shows_no_password(
    auth_redis: AuthRedis, filled_prefix: str
) -> None:
    """The installed command, as a shell runs it: stats and doctor with the password, ls with a
    wrong one."""
    env = {k: v for k, v in os.environ.items() if k != "AGENTCACHE_STORE"}
    right = auth_redis.url(prefix=filled_prefix)
    runs = [("stats", right, 0), ("doctor", right, 0), ("ls", auth_redis.url(password=WRONG), 2)]
    shown = {}
    for command, store, code in runs:
        result = subprocess.run(
            [str(CLI), command, "--store", store],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert result.returncode == code, result.stderr
        shown[command] = result.stdout + result.stderr
    assert leaks("\n".join(shown.values())) == [], shown
    assert f"redis://alice:***@127.0.0.1:{auth_redis.port}/0" in shown["stats"]
    assert f"redis://alice:***@127.0.0.1:{auth_redis.port}/0" in shown["doctor"]
    assert "AuthenticationError" in shown["ls"]
