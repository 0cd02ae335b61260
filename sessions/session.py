"""`Session`: one conversation's public face, for the UI, the CLI, the agent loop and tests.

A session keeps its events and their fold in memory and the events in an event store
(`sessions.stores`). Every change is one unit of work handed to the store's `append`: inside
one transaction it picks up events other processes appended, computes the new events from
that fresh state, and writes them together. So the CLI and the app can both change a
session, neither works on a stale state, and a turn's events land whole or not at all.
Nothing slow happens inside it: a change that may ask a model for a summary first runs dry,
outside, where the summaries are written (`sessions.summaries`). Every change records who
made it (`engine.actors`): the session's `actor` (set by its opener), or the one a call names.

A log that does not fold (written by a bug, or by hand) never locks a person out: the
session opens at its last good event, says which event is at fault (`replay_error`), and
refuses changes; a fork of its good part carries on.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from engine import ContextState, Event, WorkbenchError, new_message, registry, render, stats
from engine.actors import Actor, acting
from engine.events import MessageAdded, PolicyApplied, SessionConfigured
from engine.fold import replay
from engine.messages import coerce_model_tool_calls
from engine.policy import ContextPolicy, plan
from engine.records import EventRecord
from engine.settings import (BACKEND_FIELDS, DEFAULT_SETTINGS, LOOP_FIELDS, settings_of, validate_backend_changes,
                             validate_settings, window_stats)
from engine.summarize import Summarizer
from engine.text import normalized_arguments
from engine.tokens import DEFAULT_ENCODING, token_counter
from engine.tools import READ_ONLY_TOOLS, ToolContext
from sessions.log import SessionLog, Unfolded, paused_collector
from sessions.looks import Looks
from sessions.snapshots import Snapshots
from sessions.stores.base import SESSION_COLUMNS, EventStore, SessionRow, StoredEvent
from sessions.summaries import RecordingSummarizer, calls_a_model, model_summarizer

# A unit of work: from a state (and the summarizer to use) to (value, events, new state).
Build = Callable[[ContextState, "Summarizer | None"], tuple[Any, list[Event], ContextState]]
After = Callable[[MessageAdded], Sequence[Event]]  # events that follow a message and name it


class Session:
    """A conversation: its events, the state they fold to, and the tools that change it."""

    def __init__(self, store: EventStore, row: SessionRow, stored: Sequence[StoredEvent] = (),
                 records: Sequence[EventRecord] = (), log: SessionLog | None = None) -> None:
        self._store = store
        self.id: str = row.id
        self.title: str = row.title
        self.created_at: datetime = row.created_at
        self.forked_from: str | None = row.forked_from
        self.forked_at: int | None = row.forked_at
        self.imported_from: str | None = row.imported_from
        self.encoding = DEFAULT_ENCODING
        self.summarizer: Summarizer | None = None  # set to override the session's choice
        self.actor: Actor = Actor.program()  # who this process's changes are by, unless a call says
        self._looks = Looks()  # a read-only store's unrecorded searches (`sessions.looks`)
        self._log = log if log is not None else SessionLog()
        self._lock = threading.RLock()  # one Session may serve several UI threads
        for record in records:
            self._log.fold(record)
        self._log.absorb(stored)

    @classmethod
    def open(cls, store: EventStore, session_id: str, snapshots: Snapshots | None = None) -> "Session":
        """The session as its log folds. With `snapshots`, a snapshot of the folded state that
        passes every check (`sessions.snapshots`) stands in for the events it covers, and a
        long log without a usable one gets one for next time."""
        row = store.session_row(session_id)
        found = snapshots.read(session_id, store) if snapshots is not None else None
        if found is None:
            with paused_collector():  # a long log's read makes many objects, none in cycles
                session = cls(store, row, store.load(session_id))
            base = 0
        else:
            base, state = found
            session = cls(store, row, log=SessionLog.from_state(base, state, cls._loader(store, session_id)))
            session.refresh()  # the events after the snapshot, folded on top
        if snapshots is not None and session.replay_error is None and snapshots.wanted(session.last_seq, base):
            snapshots.write(session_id, session.last_seq, session._state, store)
        return session

    @staticmethod
    def _loader(store: EventStore, session_id: str):
        return lambda after, upto: store.load(session_id, after, upto)

    def __repr__(self) -> str:
        return f"<Session {self.id} {self.title!r}: {self.last_seq} events>"

    @property
    def _state(self) -> ContextState:
        return self._log.state

    @property
    def replay_error(self) -> Unfolded | None:
        """Where this session's log stops folding, or None when it folds whole."""
        return self._log.replay_error

    def _writable(self) -> None:
        if self.replay_error is not None:
            good = self.last_seq
            raise WorkbenchError(f"session {self.id} cannot be changed: its {self.replay_error}. It opens at event "
                                 f"{good}; fork it there to carry on (`python -m sessions fork {self.id} --at {good}`)")

    # ---- reading -----------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self._log.last_seq

    def refresh(self) -> None:
        """Pick up events that another process appended since we last looked."""
        with self._lock:
            if self.replay_error is None:
                self._log.absorb(self._store.load(self.id, after=self.last_seq))

    def state(self, at: int | None = None) -> ContextState:
        """The context as it is now, or just after event `at` (0 means before any event)."""
        with self._lock:
            self.refresh()
            return self._log.state_at(at, self.id)

    @property
    def settings(self) -> dict[str, Any]:
        """Backend (never a key), tool profile, tool_choice, tool budget, policy: the defaults
        plus what was configured."""
        return settings_of(self.state())

    def render(self, at: int | None = None, include_reasoning: bool = False) -> list[dict[str, Any]]:
        """The OpenAI-format messages a model sees now, or as it saw them after event `at`."""
        return render(self.state(at), self.encoding, include_reasoning)

    def stats(self, at: int | None = None, tools: list[dict] | None = None, window: int | None = None) -> dict[str, Any]:
        """Token accounting of the rendered context (see `engine.render.stats`)."""
        return stats(self.state(at), self.encoding, tools=tools, window=window)

    def window_stats(self, window: int | None, at: int | None = None) -> dict[str, Any]:
        """What fills the model's window at a step, with this session's tool profile and
        reasoning convention: the one figure every page shows (`engine.settings.window_stats`)."""
        state = self.state(at)
        return window_stats(state, settings_of(state), window, self.encoding)

    def events(self) -> list[dict[str, Any]]:
        """Every event as `{"seq", "ts", "kind", "payload", "actor"}`, oldest first."""
        return [record.to_dict() for record in self.records()]

    def records(self) -> list[EventRecord]:
        with self._lock:
            self.refresh()
            return list(self._log.records)

    def tail(self, count: int) -> list[EventRecord]:
        """The last `count` events (cheap on a long log, unlike `records()`)."""
        with self._lock:
            self.refresh()
            return list(self._log.tail(count))

    def info(self) -> dict[str, Any]:
        """The session's row: id, title, created_at, and where a fork or an import came from."""
        return {name: getattr(self, name) for name in SESSION_COLUMNS}

    # ---- changing ----------------------------------------------------------------------

    def _summarizer(self, state: ContextState, stop: Any = None) -> Summarizer | None:
        return self.summarizer if self.summarizer is not None else model_summarizer(state.settings, stop)

    def _commit(self, build: Build, may_summarize: bool = False, stop: Any = None, actor: Actor | None = None) -> Any:
        """Run `build` as one unit of work in the store. A build that may summarize with a
        model runs dry first, outside the transaction and without the session's lock (the
        model may take seconds), so the model writes before the store is held and the build
        inside answers from what it wrote."""
        self._writable()
        summarizer = self.summarizer
        if may_summarize:
            with self._lock:  # the settings say whether a model summarizes: no copy of the state for that
                self.refresh()
                summarizer = self._summarizer(self._state, stop)
            if calls_a_model(summarizer):
                state = self.state()
                summarizer = self._summarizer(state, stop)
                recorder = RecordingSummarizer(summarizer)
                build(state, recorder)  # a dry run: its events are thrown away
                summarizer = recorder.prepared()
        outcome: dict[str, Any] = {}

        def unit(fresh: list[StoredEvent]) -> list[Event]:
            self._log.absorb(fresh)
            self._writable()
            value, events, state = build(self._state.copy(), summarizer)
            if any(isinstance(event, SessionConfigured) for event in events):
                validate_settings(settings_of(state))  # refused before it is written, not after
            outcome.update(value=value, state=state)
            return events

        with self._lock:
            _, records = self._store.append(self.id, self.last_seq, unit, acting(actor or self.actor))
            for record in records:  # folded only once the transaction has committed
                self._log.fold(record)
        return outcome["value"]

    def _tool_context(self, state: ContextState, summarizer: Summarizer | None, from_model: bool = False) -> ToolContext:
        return ToolContext.for_state(state, self.encoding, summarizer, from_model)

    def add_message(
        self, role: str, content: Any, *, name: str | None = None, tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None, reasoning: str | None = None, stopped: bool = False,
        extra: dict[str, Any] | None = None, before: Sequence[Event] = (), after: After | None = None,
        actor: Actor | None = None,
    ) -> str:
        """Append a message; returns its id (`m1`, `m2`, ...). Roles: system, user, assistant, tool.
        `reasoning`: an assistant's thinking before this reply; `stopped`: the reply was cut
        short; `extra`: fields kept but not rendered (such as a model's signed thinking blocks).
        `before`: events recorded just ahead of it in the same transaction (a model's `llm_called`);
        `after(message_event)`: events that follow it there (a brake's, which names the message).
        `actor`: who wrote it (default: the session's `actor`; the agent loop names the model)."""

        def build(state: ContextState, _summarizer):
            state = replay(before, state)
            event = new_message(state, role, content, name=name, tool_calls=tool_calls, tool_call_id=tool_call_id,
                                reasoning=reasoning, stopped=stopped, extra=extra)
            following = list(after(event)) if after is not None else []
            return event.message_id, [*before, event, *following], replay([event, *following], state)

        return self._commit(build, actor=actor)

    def call_tool(self, name: str, arguments: dict[str, Any] | str | None = None, *,
                  from_model: bool = False, actor: Actor | None = None) -> dict[str, Any]:
        """Run a tool as a person or a program: it leaves events but adds no messages. Never raises for bad input: the result is then `{"error": ...}` and a `tool_failed`
        event is recorded. `from_model`: the caller was shown only the published schema (an
        MCP client), so a parameter hidden from models is refused as unknown, and the call is
        the model's unless `actor` says whose it is."""
        arguments = normalized_arguments(arguments)
        if self._store.read_only and name in _LOOKS:
            return self._look(name, arguments, from_model)

        def build(state: ContextState, summarizer):
            outcome = registry.call(name, arguments, self._tool_context(state, summarizer, from_model))
            return outcome.result, outcome.events, outcome.state

        return self._commit(build, may_summarize=True, actor=actor or (Actor.model() if from_model else None))

    def _look(self, name: str, arguments: Any, from_model: bool) -> dict[str, Any]:
        """A look (`_LOOKS`) on a store this process may only read: in memory, unrecorded (`sessions.looks`)."""
        with self._lock:
            self.refresh()
            state = self._looks.base(self.last_seq, self._state)
            outcome = registry.call(name, arguments, self._tool_context(state, None, from_model))
            self._looks.keep(outcome.state, outcome.events)
        return outcome.result

    def looks(self) -> tuple[ContextState, list[EventRecord]]:
        """The state with the unrecorded looks on it, and the looks as records after the log (or none)."""
        with self._lock:
            self.refresh()
            state, records = self._looks.current(self.last_seq)
            return (state, records) if state is not None else (self._state.copy(), [])

    def run_model_tool_calls(
        self, tool_calls: list[dict[str, Any]], content: str | None = None, before: Sequence[Event] = (),
        reasoning: str | None = None, extra: dict[str, Any] | None = None,
        answers: dict[int, dict[str, Any]] | None = None, after: After | None = None,
        actor: Actor | None = None,
    ) -> list[dict[str, Any]]:
        """Record a model's tool calls and their results as messages, in one transaction:
        appends the assistant message carrying `tool_calls` (with its `reasoning`, if any),
        runs each call through the registry, and appends one `tool` message per call with
        its JSON result (so search results land at the end of the context, as in Sculptor).
        Returns the results. A malformed call is kept and answered with an error result, as
        a model expects. `answers` maps a call's index to a result given instead of running it
        (a loop brake's message); `after(request_event)` adds events after the request message.
        The events are the model's (`actor`, default a model's), a brake's own events the brake's."""
        if not tool_calls:
            raise WorkbenchError("run_model_tool_calls needs at least one tool call")
        state = self.state()
        calls = coerce_model_tool_calls(normalized_arguments(tool_calls), taken=_call_ids(state),
                                        suffix=state.next_message_id())

        def build(state: ContextState, summarizer):
            state = replay(before, state)
            request = new_message(state, "assistant", content, tool_calls=calls, reasoning=reasoning, extra=extra)
            following = list(after(request)) if after is not None else []
            events: list[Event] = [*before, request, *following]
            state = replay([request, *following], state)
            results = []
            for index, call in enumerate(request.tool_calls or []):
                function = call["function"]
                if answers and index in answers:  # answered by the brake, not run
                    result, tool_events = answers[index], []
                else:
                    outcome = registry.call(function["name"], function.get("arguments"),
                                            self._tool_context(state, summarizer, from_model=True))
                    result, tool_events, state = outcome.result, outcome.events, outcome.state
                answer = new_message(state, "tool", json.dumps(result, ensure_ascii=False), tool_call_id=call["id"])
                state = replay([answer], state)
                events += [*tool_events, answer]
                results.append(result)
            return results, events, state

        return self._commit(build, may_summarize=True, actor=actor or Actor.model())

    def record(self, events: Sequence[Event], actor: Actor | None = None) -> None:
        """Append events as they are, in one transaction (they must fit the current state)."""
        self._commit(lambda state, _summarizer: (None, list(events), replay(events, state)), actor=actor)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings (`model`, `api_base`, `temperature`, `max_tokens`, `window`, `tools`,
        `tool_choice`, `max_tool_calls`, `policy`, `send_reasoning`, `brakes`); records a
        `session_configured` event and returns the settings now in force.

        `policy` is None or a dict of `engine.policy.ContextPolicy` fields, such as
        `{"threshold": 6000, "keep_tool_results": 2, "summarize_turns": False}`. `brakes` is a
        dict of `engine.brakes.settings.DEFAULT_BRAKES` keys, laid over the brakes set before
        (None: back to the defaults)."""
        changes = normalized_arguments(changes)
        unknown = set(changes) - set(BACKEND_FIELDS) - set(LOOP_FIELDS)
        if unknown:
            raise WorkbenchError(f"unknown settings {sorted(unknown)}; a session takes "
                                 f"{', '.join(BACKEND_FIELDS + LOOP_FIELDS)}")
        state = self.state()
        explicit = dict(state.settings)  # only what was ever configured: defaults stay defaults
        backend_changes = {key: changes.pop(key) for key in BACKEND_FIELDS if key in changes}
        if isinstance(changes.get("brakes"), dict) and isinstance(explicit.get("brakes"), dict):
            changes["brakes"] = {**explicit["brakes"], **changes["brakes"]}  # change some brake settings, keep the rest
        explicit.update(changes)
        if backend_changes:  # setting a backend also makes it write the summaries
            explicit["backend"] = {**settings_of(state)["backend"], **backend_changes}
        validate_backend_changes(backend_changes)
        validate_settings({**DEFAULT_SETTINGS, **explicit})
        self.record([SessionConfigured(settings=explicit)])
        return self.settings

    def apply_policy(self, tools: str | None = None, window: int | None = None, stop: Any = None) -> list[dict[str, Any]]:
        """Carry out the session's context policy now, if it has one and the window figure
        (rendered context plus the schemas of the tool profile `tools`, default the
        session's) is over its threshold; returns the actions taken, each with its reason.
        The plan is made once, before the store is held; summaries are written then too.
        Inside the transaction each planned action runs through the registry: one that no
        longer fits (another process changed the fragment) fails alone, with its reason. `stop`
        (a turn's StopSignal) also ends a summary the model is writing."""
        state = self.state()  # a copy taken under the session's lock (state() refreshes first)
        settings = settings_of(state)
        policy = ContextPolicy.from_settings(settings.get("policy"))
        if policy is None:
            return []
        profile = tools or settings["tools"]
        figures = window_stats(state, {**settings, "tools": profile}, window, self.encoding)
        used = figures["rendered_tokens"] + figures["tool_schema_tokens"]
        actions = plan(state, policy, token_counter(self.encoding), used)
        if not actions:
            return []
        taken = [{"tool": tool, "arguments": arguments, "reason": reason} for tool, arguments, reason in actions]

        def build(state: ContextState, summarizer):
            events: list[Event] = [PolicyApplied(rendered_tokens=used, threshold=policy.threshold, actions=taken)]
            state = replay(events, state)
            for tool, arguments, _ in actions:
                outcome = registry.call(tool, arguments, self._tool_context(state, summarizer))
                events += outcome.events
                state = outcome.state
            return taken, events, state

        return self._commit(build, may_summarize=True, stop=stop, actor=Actor("policy"))

    # ---- copies ------------------------------------------------------------------------

    def fork(self, at: int | None = None, title: str | None = None) -> "Session":
        """A new session holding this one's first `at` events (all of them by default)."""
        with self._lock:
            self.refresh()
            at = self.last_seq if at is None else at
            if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= self.last_seq:
                raise WorkbenchError(f"cannot fork at {at!r}: choose an event number from 0 to {self.last_seq}")
            row = SessionRow.new(title or f"{self.title} (fork at {at})", forked_from=self.id, forked_at=at)
            state = self._log.state_at(at, self.id).copy()
            self._store.fork(self.id, at, row)
            # the fork starts from the state at `at` and reads its records from the store when wanted
            log = SessionLog.from_state(at, state, self._loader(self._store, row.id)) if at else None
            fork = Session(self._store, row, log=log)
            fork.actor = self.actor
            return fork

    def export(self, path: str | Path) -> Path:
        """Write this session as a workbench trace (canonical JSON lines); returns the path."""
        from sessions.formats.workbench_trace import write

        return write(Path(path), self.info(), self.records())


_LOOKS = {tool.__name__ for tool in READ_ONLY_TOOLS}


def _call_ids(state: ContextState) -> set[str]:
    return {call["id"] for message in state.messages for call in (message.tool_calls or ())}
