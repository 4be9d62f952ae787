#!/usr/bin/env python3
"""A loopback TCP proxy that injects network faults while traffic flows through it.

Killing a server only shows one way a store can fail: a refused connection. A client library
meets others by other paths: a slow link (its timeouts), a connection reset in the middle of a
command (its retry), a server that accepts and then never answers (nothing but a timeout
saves it), a listener that is gone. This proxy sits between a client and a real server and
switches those faults on and off at run time, so a load can be hit by each while it runs:

* ``latency``: every chunk is delivered ``seconds`` after it arrived, per direction, in order
  (arrival time plus delay, so back-to-back chunks are not delayed twice).
* ``drop()``: reset every current connection (``SO_LINGER`` 0: both peers see a RST).
* ``refuse``: close the listening socket, so connecting fails with ECONNREFUSED; switching it
  off listens on the same port again. Open connections are left alone.
* ``blackhole``: a hung server. Connections are still accepted (the kernel does that for a
  hung process too) but no byte moves in either direction; bytes wait in the socket buffers
  and flow, in order, when it is switched off, as they would from a resumed process (TCP never
  loses bytes, so a proxy that discarded them would fake a fault no network makes).

Importable (``FaultProxy``; tests and ``scripts/faults.py`` load it by path) and runnable::

    python scripts/fault_proxy.py --target 127.0.0.1:6379 [--port 7000]

The CLI prints ``listening 127.0.0.1:PORT -> HOST:PORT`` and then reads one command per line
on stdin, answering each with one line, ``ok {status json}`` or ``error MESSAGE``::

    latency 0.3 [up|down|both]   blackhole on|off   refuse on|off   drop   clear   status   quit
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Direction = Literal["up", "down", "both"]
CHUNK = 64 * 1024


@dataclass
class ProxyStatus:
    port: int
    latency_up: float
    latency_down: float
    blackhole: bool
    refuse: bool
    active: int
    accepted: int
    dropped: int


class _Link:
    """One client connection and its upstream connection: two pumps, one per direction."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def reset(self) -> None:
        """Close both sockets with a RST (linger 0), not a FIN: a crashed peer, not a polite one."""
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """``await FaultProxy("127.0.0.1", 6379).start()``, or ``async with``; then ``.port``."""

    def __init__(
        self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.target = (target_host, target_port)
        self.host, self.port = host, port
        self.latency_up = 0.0
        self.latency_down = 0.0
        self.accepted = 0
        self.dropped = 0
        self._server: asyncio.Server | None = None
        self._refusing = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifecycle --

    async def start(self) -> FaultProxy:
        await self._listen()
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):
            link.reset()
        self._links.clear()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        self._flowing.set()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    # -- faults --

    def set_latency(self, seconds: float, direction: Direction = "both") -> None:
        if direction in ("up", "both"):
            self.latency_up = seconds
        if direction in ("down", "both"):
            self.latency_down = seconds

    def drop(self) -> int:
        """Reset every open connection; how many there were."""
        links = list(self._links)
        for link in links:
            link.reset()
        self._links.clear()
        self.dropped += len(links)
        return len(links)

    async def refuse(self, on: bool = True) -> None:
        if on and self._server is not None:
            self._server.close()  # stops listening; open connections stay
            self._server = None
        elif not on and self._server is None:
            await self._listen()
        self._refusing = on

    def blackhole(self, on: bool = True) -> None:
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    def clear(self) -> None:
        """Latency off, blackhole off (refusing is async: ``await refuse(False)``)."""
        self.set_latency(0.0)
        self.blackhole(False)

    def status(self) -> ProxyStatus:
        return ProxyStatus(
            port=self.port,
            latency_up=self.latency_up,
            latency_down=self.latency_down,
            blackhole=not self._flowing.is_set(),
            refuse=self._refusing,
            active=len(self._links),
            accepted=self.accepted,
            dropped=self.dropped,
        )

    # -- forwarding --

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        link = _Link(writer)
        self._links.add(link)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            await self._flowing.wait()  # a hung server reads nothing, not even a handshake
            if link not in self._links:  # dropped (or the proxy closed) while it waited
                return
            try:
                up_reader, link.upstream = await asyncio.open_connection(*self.target)
            except OSError:
                link.reset()  # the server is down: the client sees its connection reset
                return
            link.tasks = [
                asyncio.create_task(self._pump(reader, link.upstream, "up")),
                asyncio.create_task(self._pump(up_reader, writer, "down")),
            ]
            # Either direction ending (EOF delivered, or an error) ends the link.
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # Closed by close() or the loop's shutdown. Returning (not re-raising) keeps
            # Python 3.11's server callback from logging the cancelled handler as an error.
            pass
        finally:
            if handler is not None:
                self._handlers.discard(handler)
            self._links.discard(link)
            for task in link.tasks:
                task.cancel()
            for w in (link.client, link.upstream):
                if w is not None:
                    w.close()

    async def _pump(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: str
    ) -> None:
        """Read as data arrives; deliver each chunk at its arrival time + latency, in order.

        Two tasks around a queue, so a chunk that arrives while an earlier one waits out its
        delay is not delayed twice: latency, not a narrower pipe."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=256)

        async def receive() -> None:
            while True:
                await self._flowing.wait()
                data = await src.read(CHUNK)
                latency = self.latency_up if direction == "up" else self.latency_down
                await queue.put((time.monotonic() + latency, data))
                if not data:
                    return

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()

        tasks = [asyncio.create_task(receive()), asyncio.create_task(deliver())]
        try:
            # Returns when both are done (EOF read and delivered) or one failed (a reset).
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled():
                    task.exception()  # a reset peer is the end of the link, not an error
        finally:
            for task in tasks:
                task.cancel()


# -- command line --


async def _serve(target: tuple[str, int], port: int) -> None:
    proxy = await FaultProxy(*target, port=port).start()
    print(f"listening 127.0.0.1:{proxy.port} -> {target[0]}:{target[1]}", flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    try:
        while line := (await stdin.readline()).decode():
            words = line.split()
            if not words:
                continue
            if words[0] == "quit":
                break
            try:
                await _command(proxy, words)
                print("ok " + json.dumps(asdict(proxy.status())), flush=True)
            except (ValueError, IndexError, OSError) as exc:
                print(f"error {exc}", flush=True)
    finally:
        await proxy.close()


async def _command(proxy: FaultProxy, words: list[str]) -> None:
    name, args = words[0], words[1:]
    if name == "latency":
        direction = args[1] if len(args) > 1 else "both"
        if direction not in ("up", "down", "both"):
            raise ValueError(f"direction is up, down or both, not {direction!r}")
        proxy.set_latency(float(args[0]), direction)  # type: ignore[arg-type]
    elif name in ("blackhole", "refuse"):
        if not args or args[0] not in ("on", "off"):
            raise ValueError(f"{name} on|off")
        if name == "blackhole":
            proxy.blackhole(args[0] == "on")
        else:
            await proxy.refuse(args[0] == "on")
    elif name == "drop":
        proxy.drop()
    elif name == "clear":
        proxy.clear()
        await proxy.refuse(False)
    elif name != "status":
        raise ValueError(f"unknown command {name!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--target", required=True, metavar="HOST:PORT")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: a free one)")
    args = parser.parse_args(argv)
    host, _, port = args.target.rpartition(":")
    asyncio.run(_serve((host or "127.0.0.1", int(port)), args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
