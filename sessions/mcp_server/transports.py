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
import socket
from typing import Any, Callable

import anyio
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from engine.errors import WorkbenchError

HOST = "127.0.0.1"
PATH = "/mcp"


def serve_stdio(server: Server[Any]) -> None:
    """Serve one client over standard input and output until it closes them."""

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

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
    app = server.streamable_http_app(streamable_http_path=PATH, host=HOST)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    ready(url_of(sock))
    uvicorn.Server(config).run(sockets=[sock])
