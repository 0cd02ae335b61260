"""The one door to language models: every call goes through `litellm.completion` here.

No other module imports litellm (a test checks). A backend is a litellm model string plus
an optional `api_base` and options; the model string picks the provider (`gpt-4.1`,
`anthropic/claude-sonnet-4-5`, `ollama_chat/qwen3`, `openai/<name>` with an `api_base` for
vLLM or a llama.cpp server, ...). Keys come from the environment only (litellm reads
`OPENAI_API_KEY` and friends itself); nothing here stores or returns one.

Two providers of our own are registered with litellm, so they take the same code path as
every remote backend:
- `embedded/smollm2-135m-instruct`: SmolLM2-135M, in-process (see `engine.local_model`);
- `scripted/<name>`: replies queued in advance (see `engine.scripted_model`), for tests.

Streaming (the types live in `engine.streaming`, which never imports litellm):

    stop = StopSignal()

    def watch(delta: Delta) -> None:        # or an object with on_delta(delta)
        if isinstance(delta, ReasoningDelta) and too_long(delta):
            stop.set("overthinking")        # any thread may set it; the reason is kept

    result = complete(backend, messages, observer=watch, stop=stop)
    result.content, result.reasoning, result.stopped, result.stop_reason, result.usage

`complete(..., observer=, stop=, stream=)` hears `TextDelta`, `ReasoningDelta` and
`ToolCallDelta` whatever the backend: reasoning from litellm's `reasoning_content` (and
Anthropic's `thinking_blocks`) or from `<think>` tags in the text, which never reach
`content`. It streams when anyone listens or may stop it (`stream=` decides otherwise); a
whole reply is told to the observer too, reasoning then text then tool calls, so one
observer serves both. A stopped call keeps its partial text and reasoning, drops its
unfinished tool calls, says `finish_reason="stopped"` and counts the usage it can.
`on_token=` (text only) and a plain `threading.Event` as `stop=` still work.

litellm is made offline-safe before it is imported: it must not fetch its cost map.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from engine.errors import WorkbenchError
from engine.settings import EMBEDDED_MODEL, KNOWN_MODELS, TOOL_CHOICES, Backend
from engine.windows import model_windows, window_of  # re-exported: the one table of windows
from engine.streaming import (Completion, Delta, Observer, ObserverError, ReasoningDelta, StopSignal,
                              StreamAssembler, StreamObserver, TextDelta, ToolCallDelta, combine, message_pieces,
                              stop_reason, usage_of)
from engine.tokens import ensure_offline_tokenizer_files

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ensure_offline_tokenizer_files()

import litellm  # noqa: E402  (after the offline settings above)
from litellm import CustomLLM, ModelResponse  # noqa: E402
from litellm.types.utils import Delta as _ChunkDelta, ModelResponseStream, StreamingChoices  # noqa: E402

from engine import local_model, scripted_model  # noqa: E402

litellm.suppress_debug_info = True


@dataclass
class LLMError(WorkbenchError):
    """A backend call that failed; `kind` says why in one word, `message` what to do."""

    kind: str
    message: str
    model: str = ""
    retryable: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


# ---- our providers ------------------------------------------------------------------------


def _response(model: str, message: dict[str, Any], usage: dict[str, int] | None = None) -> ModelResponse:
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return ModelResponse(model=model, choices=[{"index": 0, "finish_reason": finish, "message": message}], usage=usage)


def _stream(pieces) -> Iterator[ModelResponseStream]:
    """Delta dicts as litellm stream chunks: a custom provider's ModelResponseStream passes through
    litellm unchanged, reasoning_content included (its generic chunk dict has no place for it)."""
    for piece in pieces:
        delta = {key: value for key, value in piece.items() if key not in ("finish_reason", "usage")}
        chunk = ModelResponseStream(choices=[StreamingChoices(index=0, delta=_ChunkDelta(**delta),
                                                              finish_reason=piece.get("finish_reason"))])
        if piece.get("usage"):
            chunk.usage = litellm.Usage(**piece["usage"])
        yield chunk


class _ProviderError(Exception):
    """A failure inside our own providers, marked so `classify` can tell it from a network error."""


def _marked(call):
    try:
        return call()
    except RuntimeError as exc:
        raise _ProviderError(f"{_PROVIDER_MARK} {exc}") from None


def _marked_iter(pieces):
    try:
        yield from pieces
    except RuntimeError as exc:
        raise _ProviderError(f"{_PROVIDER_MARK} {exc}") from None


class _ScriptedProvider(CustomLLM):
    def _reply(self, model: str, messages: list, optional_params: dict) -> dict[str, Any]:
        request = {"messages": messages, "tools": optional_params.get("tools"), "tool_choice": optional_params.get("tool_choice")}
        return _marked(lambda: scripted_model.next_reply(model, request))

    def completion(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                   api_key, logging_obj, optional_params, *args, **kwargs):
        message = self._reply(model, messages, optional_params)
        message.pop("pacing", None)
        return _response(model, message, message.pop("usage", None))

    def streaming(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                  api_key, logging_obj, optional_params, *args, **kwargs):
        message = self._reply(model, messages, optional_params)
        pacing = message.pop("pacing", None) or {}
        pieces = message_pieces(message, pacing.get("chunk_size", 12), pacing.get("chunks"))
        yield from _stream(_marked_iter(scripted_model.paced(pieces, pacing)))


class _EmbeddedProvider(CustomLLM):
    def completion(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                   api_key, logging_obj, optional_params, *args, **kwargs):
        result = _marked(lambda: local_model.chat(messages, **local_model.litellm_options(optional_params)))
        return ModelResponse(**result)

    def streaming(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                  api_key, logging_obj, optional_params, *args, **kwargs):
        options = local_model.litellm_options(optional_params)
        if isinstance(options.get("tool_choice"), dict):  # a forced call comes whole (a grammar), not token by token
            message = _marked(lambda: local_model.chat(messages, **options))["choices"][0]["message"]
            yield from _stream(message_pieces({"content": message.get("content"), "tool_calls": message.get("tool_calls")}))
            return
        chunks = _marked(lambda: local_model.chat(messages, stream=True, **options))
        try:
            yield from _stream({"content": chunk["choices"][0]["delta"].get("content") or "",
                                "finish_reason": chunk["choices"][0].get("finish_reason")} for chunk in chunks)
        finally:
            chunks.close()  # an abandoned stream releases the model now


_registered = threading.Lock()
_done = False


def _register() -> None:
    global _done
    with _registered:
        if _done:
            return
        providers = [p for p in (litellm.custom_provider_map or []) if p["provider"] not in ("embedded", "scripted")]
        litellm.custom_provider_map = providers + [
            {"provider": "embedded", "custom_handler": _EmbeddedProvider()},
            {"provider": "scripted", "custom_handler": _ScriptedProvider()},
        ]
        litellm.register_model({EMBEDDED_MODEL: {"litellm_provider": "embedded", "mode": "chat",
                                                 "supports_function_calling": True,
                                                 "max_input_tokens": local_model.EMBEDDED_WINDOW}})
        _done = True


# ---- calling ------------------------------------------------------------------------------


_PROVIDER_MARK = "[workbench provider]"
_NO_TOOLS_PHRASES = ("does not support tools", "does not support function", "tools are not supported",
                     "tool use is not supported", "tool_choice", "tools param", "function calling", "--jinja")
_ERROR_KINDS: list[tuple[type, str, str, bool]] = [
    (litellm.AuthenticationError, "auth", "the backend refused the API key: set the provider's key "
     "(such as OPENAI_API_KEY or ANTHROPIC_API_KEY) in the environment and retry", False),
    (litellm.PermissionDeniedError, "auth", "the key may not use this model", False),
    (litellm.RateLimitError, "rate_limit", "rate limited by the backend: wait a moment and retry", True),
    (litellm.ContextWindowExceededError, "context_overflow", "the context is longer than this model's "
     "window: fold or summarize fragments (or set a context policy) and retry", True),
    (litellm.NotFoundError, "unknown_model", "the backend does not know this model: check its name", False),
    (litellm.Timeout, "timeout", "the backend did not answer in time: retry, or check the server", True),
    (litellm.APIConnectionError, "unreachable", "cannot reach the backend: check the network or api_base and retry", True),
    (litellm.ServiceUnavailableError, "unreachable", "the backend is unavailable: retry later", True),
    (litellm.InternalServerError, "unreachable", "the backend failed (or could not be reached): retry later", True),
    (litellm.BadRequestError, "bad_request", "the backend rejected the request", False),
]


_SECRET_NAMES = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)
_SECRET_SHAPES = re.compile(r"(Bearer\s+\S+|sk-[\w-]{8,}|key-[\w-]{8,})")


def redact(text: str) -> str:
    """`text` with anything that looks like a credential replaced: never store what a backend echoes."""
    for name, value in os.environ.items():
        if len(value) >= 8 and _SECRET_NAMES.search(name) and value in text:
            text = text.replace(value, "[redacted]")
    return _SECRET_SHAPES.sub("[redacted]", text)


def classify(exc: Exception, model: str) -> LLMError:
    original = getattr(exc, "original_exception", None)  # streaming wraps the provider's error
    if isinstance(original, Exception) and original is not exc:
        return classify(original, model)
    text = redact(" ".join(str(exc).split("Traceback (most recent call last)")[0].split())[:400])
    lowered = text.lower()
    if _PROVIDER_MARK in text:  # our own providers: the embedded model missing, a script run dry
        return LLMError("backend_error", f"{model}: {text.split(_PROVIDER_MARK, 1)[1].strip()}", model, False)
    if isinstance(exc, litellm.ContextWindowExceededError):
        return LLMError("context_overflow", f"{model}: the context is longer than this model's window: fold or "
                        f"summarize fragments (or set a context policy) and retry. Backend said: {text}", model, True)
    if "missing credentials" in lowered or "api_key" in lowered and "environment variable" in lowered:
        return LLMError("auth", f"{model}: no API key: set the provider's key (such as OPENAI_API_KEY) in the "
                        "environment and retry", model, False)
    if "context window" in lowered or "context length" in lowered or "maximum context" in lowered:
        return LLMError("context_overflow", f"{model}: the context is longer than this model's window: fold or "
                        f"summarize fragments (or set a context policy) and retry. Backend said: {text}", model, True)
    if "llm provider not provided" in lowered or "provider list" in lowered:
        return LLMError("unknown_model", f"litellm does not know the model {model!r}: prefix its provider, such as "
                        "openai/..., anthropic/... or ollama_chat/...", model, False)
    if isinstance(exc, litellm.BadRequestError) and any(phrase in lowered for phrase in _NO_TOOLS_PHRASES):
        return LLMError("no_tool_support", f"{model} refused the tools (it may not support tool calls): "
                        f"choose the tool profile 'none' or another model. Backend said: {text}", model, False)
    for error_type, kind, advice, retryable in _ERROR_KINDS:
        if isinstance(exc, error_type):
            return LLMError(kind, f"{model}: {advice}. Backend said: {text}", model, retryable)
    return LLMError("error", f"{model} failed: {type(exc).__name__}: {text}", model, True)


def _call_arguments(backend: Backend, messages: list[dict], tools, tool_choice) -> dict[str, Any]:
    local = backend.model == EMBEDDED_MODEL or bool(backend.api_base)
    if local:
        messages = local_model.for_template(messages, spell_out_calls=backend.model == EMBEDDED_MODEL)
    arguments: dict[str, Any] = {"model": backend.model, "messages": messages, "temperature": backend.temperature,
                                 "max_tokens": backend.max_tokens, "num_retries": 0}
    if backend.api_base:
        arguments["api_base"] = backend.api_base
        if backend.model.startswith("openai/"):
            # An OpenAI-compatible server is not OpenAI: never send it OPENAI_API_KEY. Its own key, if it
            # needs one, comes from OPENAI_COMPATIBLE_API_KEY; local servers ignore the placeholder.
            arguments["api_key"] = os.environ.get("OPENAI_COMPATIBLE_API_KEY") or "no-key-needed"
    if tools:
        arguments["tools"] = tools
        if tool_choice:
            arguments["tool_choice"] = tool_choice
    return arguments


def _count(backend: Backend, text: str | None = None, **what: Any) -> int:
    if not text and not what.get("messages"):
        return 0
    try:
        return litellm.token_counter(model=backend.model, text=text, **what)
    except Exception:  # a tokenizer that cannot load: no count rather than no answer
        return 0


def _usage(reported: Any, backend: Backend, messages: list[dict], tools: list | None, parts: StreamAssembler,
           calls: list[dict[str, Any]]) -> dict[str, int]:
    def prompt() -> int:
        return _count(backend, messages=messages, tools=tools) if tools else _count(backend, messages=messages)

    return usage_of(reported, parts, calls, prompt, lambda text: _count(backend, text))


def _reported_usage(chunk: Any) -> Any:
    """A stream chunk's usage: on the chunk, or where litellm files the total on its last chunk."""
    usage = getattr(chunk, "usage", None) or (getattr(chunk, "_hidden_params", None) or {}).get("usage")
    return usage if getattr(usage, "total_tokens", 0) or getattr(usage, "prompt_tokens", 0) else None


