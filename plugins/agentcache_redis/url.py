"""Store URLs: ``redis://``, ``rediss://`` (TLS), ``redis+cluster://``, ``rediss+cluster://``.

``redis://[user[:password]@]host[:port][/db][?options]``. The user and password are an ACL
login (percent-encode special characters). A cluster URL names one seed node; the client
discovers the others. Options of the store: ``prefix``, ``compress_min_bytes``,
``max_value_bytes``, ``scan_count`` and ``signing_key_env`` (the *name* of an environment
variable holding the HMAC secret, so the secret never sits in a URL or a log line). Every other
option goes to redis-py (``socket_timeout``, ``ssl_cert_reqs``, ...).

An error about a URL never quotes its password: it shows the URL through
:func:`agentcache.secrets.redact_url`, or not at all.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.retry import Retry  # the sync one is never awaited: no retry at all
from redis.backoff import ExponentialBackoff, NoBackoff

from agentcache.secrets import redact_url
from agentcache.stores.base import Store
from agentcache.stores.signed import SignedStore

from .store import RedisStore

SCHEMES = ("redis", "rediss", "redis+cluster", "rediss+cluster")
_INT_OPTIONS = ("compress_min_bytes", "max_value_bytes", "scan_count")
# Backstops for calls outside GuardedStore's budget (clear, size); a dead server must cost
# about a second, not the OS connect timeout. The budget per cached call is store_timeout.
CLIENT_DEFAULTS: dict[str, Any] = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}


def from_url(url: str, **client_options: Any) -> Store:
    """A :class:`RedisStore` (wrapped in a :class:`~agentcache.SignedStore` when
    ``signing_key_env`` is given) that owns the client it built from ``url``."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"expected one of {', '.join(s + '://' for s in SCHEMES)}, got {redact_url(url)!r}"
        )
    # A password with an unencoded "/", "?" or "#" ends the host part early and leaves part
    # of itself where the port goes; the parser's error would quote it. Checked here, and
    # raised outside the handler, so that error is not even kept as the context.
    bad_port = False
    try:
        parts.port  # noqa: B018 - the property parses and checks the port
    except ValueError:
        bad_port = True
    if bad_port:
        raise ValueError(
            f"{parts.scheme}://: the port is not a number from 0 to 65535 (percent-encode "
            "special characters in the user name and password)"
        )
    db = parts.path.strip("/")
    if db and not (db.isdigit() and db.isascii()):  # redis-py would quietly use db 0
        raise ValueError(f"{parts.scheme}://: the path must be a database number, got {db!r}")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in (*_INT_OPTIONS, "prefix", "signing_key_env"):
            ours[name] = value
        else:
            theirs.append((name, value))
    store_options: dict[str, Any] = {}
    for name in _INT_OPTIONS:
        if name in ours:
            try:
                store_options[name] = int(ours[name])
            except ValueError:
                raise ValueError(f"{parts.scheme}:// option {name}={ours[name]!r}") from None
    if "prefix" in ours:
        store_options["prefix"] = ours["prefix"]
    scheme, _, cluster = parts.scheme.partition("+")
    plain = urlunsplit((scheme, parts.netloc, parts.path, urlencode(theirs), ""))
    options = {**CLIENT_DEFAULTS, **client_options}
    client: Any
    if cluster:
        options.setdefault("retry", Retry(ExponentialBackoff(cap=0.2, base=0.02), 3))
        client = RedisCluster.from_url(plain, **options)
    else:
        # One immediate retry: a pooled connection that died with a restarted server. A burst
        # of calls waits for a free connection (bounded by the store budget), never errors.
        options.setdefault("retry", Retry(NoBackoff(), 1))
        options.setdefault("max_connections", 64)
        client = Redis.from_pool(BlockingConnectionPool.from_url(plain, timeout=None, **options))
    store: Store = RedisStore(client, owns_client=True, **store_options)
    if "signing_key_env" in ours:
        secret = os.environ.get(ours["signing_key_env"])
        if not secret:
            raise ValueError(f"signing_key_env: environment variable {ours['signing_key_env']!r}"
                             " is not set")  # fmt: skip
        store = SignedStore(store, secret)
    return store
