"""``agentcache doctor`` warns about a Redis that the network can read: a non-loopback host over
plain ``redis://`` without a password, or with a password sent in clear text. ``rediss://``
(TLS) and loopback hosts are quiet.

The warning comes from the URL alone, so the remote hosts here need not exist: a documentation
address (192.0.2.1, never routed) and a ``.invalid`` name (never resolves). Doctor still tries
the store, and reports it unreachable as before (a PROBLEM line, exit 1); a short connect
timeout in the URL keeps that quick.
"""

from __future__ import annotations

import argparse
import json

import pytest

from agentcache.cli import cmd_doctor, main
from agentcache.plugins import get_plugins
from tests.security.conftest import PASSWORD, AuthRedis

FAST = "socket_connect_timeout=0.2&socket_timeout=0.2"

WARNS = [
    ("redis://192.0.2.1:6379/0", "no password and no TLS"),
    ("redis://alice:pw@192.0.2.1:6379/0", "in clear text"),
    ("redis://:pw@cache.invalid/0", "in clear text"),
    ("redis://cache.invalid/0?password=pw", "in clear text"),
    ("redis+cluster://cache.invalid:7000", "no password and no TLS"),
    ("redis://[2001:db8::1]:6379/0", "no password and no TLS"),
]
QUIET = [
    "rediss://192.0.2.1:6380/0",
    "rediss://alice:pw@cache.invalid:6380/0",
    "rediss+cluster://cache.invalid:7000",
    "redis://127.0.0.1:1/0",
    "redis://alice:pw@localhost:1/0",
    "redis://[::1]:1/0",
]


def with_fast(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{FAST}"


def doctor(url: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, dict[str, object]]:
    code = main(["doctor", "--store", url])
    text = capsys.readouterr().out
    json_code = main(["doctor", "--json", "--store", url])
    report = json.loads(capsys.readouterr().out)
    assert json_code == code
    return code, text, report


@pytest.mark.parametrize(("url", "why"), WARNS)
def test_a_remote_redis_without_auth_or_tls_is_a_warning(
    url: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, report = doctor(with_fast(url), capsys)
    warnings = [line for line in text.splitlines() if line.startswith("WARNING ")]
    assert len(warnings) == 1 and why in warnings[0], text
    assert report["warnings"] == [warnings[0].removeprefix("WARNING ")]
    assert "pw" not in warnings[0].split()  # the warning names the host, not the password
    # the server is not there: reported as before, whatever the warning said
    assert code == 1 and "PROBLEM store:" in text and report["problems"]


@pytest.mark.parametrize("url", QUIET)
def test_tls_or_loopback_is_quiet(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, text, report = doctor(with_fast(url), capsys)
    assert "WARNING" not in text and report["warnings"] == []
    assert code == 1 and "PROBLEM store:" in text  # nothing listens there either


def test_a_reachable_loopback_redis_is_ok_and_quiet(
    auth_redis: AuthRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, report = doctor(auth_redis.url(prefix="doctor-quiet"), capsys)
    assert code == 0 and "WARNING" not in text and report["warnings"] == [], text
    assert text.splitlines()[0].endswith("(RedisStore): ok")


async def test_a_warning_alone_does_not_change_the_exit_code(
    auth_redis: AuthRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store that works, reported under the remote URL it would have in production: the
    warning is printed and doctor still exits 0 (1 is for problems: a store that fails)."""
    store = get_plugins().resolve_store(auth_redis.url(prefix="doctor-remote"))
    remote = f"redis://alice:{PASSWORD}@cache.example.com:6379/0"
    try:
        code = await cmd_doctor(store, argparse.Namespace(store=remote, json=False))
    finally:
        await store.close()
    text = capsys.readouterr().out
    assert code == 0, text
    assert text.splitlines()[0] == "store     redis://alice:***@cache.example.com:6379/0 " + (
        "(RedisStore): ok"
    )
    assert [line for line in text.splitlines() if line.startswith("WARNING ")] == [
        "WARNING redis: the password is sent to cache.example.com in clear text (redis://, no "
        "TLS): anyone on the network path can read it; use rediss://"
    ]
    assert PASSWORD not in text