def _streamed(arguments: dict[str, Any], parts: StreamAssembler, stop: threading.Event | None) -> tuple[str | None, Any, bool]:
    """Run one stream into `parts`, checking `stop` after each chunk: (finish_reason, usage, stopped)."""
    finish, usage, stopped = None, None, False
    stream = iter(litellm.completion(stream=True, **arguments))
    try:
        for chunk in stream:
            if chunk.choices:
                if chunk.choices[0].delta is not None:
                    parts.add_delta(chunk.choices[0].delta)
                finish = chunk.choices[0].finish_reason or finish
            usage = _reported_usage(chunk) or usage
            if stop is not None and stop.is_set():
                stopped = True
                break
    finally:
        getattr(stream, "close", lambda: None)()  # an abandoned stream releases its model now
    parts.finish()  # text held back in case it began a tag is text after all, even when stopped
    return finish, usage, stopped


def _whole(arguments: dict[str, Any], parts: StreamAssembler) -> tuple[str | None, Any]:
    """One unstreamed call, told to `parts` as reasoning, then text, then tool calls."""
    response = litellm.completion(**arguments)
    choice = response.choices[0]
    message = choice.message
    calls = [dict(call) if isinstance(call, dict) else call.model_dump() for call in getattr(message, "tool_calls", None) or []]
    for index, call in enumerate(calls):
        call["index"] = index
    parts.add_delta({"reasoning_content": getattr(message, "reasoning_content", None), "content": message.content,
                     "thinking_blocks": getattr(message, "thinking_blocks", None), "tool_calls": calls})
    parts.finish()
    return choice.finish_reason, getattr(response, "usage", None)


