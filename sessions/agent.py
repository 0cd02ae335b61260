"""The agent loop: a model reads the rendered context, calls tools, and answers.

For one user message: render the context, call the model with the registry's tool schemas
(the session's tool profile), run each tool call through the registry, append the call and
result messages, and repeat until the model answers without a tool call or the per-turn
tool budget runs out (then it is asked once more, with no tools, for its answer). Each step
is one transaction: the `llm_called` event, the model's message (its reasoning kept as its
own part) and, for tool calls, the tool events and result messages land together. A failed
call records `llm_failed`; the person's message is kept, and `retry_turn` asks again.

One observer hears every delta of every model call (text, reasoning, tool-call pieces:
`engine.streaming`), and one `StopSignal` ends the turn: a person's Stop, a page left
mid-turn, Ctrl-C in the CLI, or a brake. A stopped call still records `llm_called` (finish
reason `stopped`, its reason, the usage so far, its latency) and keeps the partial reply as
an assistant message marked stopped. `Turn` runs a turn in a worker thread so a UI or a
terminal can show the deltas and stop it while it runs.

The loop depends on `Session`; the session knows nothing of it. Replay never calls a model:
everything a model said is in the log.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from engine.actors import Actor
from engine.errors import WorkbenchError
from engine.events import LLMCalled, LLMFailed
from engine.llm import Completion, LLMError, complete
from engine.settings import TOOL_CHOICES, Backend, sends_reasoning, settings_of, validate_settings
from engine.streaming import Delta, Observer, StopSignal, as_callback, stop_reason
from engine.tokens import token_counter
from engine.tools import tool_schemas
from sessions.braking import BRAKE_FINISH, EitherStop, LoopGuard, braked, chain_after, finish_after_brake, observed, watch_call
from sessions.session import Session

StepCallback = Callable[[dict[str, Any]], None]


def _backend(settings: dict[str, Any], model: str | None, api_base: str | None) -> Backend:
    backend = Backend.from_config(settings["backend"])
    if model is not None and model != backend.model:
        backend = Backend(model=model, api_base=api_base, temperature=backend.temperature, max_tokens=backend.max_tokens)
    elif api_base is not None:
        backend = Backend(**{**backend.as_config(), "api_base": api_base})
    return backend


def _llm_called(completion: Completion, step: int, purpose: str | None = None) -> LLMCalled:
    return LLMCalled(model=completion.model, usage=completion.usage, latency_ms=round(completion.latency_ms, 1),
                     finish_reason=completion.finish_reason, tool_calls=len(completion.tool_calls), step=step,
                     stop_reason=completion.stop_reason, purpose=purpose)


def run_turn(
    session: Session,
    text: str | None,
    *,
    model: str | None = None,
    api_base: str | None = None,
    tools: str | None = None,
    tool_choice: str | None = None,
    max_tool_calls: int | None = None,
    observer: Observer | None = None,
    stop: StopSignal | threading.Event | None = None,
    on_step: StepCallback | None = None,
) -> dict[str, Any]:
    """One turn of the agent loop: returns `reply`, `reasoning`, `tool_calls`, `usage`, `steps`,
    `stopped` (and `error`, `error_kind` on failure). `text=None` asks again after the last
    message (see `retry_turn`).

    None means the session's setting: its backend (by default the embedded model), the
    "sculptor" tool profile, tool_choice "auto", a budget of 20 tool calls.
    """
    overrides = {"tools": tools, "tool_choice": tool_choice, "max_tool_calls": max_tool_calls}
    settings = validate_settings({**session.settings, **{k: v for k, v in overrides.items() if v is not None}})
    backend = _backend(settings, model, api_base)
    if text is not None:
        session.add_message("user", text)
    calls_made: list[dict[str, Any]] = []
    totals = {"prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0}
    counter = token_counter(session.encoding)
    loops = LoopGuard(session.settings)
    step = 0
    while True:
        step += 1
        budget_left = settings["max_tool_calls"] - len(calls_made)
        if settings.get("policy"):
            session.apply_policy(tools=settings["tools"], stop=stop)  # before every model call: results grow within a turn
        if stop is not None and stop.is_set():
            return {"reply": None, "stopped": True, "stop_reason": stop_reason(stop), "tool_calls": calls_made,
                    "usage": totals, "steps": step - 1}
        choice = settings["tool_choice"]
        schemas = tool_schemas(settings["tools"])
        can_call = bool(schemas) and budget_left > 0 and choice != "none" and not loops.withdrawn
        if choice not in TOOL_CHOICES:  # a tool's name: force that tool
            choice = {"type": "function", "function": {"name": choice}}
        if choice != "auto" and step > 1:
            choice = "auto"  # Sculptor's zero-shot runs forced a tool on the first step only
        messages = session.render(include_reasoning=sends_reasoning(settings_of(session.state())))
        # Once tools were used, some APIs want the schemas sent on every call: send them with "none".
        used_tools = any(m.get("tool_calls") for m in messages)
        offered = schemas if can_call or used_tools else []
        watch, heard = watch_call(session.settings, counter, observer, backend, messages)  # the brakes set now
        try:
            completion = complete(backend, messages, tools=offered or None,
                                  tool_choice=(choice if can_call else "none") if offered else None,
                                  observer=heard if watch.detectors else observer,
                                  stop=EitherStop(stop, watch) if watch.detectors else stop)
        except LLMError as exc:
            session.record([LLMFailed(model=backend.model, error_kind=exc.kind, error=exc.message, retryable=exc.retryable)],
                           actor=Actor.model(backend.model))
            return {"reply": None, "error": exc.message, "error_kind": exc.kind, "tool_calls": calls_made,
                    "usage": totals, "steps": step, "stopped": False}
        for key in totals:
            totals[key] += completion.usage.get(key, 0)
        extra = {"thinking_blocks": completion.thinking_blocks} if completion.thinking_blocks else None
        if braked(completion, watch, stop):
            done = finish_after_brake(backend, messages, completion, watch, observer, stop, tools=schemas if can_call else None)
            finish = done.finish
            if finish is None or not finish.tool_calls or not can_call or finish.stopped:
                return _finish_braked(session, backend, completion, done, step, totals, calls_made)
            for key in totals:  # the model answered the brake with a tool call: run it and go on
                totals[key] += finish.usage.get(key, 0)
            _run_calls(session, loops, finish.tool_calls[:budget_left], calls_made, on_step, done.after,
                       actor=Actor.model(backend.model), content=finish.content, reasoning=done.reasoning,
                       before=[_llm_called(completion, step), _llm_called(finish, step, purpose=BRAKE_FINISH)])
            continue
        noted = observed(watch, completion, counter)
        if completion.tool_calls and can_call and not completion.stopped:
            _run_calls(session, loops, completion.tool_calls[:budget_left], calls_made, on_step, noted,
                       actor=Actor.model(backend.model), content=completion.content, reasoning=completion.reasoning, extra=extra,
                       before=[_llm_called(completion, step)])
            continue
        reply = completion.content or ""
        session.add_message("assistant", reply, reasoning=completion.reasoning, stopped=completion.stopped,
                            extra=extra, before=[_llm_called(completion, step)], after=noted,
                            actor=Actor.model(backend.model))
        return {"reply": reply, "reasoning": completion.reasoning, "tool_calls": calls_made, "usage": totals,
                "steps": step, "stopped": completion.stopped, "stop_reason": completion.stop_reason,
                "model": backend.model}


def _run_calls(session: Session, loops: LoopGuard, calls: list[dict[str, Any]], calls_made: list[dict[str, Any]],
               on_step: StepCallback | None, after: Any, **message: Any) -> None:
    """A model's tool calls, screened for loops first, run and recorded with their message."""
    loops.settings = session.settings
    answers, looped = loops.screen(calls)
    results = session.run_model_tool_calls(calls, answers=answers, after=chain_after(after, looped), **message)
    for call, result in zip(calls, results):
        record = {"name": call["function"]["name"], "arguments": call["function"]["arguments"], "result": result}
        calls_made.append(record)
        if on_step:
            on_step(record)


