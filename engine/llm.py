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

litellm is made offline-safe before it is imported: it must not fetch its cost map.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterator

from engine.errors import WorkbenchError
from engine.tokens import ensure_offline_tokenizer_files

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ensure_offline_tokenizer_files()

import litellm  # noqa: E402  (after the offline settings above)
from litellm import CustomLLM, ModelResponse  # noqa: E402

from engine import local_model, scripted_model  # noqa: E402

litellm.suppress_debug_info = True

EMBEDDED_MODEL = "embedded/smollm2-135m-instruct"
KNOWN_MODELS = [EMBEDDED_MODEL, "gpt-4.1-mini", "gpt-4.1", "gpt-4o", "anthropic/claude-sonnet-4-5",
                "gemini/gemini-2.5-pro", "ollama_chat/qwen3", "openai/local-model"]
TOOL_CHOICES = ("auto", "required", "none")


@dataclass(frozen=True)
class Backend:
    """Which model to call and how. Holds no key: keys stay in the environment."""

    model: str = EMBEDDED_MODEL
    api_base: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    window: int | None = None

    def as_config(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Completion:
    content: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    usage: dict[str, int]
    latency_ms: float
    model: str
    stopped: bool = False


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


def _stream(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    text = message.get("content") or ""
    pieces = [text[i : i + 12] for i in range(0, len(text), 12)] or [""]
    calls = message.get("tool_calls") or []
    for position, piece in enumerate(pieces):
        last = position == len(pieces) - 1 and not calls
        yield {"text": piece, "tool_use": None, "is_finished": last, "finish_reason": "stop" if last else "",
               "usage": None, "index": 0}
    for position, call in enumerate(calls):
        last = position == len(calls) - 1
        yield {"text": "", "tool_use": {"id": call["id"], "type": "function", "function": call["function"], "index": position},
               "is_finished": last, "finish_reason": "tool_calls" if last else "", "usage": None, "index": 0}


class _ProviderError(Exception):
    """A failure inside our own providers, marked so `classify` can tell it from a network error."""


def _marked(call):
    try:
        return call()
    except RuntimeError as exc:
        raise _ProviderError(f"{_PROVIDER_MARK} {exc}") from None


class _ScriptedProvider(CustomLLM):
    def _reply(self, model: str, messages: list, optional_params: dict) -> dict[str, Any]:
        request = {"messages": messages, "tools": optional_params.get("tools"), "tool_choice": optional_params.get("tool_choice")}
        return _marked(lambda: scripted_model.next_reply(model, request))

    def completion(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                   api_key, logging_obj, optional_params, *args, **kwargs):
        return _response(model, self._reply(model, messages, optional_params))

    def streaming(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                  api_key, logging_obj, optional_params, *args, **kwargs):
        yield from _stream(self._reply(model, messages, optional_params))


def _embedded_options(optional_params: dict) -> dict[str, Any]:
    options = {key: optional_params[key] for key in ("tools", "tool_choice", "max_tokens", "temperature") if key in optional_params}
    choice = options.get("tool_choice")
    if choice == "required" and options.get("tools"):
        # llama.cpp forces one named function through a grammar; "any of them" it cannot, so
        # the first tool offered is forced (documented limitation of the embedded model).
        options["tool_choice"] = {"type": "function", "function": {"name": options["tools"][0]["function"]["name"]}}
    if choice == "none" or not options.get("tools"):
        options.pop("tools", None)
        options.pop("tool_choice", None)
    return options


class _EmbeddedProvider(CustomLLM):
    def completion(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                   api_key, logging_obj, optional_params, *args, **kwargs):
        result = _marked(lambda: local_model.chat(messages, **_embedded_options(optional_params)))
        return ModelResponse(**result)

    def streaming(self, model, messages, api_base, custom_prompt_dict, model_response, print_verbose, encoding,
                  api_key, logging_obj, optional_params, *args, **kwargs):
        options = _embedded_options(optional_params)
        if "tool_choice" in options:  # a forced call comes whole, not token by token
            message = _marked(lambda: local_model.chat(messages, **options))["choices"][0]["message"]
            yield from _stream({"content": message.get("content"), "tool_calls": message.get("tool_calls")})
            return
        chunks = _marked(lambda: local_model.chat(messages, stream=True, **options))
        for position, chunk in enumerate(chunks):
            choice = chunk["choices"][0]
            finished = choice.get("finish_reason") is not None
            yield {"text": choice["delta"].get("content") or "", "tool_use": None, "is_finished": finished,
                   "finish_reason": choice.get("finish_reason") or "", "usage": None, "index": 0}


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


def window_of(backend: Backend) -> int | None:
    """The model's context window in tokens, from the backend or litellm's bundled map."""
    if backend.window:
        return backend.window
    if backend.model == EMBEDDED_MODEL:
        return local_model.EMBEDDED_WINDOW
    try:
        return litellm.get_model_info(backend.model).get("max_input_tokens")
    except Exception:  # unknown to the bundled map: the caller decides
        return None


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


def _for_template(messages: list[dict], spell_out_calls: bool) -> list[dict]:
    """Messages that chat templates of local models can render: text content everywhere.

    llama.cpp applies the model's own Jinja template, which expects `content` to be text
    (an assistant message that only calls tools has none). The embedded model's template
    knows nothing of tool calls, so there they are also written out as text.
    """
    prepared = []
    for message in messages:
        if message.get("content") is None or (spell_out_calls and message.get("tool_calls")):
            message = dict(message)
            text = message.get("content") or ""
            if spell_out_calls and message.get("tool_calls"):
                calls = "\n".join(f"(I used the tool {c['function']['name']}; its result follows.)"
                                  for c in message["tool_calls"])
                text = f"{text}\n{calls}".strip()
            message["content"] = text
        prepared.append(message)
    return prepared


def _call_arguments(backend: Backend, messages: list[dict], tools, tool_choice) -> dict[str, Any]:
    local = backend.model == EMBEDDED_MODEL or bool(backend.api_base)
    if local:
        messages = _for_template(messages, spell_out_calls=backend.model == EMBEDDED_MODEL)
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


def _usage(response: Any, backend: Backend, messages: list[dict], content: str | None) -> dict[str, int]:
    usage = getattr(response, "usage", None)
    prompt = getattr(usage, "prompt_tokens", 0) or 0
    completion = getattr(usage, "completion_tokens", 0) or 0
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(details, "reasoning_tokens", 0) or 0
    if not prompt:
        try:
            prompt = litellm.token_counter(model=backend.model, messages=messages)
        except Exception:
            prompt = 0
    if not completion and content:
        try:
            completion = litellm.token_counter(model=backend.model, text=content)
        except Exception:
            completion = 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "reasoning_tokens": reasoning}


def _message_parts(response: Any) -> tuple[str | None, list[dict[str, Any]], str]:
    choice = response.choices[0]
    message = choice.message
    calls = []
    for call in getattr(message, "tool_calls", None) or []:
        function = call.function if not isinstance(call, dict) else call["function"]
        name = function.name if not isinstance(function, dict) else function.get("name")
        arguments = function.arguments if not isinstance(function, dict) else function.get("arguments")
        call_id = call.id if not isinstance(call, dict) else call.get("id")
        calls.append({"id": call_id, "type": "function", "function": {"name": name or "", "arguments": arguments or ""}})
    return message.content, calls, choice.finish_reason or ("tool_calls" if calls else "stop")


class _CallbackError(Exception):
    """An error raised by the caller's on_token: theirs, not the backend's."""


def _deliver(on_token: Callable[[str], None], text: str) -> None:
    try:
        on_token(text)
    except Exception as exc:
        raise _CallbackError(f"on_token failed: {exc!r}") from exc


def complete(
    backend: Backend,
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | dict | None = None,
    on_token: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> Completion:
    """One model call. With `on_token`, text streams as it arrives; `stop` ends it early.

    Raises LLMError (with a `kind` such as auth, unreachable, context_overflow) on failure.
    """
    _register()
    arguments = _call_arguments(backend, messages, tools, tool_choice)
    started = time.perf_counter()
    stopped = False
    try:
        if on_token is None:
            response = litellm.completion(**arguments)
        else:
            chunks = []
            stream = iter(litellm.completion(stream=True, **arguments))
            try:
                while True:
                    try:
                        chunk = next(stream)
                    except StopIteration:
                        break
                    chunks.append(chunk)
                    delta = chunk.choices[0].delta if chunk.choices else None
                    if delta is not None and getattr(delta, "content", None):
                        _deliver(on_token, delta.content)
                    if stop is not None and stop.is_set():
                        stopped = True
                        break
            finally:
                getattr(stream, "close", lambda: None)()  # an abandoned stream releases its model now
            response = litellm.stream_chunk_builder(chunks, messages=messages)
    except (LLMError, _CallbackError):
        raise
    except Exception as exc:  # litellm maps provider errors onto its own classes; sort them
        raise classify(exc, backend.model) from None
    content, calls, finish = _message_parts(response)
    return Completion(
        content=content,
        tool_calls=[] if stopped else calls,
        finish_reason="stopped" if stopped else finish,
        usage=_usage(response, backend, messages, content),
        latency_ms=(time.perf_counter() - started) * 1000,
        model=backend.model,
        stopped=stopped,
    )
