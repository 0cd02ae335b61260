"""The two ways a client reaches the server: stdio (a desktop client starts it as a child process)
and streamable HTTP on 127.0.0.1 (any client that speaks HTTP, on this machine).

Over stdio the SDK takes file descriptors 0 and 1 for the protocol and points what else
writes to standard output at standard error, so a stray print (ours, a library's) cannot
corrupt the stream. Over HTTP the socket is bound here, before the server starts, so a port
in use is a clear error and `--http 0` can say which free port it took. The SDK's app
refuses requests whose Host or Origin is not this machine's (DNS rebinding protection) when
it is bound to 127.0.0.1. Nothing is served on other addresses: the tools change sessions and
there is no authentication.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import time
from typing import Any, Callable

import anyio
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from engine.errors import WorkbenchError

HOST = "127.0.0.1"
STOP_WAIT_SECONDS = 10  # how long Ctrl-C waits for a call under way
# a request's body over HTTP at most (the SDK's default is 4 MiB): room for a long document given to
# create_session (a 1M-token text is about 4 MB); stdio has no limit of its own
MAX_REQUEST_BYTES = 64 * 1024 * 1024
PATH = "/mcp"


def serve_stdio(server: Server[Any], busy: Callable[[], bool] = lambda: False) -> None:
    """Serve one client over standard input and output until it closes them, or Ctrl-C (SIGINT)
    or SIGTERM stops the server: then a call under way finishes (up to `STOP_WAIT_SECONDS`), and
    the process ends at once. It must: the SDK reads stdin in a thread that only a line or the
    end of input wakes, so the event loop could not finish. Whatever a call had not committed
    is not written, as when any process is killed mid-write (the store's transactions are whole)."""

    async def run() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(stop_on_signal)
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
            group.cancel_scope.cancel()

    async def stop_on_signal() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                deadline = time.monotonic() + STOP_WAIT_SECONDS
                while busy() and time.monotonic() < deadline:
                    await anyio.sleep(0.05)
                print(f"stopped ({signal.Signals(signum).name})", file=sys.stderr, flush=True)
                os._exit(128 + signum)

    anyio.run(run)


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:`port` (0: any free port); a WorkbenchError if it is taken."""
    if not 0 <= port <= 65535:
        raise WorkbenchError(f"--http {port} is not a port; give one from 1 to 65535, or 0 for any free port")
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle off only on sockets that say they are TCP,
    # and accepted connections take this one's; without it each small answer waited ~40 ms for an ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise WorkbenchError(f"port {port} on {HOST} is in use (another server?); choose another with --http PORT, "
                                 "or --http 0 for any free port") from None
        raise WorkbenchError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://{HOST}:{sock.getsockname()[1]}{PATH}"


def serve_http(server: Server[Any], sock: socket.socket, ready: Callable[[str], None] = lambda url: None) -> None:
    """Serve streamable HTTP at http://127.0.0.1:PORT/mcp on `sock` until interrupted."""
    app = server.streamable_http_app(streamable_http_path=PATH, host=HOST, max_request_body_size=MAX_REQUEST_BYTES)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    ready(url_of(sock))
    uvicorn.Server(config).run(sockets=[sock])