def _finish_braked(session: Session, backend: Backend, completion: Completion, done: Any, step: int,
                   totals: dict[str, int], calls_made: list[dict[str, Any]]) -> dict[str, Any]:
    """A brake cut the reasoning and the model answered briefly: one message and the brake's event record it."""
    before = [_llm_called(completion, step)]
    if done.finish is not None:
        before.append(_llm_called(done.finish, step, purpose=BRAKE_FINISH))
        for key in totals:
            totals[key] += done.finish.usage.get(key, 0)
    stopped = done.finish is None or done.finish.stopped or not done.content.strip()  # empty: offer Retry
    extra = {"answer": "taken from the reasoning: the model wrote none after the brake"} if done.answer_from_reasoning \
        and done.content else None
    session.add_message("assistant", done.content, reasoning=done.reasoning, stopped=stopped, before=before,
                        after=done.after, extra=extra, actor=Actor.model(backend.model))
    outcome = {"reply": done.content, "reasoning": done.reasoning, "tool_calls": calls_made, "usage": totals,
               "steps": step, "stopped": stopped, "braked": done.detector, "model": backend.model,
               "stop_reason": done.finish.stop_reason if done.finish is not None else completion.stop_reason}
    if done.error is not None:
        session.record([LLMFailed(model=backend.model, error_kind=done.error.kind, error=done.error.message,
                                  retryable=done.error.retryable)], actor=Actor.model(backend.model))
        outcome.update(error=done.error.message, error_kind=done.error.kind)
    return outcome