def complete(
    backend: Backend,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | dict | None = None,
    observer: Observer | None = None,
    stop: threading.Event | None = None,
    stream: bool | None = None,
    on_token: Callable[[str], None] | None = None,
) -> Completion:
    """One model call; see the module doc for streaming, observers and stopping.

    `observer` hears every delta (streamed or not); `stop` (a `StopSignal`, or any
    `threading.Event`) ends the stream after the chunk in flight; `stream` defaults to true
    when an observer, `on_token` or `stop` is given. `on_token(text)` is the older, text-only
    observer. Raises LLMError (with a `kind` such as auth, unreachable, context_overflow) on
    failure, and ObserverError when the observer itself raised.
    """
    _register()
    arguments = _call_arguments(backend, messages, tools, tool_choice)
    parts = StreamAssembler(combine(observer, on_token), starts_inside=backend.starts_in_reasoning)
    streaming = stream if stream is not None else bool(observer is not None or on_token or stop is not None)
    started = time.perf_counter()
    try:
        if streaming:
            finish, reported, stopped = _streamed(arguments, parts, stop)
        else:
            (finish, reported), stopped = _whole(arguments, parts), stop is not None and stop.is_set()
    except (LLMError, ObserverError):
        raise
    except Exception as exc:  # litellm maps provider errors onto its own classes; sort them
        raise classify(exc, backend.model) from None
    latency_ms = (time.perf_counter() - started) * 1000
    calls = [] if stopped else parts.tool_calls
    return Completion(
        content=parts.text if parts.text or not calls else None,
        tool_calls=calls,
        finish_reason="stopped" if stopped else finish or ("tool_calls" if calls else "stop"),
        usage=_usage(reported, backend, messages, tools, parts, calls),
        latency_ms=latency_ms,
        model=backend.model,
        stopped=stopped,
        reasoning=parts.reasoning,
        stop_reason=stop_reason(stop) if stopped and stop is not None else None,
        thinking_blocks=None if stopped else parts.thinking_blocks,  # a cut block has no valid signature
    )


