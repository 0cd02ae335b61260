"""`Session`: one conversation's public face, for the UI, the CLI, the LLM loop and tests.

A session keeps its events and their fold in memory and the events in the store. Every
change goes through `_commit`, which, inside one transaction, first picks up events other
processes appended, then computes the new events from the fresh state, then writes them.
So the CLI and the app can both change a session and neither works on a stale state, and
a turn's events land together or not at all.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from engine import ContextState, Event, WorkbenchError, new_message, registry, render, replay, stats
from engine.messages import coerce_model_tool_calls
from engine.summarize import Summarizer
from engine.tokens import DEFAULT_ENCODING
from engine.tools import ToolContext
from sessions.records import EventRecord, utc_now
from sessions.summaries import Precomputed, precompute_summaries

if TYPE_CHECKING:
    from sessions.store import SessionStore

_STATES_KEPT = 8
Build = Callable[[ContextState], tuple[Any, list[Event], ContextState]]


class Session:
    """A conversation: its events, the state they fold to, and the tools that change it."""

    def __init__(self, store: "SessionStore", row: dict[str, Any], records: list[EventRecord]) -> None:
        self._store = store
        self.id: str = row["id"]
        self.title: str = row["title"]
        self.created_at: datetime = row["created_at"]
        self.forked_from: str | None = row.get("forked_from")
        self.forked_at: int | None = row.get("forked_at")
        self.imported_from: str | None = row.get("imported_from")
        self.encoding = DEFAULT_ENCODING
        self.summarizer: Summarizer | None = None
        self._records = list(records)
        self._state = replay(record.event for record in self._records)
        self._states_at: OrderedDict[int, ContextState] = OrderedDict()
        self._lock = threading.RLock()  # one Session may serve several UI threads

    def __repr__(self) -> str:
        return f"<Session {self.id} {self.title!r}: {len(self._records)} events>"

    # ---- reading -------------------------------------------------------------------

    @property
    def last_seq(self) -> int:
        return self._records[-1].seq if self._records else 0

    def refresh(self) -> None:
        """Pick up events that another process appended since we last looked."""
        with self._lock, self._store.db.connect() as connection:
            self._catch_up(connection)

    def _catch_up(self, connection) -> None:
        newest = self._store.last_seq(connection, self.id)
        if newest > self.last_seq:
            fresh = self._store.load_records(connection, self.id, after=self.last_seq)
            self._state = replay((record.event for record in fresh), self._state)
            self._records.extend(fresh)

    def state(self, at: int | None = None) -> ContextState:
        """The context as it is now, or just after event `at` (0 means before any event)."""
        with self._lock:
            return self._state_at(at)

    def _state_at(self, at: int | None) -> ContextState:
        self.refresh()
        if at is None:
            return self._state
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= self.last_seq:
            raise WorkbenchError(
                f"no event {at!r}: session {self.id} has events 1 to {self.last_seq} (0 means before the first)"
            )
        if at == self.last_seq:
            return self._state
        cached = self._states_at.get(at)
        if cached is None:  # fold forward from the nearest earlier state we still hold
            start = max((seen for seen in self._states_at if seen < at), default=0)
            base = self._states_at.get(start)
            cached = replay((record.event for record in self._records[start:at]), base)
            self._states_at[at] = cached
            if len(self._states_at) > _STATES_KEPT:
                self._states_at.popitem(last=False)
        return cached

    def render(self, at: int | None = None) -> list[dict[str, Any]]:
        """The OpenAI-format messages a model sees now, or as it saw them after event `at`."""
        return render(self.state(at), self.encoding)

    def stats(self, at: int | None = None, tools: list[dict] | None = None, window: int | None = None) -> dict[str, Any]:
        """Token accounting of the rendered context (see `engine.render.stats`)."""
        return stats(self.state(at), self.encoding, tools=tools, window=window)

    def events(self) -> list[dict[str, Any]]:
        """Every event as `{"seq", "ts", "kind", "payload"}`, oldest first."""
        self.refresh()
        return [record.to_dict() for record in self._records]

    def records(self) -> list[EventRecord]:
        self.refresh()
        return list(self._records)

    def tail(self, count: int) -> list[EventRecord]:
        """The last `count` events (cheap on a long log, unlike `records()`)."""
        self.refresh()
        with self._lock:
            return self._records[-count:] if count > 0 else []

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at,
            "forked_from": self.forked_from,
            "forked_at": self.forked_at,
            "imported_from": self.imported_from,
        }

    # ---- changing ------------------------------------------------------------------

    def _commit(self, build: Build) -> Any:
        with self._lock:
            with self._store.db.transaction() as connection:
                self._catch_up(connection)
                value, events, state = build(self._state)
                now = utc_now()
                records = [EventRecord(self.last_seq + i + 1, now, event) for i, event in enumerate(events)]
                self._store.insert_records(connection, self.id, records)
            self._records.extend(records)  # only once the transaction has committed
            self._state = state
        return value

    def add_message(
        self,
        role: str,
        content: Any,
        *,
        name: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None,
        before: list[Event] = (),
    ) -> str:
        """Append a message; returns its id (`m1`, `m2`, ...). Roles: system, user, assistant, tool.

        `before`: events recorded just ahead of it in the same transaction (a model's
        `llm_called`).
        """

        def build(state: ContextState):
            state = replay(before, state)
            event = new_message(state, role, content, name=name, tool_calls=tool_calls, tool_call_id=tool_call_id)
            return event.message_id, [*before, event], replay([event], state)

        return self._commit(build)

    def _summarizer(self, state: ContextState) -> Summarizer | None:
        if self.summarizer is not None:
            return self.summarizer
        if state.settings.get("backend"):  # a backend is set: it writes the summaries
            from engine.llm import Backend
            from engine.model_summarizer import ModelSummarizer

            return ModelSummarizer(Backend(**state.settings["backend"]))
        return None

    def _precompute_summaries(self, calls: list[tuple[str, Any]]) -> dict[tuple[str, str], Any]:
        """Model-written summaries for the summarize_fragment calls among `calls`, written
        before the transaction opens, so a slow model never holds the database."""
        self.refresh()
        return precompute_summaries(self._state, self._summarizer(self._state), calls)

    def _tool_context(self, state: ContextState, cache: dict | None = None) -> ToolContext:
        summarizer = self._summarizer(state)
        if summarizer is not None and cache:
            summarizer = Precomputed(summarizer, cache)
        return ToolContext.for_state(state, self.encoding, summarizer)

    @staticmethod
    def _call_ids(state: ContextState) -> set[str]:
        return {call["id"] for message in state.messages for call in (message.tool_calls or ())}

    def call_tool(self, name: str, arguments: dict[str, Any] | str | None = None) -> dict[str, Any]:
        """Run a tool as a person or a program: it leaves events but adds no messages.

        Never raises for bad input: the result is then `{"error": ...}` and a `tool_failed`
        event is recorded.
        """

        cache = self._precompute_summaries([(name, arguments)])

        def build(state: ContextState):
            outcome = registry.call(name, arguments, self._tool_context(state, cache))
            return outcome.result, outcome.events, outcome.state

        return self._commit(build)

    def run_model_tool_calls(
        self, tool_calls: list[dict[str, Any]], content: str | None = None, before: list[Event] = ()
    ) -> list[dict[str, Any]]:
        """Record a model's tool calls and their results as messages, in one transaction.

        Appends the assistant message carrying `tool_calls`, runs each call through the
        registry, and appends one `tool` message per call with its JSON result (so search
        results land at the end of the context, as in Sculptor). Returns the results. A
        malformed call is kept and answered with an error result, as a model expects.
        """

        if not tool_calls:
            raise WorkbenchError("run_model_tool_calls needs at least one tool call")
        self.refresh()
        calls = coerce_model_tool_calls(tool_calls, taken=self._call_ids(self._state),
                                        suffix=self._state.next_message_id())
        cache = self._precompute_summaries([(c["function"]["name"], c["function"]["arguments"]) for c in calls])

        def build(state: ContextState):
            state = replay(before, state)
            request = new_message(state, "assistant", content, tool_calls=calls)
            events: list[Event] = [*before, request]
            state = replay([request], state)
            results = []
            for call in request.tool_calls or []:
                function = call["function"]
                outcome = registry.call(function["name"], function.get("arguments"), self._tool_context(state, cache))
                answer = new_message(
                    outcome.state, "tool", json.dumps(outcome.result, ensure_ascii=False), tool_call_id=call["id"]
                )
                state = replay([answer], outcome.state)
                events += [*outcome.events, answer]
                results.append(outcome.result)
            return results, events, state

        return self._commit(build)

    def record(self, events: list[Event]) -> None:
        """Append events as they are, in one transaction (they must fit the current state)."""
        self._commit(lambda state: (None, list(events), replay(events, state)))

    # ---- talking to a model ---------------------------------------------------------

    @property
    def settings(self) -> dict[str, Any]:
        """Backend (never a key), tool profile, tool_choice, tool budget: the defaults plus what was configured."""
        from sessions.turns import settings_of

        return settings_of(self)

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change settings (`model`, `api_base`, `temperature`, `max_tokens`, `window`, `tools`,
        `tool_choice`, `max_tool_calls`, `policy`); records a `session_configured` event.

        `policy` is None or a dict of `engine.policy.ContextPolicy` fields, such as
        `{"threshold": 6000, "keep_tool_results": 2, "summarize_turns": False}`."""
        from engine.events import SessionConfigured
        from sessions.turns import validate_settings

        explicit = dict(self.state().settings)  # only what was ever configured: defaults stay defaults
        backend_changes = {key: changes.pop(key) for key in ("model", "api_base", "temperature", "max_tokens", "window")
                           if key in changes}
        unknown = set(changes) - {"tools", "tool_choice", "max_tool_calls", "policy"}
        if unknown:
            raise WorkbenchError(f"unknown settings {sorted(unknown)}; see Session.configure")
        explicit.update(changes)
        if backend_changes:  # setting a backend also makes it write the summaries
            explicit["backend"] = {**self.settings["backend"], **backend_changes}
        from sessions.turns import DEFAULT_SETTINGS

        validate_settings({**DEFAULT_SETTINGS, **explicit})
        self.record([SessionConfigured(settings=explicit)])
        return self.settings

    def apply_policy(self, tools: str | None = None) -> list[dict[str, Any]]:
        """Carry out the session's context policy now, if it has one and the context is over
        its threshold; returns the actions taken (each with its reason). `tools` is the tool
        profile whose schemas count toward the window (default: the session's)."""
        from engine.events import PolicyApplied
        from engine.policy import ContextPolicy, plan
        from engine.tokens import token_counter
        from engine.tools import tool_schemas

        settings = self.settings
        policy = ContextPolicy.from_settings(settings.get("policy"))
        if policy is None:
            return []
        profile = tools or settings["tools"]
        planned = plan(self.state(), policy, token_counter(self.encoding), 0, self.encoding)
        cache = self._precompute_summaries([(tool, arguments) for tool, arguments, _ in planned])

        def build(state: ContextState):
            schemas = tool_schemas(profile)
            counter = token_counter(self.encoding)
            schema_tokens = counter.count(json.dumps(schemas, sort_keys=True)) if schemas else 0
            actions = plan(state, policy, counter, schema_tokens, self.encoding)
            if not actions:
                return [], [], state
            before = stats(state, self.encoding)["rendered_tokens"] + schema_tokens
            taken = [{"tool": tool, "arguments": arguments, "reason": reason} for tool, arguments, reason in actions]
            events: list[Event] = [PolicyApplied(rendered_tokens=before, threshold=policy.threshold, actions=taken)]
            state = replay(events, state)
            for tool, arguments, _ in actions:
                outcome = registry.call(tool, arguments, self._tool_context(state, cache))
                events += outcome.events
                state = outcome.state
            return taken, events, state

        return self._commit(build)

    def run_turn(
        self,
        text: str,
        model: str | None = None,
        tools: str | None = None,
        tool_choice: str | None = None,
        max_tool_calls: int | None = None,
        *,
        api_base: str | None = None,
        hooks: Any = None,
    ) -> dict[str, Any]:
        """One turn of the agent loop: returns `reply`, `tool_calls`, `usage` (and `error` on failure).

        None means the session's setting: its backend (by default the embedded model), the
        "sculptor" tool profile, tool_choice "auto", a budget of 20 tool calls.
        """
        from sessions.turns import run_turn

        return run_turn(self, text, model=model, api_base=api_base, tools=tools, tool_choice=tool_choice,
                        max_tool_calls=max_tool_calls, hooks=hooks)

    def retry_turn(self, **options: Any) -> dict[str, Any]:
        """Ask the model again after a failed call, without adding a new user message."""
        from sessions.turns import run_turn

        messages = self.state().messages
        if not messages or messages[-1].role not in ("user", "tool"):
            raise WorkbenchError("nothing to retry: the last message already has an answer (or there are no messages)")
        return run_turn(self, None, **options)

    # ---- copies ----------------------------------------------------------------------

    def fork(self, at: int | None = None, title: str | None = None) -> "Session":
        """A new session holding this one's first `at` events (all of them by default)."""
        self.refresh()
        at = self.last_seq if at is None else at
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= self.last_seq:
            raise WorkbenchError(f"cannot fork at {at!r}: choose an event number from 0 to {self.last_seq}")
        return self._store.create_session(
            title or f"{self.title} (fork at {at})",
            records=self._records[:at],
            forked_from=self.id,
            forked_at=at,
        )

    def export(self, path: str | Path) -> Path:
        """Write this session as a workbench trace (canonical JSON lines); returns the path."""
        from sessions.traces import write_trace

        self.refresh()
        return write_trace(Path(path), self.info(), self._records)

