"""The hot commands (the lookup's ``GET``, the write's ``SET``) on a few connections of the
store's own, outside the client's pool.

A command through the client pays its pool on every call (a lock, a health probe of the
socket, connection-count bookkeeping, a release event) and, with the ``socket_timeout`` our
URLs set as a backstop, one more task per command: about a third of a loopback round trip
(``benchmarks/bench_redis.py``). Every store call (a lookup, a background write) is already
bounded by the guard's ``store_timeout``, so these run on connections made from the pool's own
class and settings (address, TLS, login, database) without a socket timeout, kept in a small
free list.

A connection that fails or is interrupted mid-command (a timeout cancels the task) is
disconnected and dropped: it may hold half a reply. A command that failed on one (a server
restart closed it) is tried once through the client, with its retry policy; one the server
answered with an error (``NOSCRIPT``) is kept. When every connection of ours is busy, the
command goes through the client's pool as any command would.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, TypeGuard

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_RETRY_THROUGH_CLIENT = (RedisConnectionError, RedisTimeoutError, OSError)


class HotCommands:
    def __init__(self, client: Redis, size: int = 4) -> None:
        pool = client.connection_pool
        self._through_client: Any = client.execute_command
        self._make: Any = lambda: pool.connection_class(
            **{**pool.connection_kwargs, "socket_timeout": None}
        )
        self._size = size
        self._idle: list[Any] = []
        self._count = 0  # ours, idle or busy
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def usable(client: object) -> TypeGuard[Redis]:
        """A plain client with a pool (not a cluster, not a single-connection client)."""
        return (
            isinstance(client, Redis)
            and not getattr(client, "single_connection_client", False)
            and hasattr(client.connection_pool, "connection_kwargs")
        )

    async def execute(self, *args: str | bytes | int) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: the old one's sockets are unusable
            await self.close()
            self._loop = loop
        if self._idle:
            conn = self._idle.pop()
        elif self._count < self._size:
            conn = self._make()
            self._count += 1
        else:
            return await self._through_client(*args)
        try:
            await conn.send_packed_command(conn.pack_command(*args), check_health=False)
            reply = await conn.read_response()
        except ResponseError:  # the server's answer was an error: the connection is fine
            self._idle.append(conn)
            raise
        except BaseException as exc:
            self._count -= 1
            await conn.disconnect(nowait=True)
            if isinstance(exc, _RETRY_THROUGH_CLIENT):
                return await self._through_client(*args)
            raise
        self._idle.append(conn)
        return reply

    async def close(self) -> None:
        idle, self._idle, self._count = self._idle, [], 0
        for conn in idle:
            with contextlib.suppress(Exception):  # a closed loop's socket is gone anyway
                await conn.disconnect(nowait=True)