TRIAL_TIMEOUT_S = 20.0  # a server busy with the stream the trial forks from must not hold the turn


def trial_logprobs(backend: Backend, messages: list[dict[str, Any]], prefill: str,
                   max_tokens: int = 20) -> list[dict[str, Any]] | None:
    """DEER's trial answer: a short unstreamed call continuing `prefill` (reasoning so far and the
    answer inducer); its tokens with their log-probabilities, up to the brace closing `\\boxed{`
    (DEER stops there, algorithms.md §1.4; OpenAI takes only four stop strings). None when the
    backend gives none or the call fails: the detector stays quiet."""
    _register()
    short = Backend(model=backend.model, api_base=backend.api_base, temperature=0.0, max_tokens=max_tokens)
    arguments = _call_arguments(short, [*messages, {"role": "assistant", "content": prefill}], None, None)
    arguments.update(logprobs=True, timeout=TRIAL_TIMEOUT_S)
    try:
        response = litellm.completion(**arguments)
        logprobs = getattr(response.choices[0], "logprobs", None) if response.choices else None
    except Exception:  # unsupported parameter, unreachable, anything: no trial, no confidence
        return None
    content = logprobs.get("content") if isinstance(logprobs, dict) else getattr(logprobs, "content", None)
    if not content:
        return None
    tokens = []
    for entry in content:
        get = entry.get if isinstance(entry, dict) else lambda key, e=entry: getattr(e, key, None)
        if "}" in (get("token") or ""):
            break
        tokens.append({"token": get("token"), "logprob": get("logprob")})
    return tokens or None


__all__ = [
    "EMBEDDED_MODEL", "KNOWN_MODELS", "TOOL_CHOICES", "Backend", "Completion", "Delta", "LLMError", "Observer",
    "ObserverError", "ReasoningDelta", "StopSignal", "StreamObserver", "TextDelta", "ToolCallDelta", "classify",
    "complete", "model_windows", "redact", "trial_logprobs", "window_of",
]