def retry_turn(session: Session, text: None = None, **options: Any) -> dict[str, Any]:
    """Ask the model again after a failed or stopped call, without adding a new user message."""
    messages = session.state().messages
    if not messages or (messages[-1].role not in ("user", "tool") and not messages[-1].stopped):
        raise WorkbenchError("nothing to retry: the last message already has an answer (or there are no messages)")
    return run_turn(session, None, **options)


# ---- a turn in the background -----------------------------------------------------------


@dataclass(frozen=True)
class StepDone:
    """A tool call of the turn finished: its name, arguments and result."""

    call: dict[str, Any]


@dataclass(eq=False)  # a turn is itself, not equal to another with the same fields
class Turn:
    """A turn running in a worker thread: `updates()` yields its deltas and finished tool calls
    as they come; `stop(reason)` ends it; `result` (or `error`) once it is done.

    The worker writes the turn's events itself, so whoever started it may go away (a page
    rerun, a closed tab): a stopped turn still records what it got."""

    session: Session
    text: str | None
    options: dict[str, Any] = field(default_factory=dict)
    signal: StopSignal = field(default_factory=StopSignal)
    result: dict[str, Any] | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._updates: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"turn-{self.session.id}", daemon=True)

    def start(self) -> "Turn":
        _running.add(self)
        self._thread.start()
        return self

    def _run(self) -> None:
        tell = as_callback(self.options.pop("observer")) if self.options.get("observer") else None

        def observe(delta: Delta) -> None:
            self._updates.put(delta)
            if tell is not None:
                tell(delta)

        run = run_turn if self.text is not None else retry_turn  # no text: ask again after the last message
        try:
            self.result = run(self.session, self.text, observer=observe, stop=self.signal,
                              on_step=lambda call: self._updates.put(StepDone(call)), **self.options)
        except BaseException as exc:  # handed to whoever waits; a worker thread has nowhere else to put it
            self.error = exc
        finally:
            self._updates.put(None)

    @property
    def done(self) -> bool:
        """True once the turn has run and ended (a turn not started yet is not done)."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def stop(self, reason: str) -> None:
        self.signal.set(reason)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the turn to end; True if it has."""
        self._thread.join(timeout)
        return self.done

    def updates(self, heartbeat: float = 0.25) -> Iterator[Delta | StepDone | None]:
        """Deltas and finished steps in order; None every `heartbeat` seconds without news
        (a UI redraws its clock then, which is also when a Streamlit rerun can interrupt it)."""
        while True:
            try:
                update = self._updates.get(timeout=heartbeat)
            except queue.Empty:
                yield None
                continue
            if update is None:
                return
            yield update

    def outcome(self) -> dict[str, Any]:
        """The turn's result; re-raises what the worker raised."""
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise WorkbenchError("the turn has not finished")
        return self.result


_running: "weakref.WeakSet[Turn]" = weakref.WeakSet()
EXIT_WAIT_SECONDS = 30.0


def _stop_turns_at_exit() -> None:
    # A worker killed mid-call at exit would be unwound inside C++ (DuckDB, llama.cpp) and abort
    # the process; stop each running turn instead, so it records what it got and ends cleanly.
    for turn in list(_running):
        if not turn.done:
            turn.stop("the process is exiting")
    for turn in list(_running):
        turn.join(EXIT_WAIT_SECONDS)


# Run at the start of interpreter shutdown, before the thread pools litellm streams through are
# shut down (those run as threading atexit hooks too, and later-registered ones run first);
# a plain atexit hook would come too late, and the stopped call would be recorded as a failure.
getattr(threading, "_register_atexit", atexit.register)(_stop_turns_at_exit)


__all__ = ["StepDone", "Turn", "retry_turn", "run_turn"]
