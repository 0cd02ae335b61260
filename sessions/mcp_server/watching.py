"""MCP clients follow the store too: a session's resources are said to change when anyone changes it.

A client on the 2026-07-28 protocol opens a `subscriptions/listen` stream naming the resources
it cares about (and whether it wants to hear of new sessions). While the server runs, a watcher
looks at the store's change token every `POLL_SECONDS`, as the workbench's pages do: a stat of
the file while nothing was committed, so it never takes the store from its writers. When the
token moved it lists the sessions (one query), and for each session whose event count changed
publishes `ResourceUpdated` for each of its resources; a session added or gone publishes
`ResourcesListChanged` (the sessions list is a resource too). So an agent hears of a fold made
by a person in the browser, the CLI or another agent, and reads the context again. The SDK
delivers each event only to the streams that asked for it.

Clients on the handshake-era protocol (`resources/subscribe`) are not served: that method is
removed in 2026-07-28, and the SDK's client listens instead.
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Hashable

import anyio
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.subscriptions import ResourcesListChanged, ResourceUpdated

from sessions.mcp_server.resources import KINDS, SESSIONS_URI, session_uri
from sessions.store import SessionStore

POLL_SECONDS = 0.5  # as the workbench's pages poll (components/follow.py)
FIRST_LOOK_SECONDS = 1.0  # the longest a server's start waits for its first look
_log = logging.getLogger(__name__)


class StoreWatcher:
    """Publishes resource changes to listen streams; `lifespan` runs it while the server runs."""

    def __init__(self, store: SessionStore, session_id: str | None = None) -> None:
        self.store = store
        self.session_id = session_id
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus)
        self._token: Hashable = None
        self._counts: dict[str, int] | None = None
        self._failing: str | None = None
        self._looking = threading.Lock()

    def changes(self) -> list[Any]:
        """The events to publish since the last look (blocking: run in a worker thread)."""
        token = self.store.change_token()  # taken before the read: a commit in between is seen next time
        if token == self._token:
            return []
        counts = {row["id"]: row["events"] for row in self.store.list_sessions()
                  if self.session_id is None or row["id"] == self.session_id}
        before, self._token, self._counts = self._counts, token, counts
        if before is None:  # the first look (as the server starts) only learns where things stand
            return []
        events: list[Any] = []
        if set(before) != set(counts) and self.session_id is None:
            events += [ResourcesListChanged(), ResourceUpdated(SESSIONS_URI)]
        for session_id, count in counts.items():
            if before.get(session_id, count) != count:
                events += [ResourceUpdated(session_uri(session_id, kind.name)) for kind in KINDS]
        return events

    async def look(self) -> None:
        """One look; a failure (a busy or replaced store) is said once, until a look succeeds. A
        look left behind (see `lifespan`) goes on in its thread; the next one waits for it."""
        try:
            for event in await anyio.to_thread.run_sync(self._changes_alone, abandon_on_cancel=True):
                await self.bus.publish(event)
        except Exception as exc:
            said = f"{type(exc).__name__}: {exc}"
            if said != self._failing:
                _log.warning("watching the store for changes failed (%s); retrying every %s s", said, POLL_SECONDS)
            self._failing = said
        else:
            self._failing = None

    async def run(self) -> None:
        while True:
            await anyio.sleep(POLL_SECONDS)
            await self.look()

    def _changes_alone(self) -> list[Any]:
        with self._looking:
            return self.changes()

    @asynccontextmanager
    async def lifespan(self, _server: Any) -> AsyncIterator[dict[str, Any]]:
        # where things stand before any client can listen, so every later change is heard; but a
        # store another process holds must not keep the server from starting: go on after a while
        with anyio.move_on_after(FIRST_LOOK_SECONDS):
            await self.look()
        async with anyio.create_task_group() as group:
            group.start_soon(self.run)
            try:
                yield {}
            finally:
                self.listen.close()
                group.cancel_scope.cancel()
