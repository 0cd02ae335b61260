"""A session's settings for talking to a model, and the one figure of what fills its window.

Pure: no litellm here (engine/llm.py is the one door to models), so the CLI, the store and
the UI can read and check settings without paying for, or depending on, a model library.
Settings are recorded by `session_configured` events; only what was configured is stored,
and `settings_of` lays it over the defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from engine.brakes.settings import validate_brakes
from engine.errors import ReplayError, WorkbenchError
from engine.imports import imported_tools
from engine.render import stats
from engine.state import ContextState
from engine.tools import TOOL_PROFILES, tool_schemas

EMBEDDED_MODEL = "embedded/smollm2-135m-instruct"
KNOWN_MODELS = [EMBEDDED_MODEL, "gpt-4.1-mini", "gpt-4.1", "gpt-4o", "anthropic/claude-sonnet-4-5",
                "gemini/gemini-2.5-pro", "ollama_chat/qwen3", "openai/local-model"]  # offered by name in the UI
TOOL_CHOICES = ("auto", "required", "none")
BACKEND_FIELDS = ("model", "api_base", "temperature", "max_tokens", "window", "starts_in_reasoning")
LOOP_FIELDS = ("tools", "tool_choice", "max_tool_calls", "policy", "send_reasoning", "brakes")


@dataclass(frozen=True)
class Backend:
    """Which model to call and how. Holds no key: keys stay in the environment."""

    model: str = EMBEDDED_MODEL
    api_base: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    window: int | None = None
    # The server's chat template opens <think> in the prompt, so a reply starts inside its
    # reasoning and only </think> arrives (DeepSeek-R1 or QwQ served without a reasoning parser).
    starts_in_reasoning: bool = False

    def as_config(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Backend":
        unknown = set(config) - {f.name for f in fields(cls)}
        if unknown:
            raise WorkbenchError(f"unknown backend settings {sorted(unknown)}; a backend takes {', '.join(BACKEND_FIELDS)}")
        return cls(**config)


DEFAULT_SETTINGS: dict[str, Any] = {
    "backend": Backend().as_config(),
    "tools": "sculptor",
    "tool_choice": "auto",
    "max_tool_calls": 20,
    "policy": None,
    "send_reasoning": None,  # None: the backend's convention (see sends_reasoning)
    "brakes": None,  # None: the brakes' defaults (engine.brakes.settings.DEFAULT_BRAKES); else what was changed
}


def settings_of(state: ContextState) -> dict[str, Any]:
    """The defaults with what this session configured laid over them."""
    return {**DEFAULT_SETTINGS, **state.settings}


_SENDS_THINKING_BACK = ("anthropic/", "claude", "bedrock/anthropic.", "vertex_ai/claude")


def sends_reasoning(settings: dict[str, Any]) -> bool:
    """Whether earlier reasoning goes back to the model: the session's choice, else the backend's
    convention.

    OpenAI-style chat (and DeepSeek, Qwen and the local servers whose templates strip earlier
    `<think>` blocks) does not send it: each reply's reasoning is for that reply. Anthropic's
    extended thinking does: earlier signed thinking blocks go back with the turn.
    """
    chosen = settings.get("send_reasoning")
    if chosen is not None:
        return bool(chosen)
    return _thinks_back(settings)


def _thinks_back(settings: dict[str, Any]) -> bool:
    backend = settings.get("backend")
    model = backend.get("model", "") if isinstance(backend, dict) else ""
    return isinstance(model, str) and model.startswith(_SENDS_THINKING_BACK)


def reasoning_note(settings: dict[str, Any]) -> str:
    """One line for the token bar: is reasoning in the window, and why."""
    if settings.get("send_reasoning") is True:
        return "reasoning is sent back to the model (this session's setting) and counts in the window"
    if settings.get("send_reasoning") is False:
        return "reasoning is not sent back to the model (this session's setting)"
    if _thinks_back(settings):
        return "reasoning is sent back to the model (Anthropic's convention: earlier thinking goes back) and counts in the window"
    return "reasoning is not sent back to the model (the OpenAI-style chat convention)"


def window_stats(state: ContextState, settings: dict[str, Any], window: int | None, encoding: str) -> dict[str, Any]:
    """What fills the window, the one figure every page shows: the rendered context, the
    session's tool schemas, and reasoning when it is sent back, against `window`."""
    tools = tool_schemas(settings["tools"]) + imported_tools(state)  # what this workbench offers, and an import's own
    numbers = stats(state, encoding, tools=tools, window=window,
                    include_reasoning=sends_reasoning(settings))
    numbers["tool_profile"] = settings["tools"]
    numbers["reasoning_note"] = reasoning_note(settings)
    return numbers


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` if the agent loop and the pages can use them; else a WorkbenchError saying which.

    Also run on settings read back from a log, so it checks shapes and types before it uses a
    value, and it holds every log this workbench ever wrote. What earlier versions let through
    (a temperature of 3, say) is not refused here but where it is set (`validate_backend_changes`)."""
    if not isinstance(settings, dict):
        raise WorkbenchError("settings must be an object")
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise WorkbenchError(f"unknown settings {sorted(map(str, unknown))}; a session takes {', '.join(DEFAULT_SETTINGS)}")
    tools, choice = settings["tools"], settings["tool_choice"]
    if not isinstance(tools, str) or tools not in TOOL_PROFILES:
        raise WorkbenchError(f"unknown tool profile {tools!r}; use one of {', '.join(TOOL_PROFILES)}")
    if not isinstance(choice, str) or (choice not in TOOL_CHOICES and choice not in TOOL_PROFILES[tools]):
        raise WorkbenchError(
            f"tool_choice must be one of {', '.join(TOOL_CHOICES)} or the name of a tool in the "
            f"{tools!r} profile, not {choice!r}"
        )
    budget = settings["max_tool_calls"]
    if not _whole(budget) or not 0 <= budget <= 200:
        raise WorkbenchError(f"max_tool_calls must be a whole number from 0 to 200, not {budget!r}")
    if settings.get("send_reasoning") not in (None, True, False):
        raise WorkbenchError("send_reasoning must be true, false, or null (the backend's convention)")
    backend = settings["backend"]
    if not isinstance(backend, dict):
        raise WorkbenchError("a backend is an object such as {\"model\": \"gpt-4.1-mini\"}")
    model = Backend.from_config(backend).model
    if not isinstance(model, str) or not model.strip():
        raise WorkbenchError("a backend needs a model string, such as gpt-4.1-mini or ollama_chat/qwen3")
    if settings.get("policy") is not None:
        _validate_policy(settings["policy"])
    validate_brakes(settings.get("brakes"))
    return settings


def check_read_back(state: ContextState) -> None:
    """Settings read back from a log (the store's, or a trace being imported), checked as
    `configure` checks them: a ReplayError when this version cannot use them."""
    try:
        validate_settings(settings_of(state))
    except WorkbenchError as exc:
        raise ReplayError(f"settings this version cannot use: {exc}") from None


_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "sig", "credential")


def _holds_a_secret(url: str) -> bool:
    """A URL with user information, or a query parameter whose name says it is a credential."""
    from urllib.parse import parse_qsl, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if "@" in parts.netloc:
        return True
    return any(word in name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)
               for word in _SECRET_WORDS)


def validate_backend_changes(changes: dict[str, Any]) -> None:
    """The values a person or program is setting now: each one a backend can be sent."""
    api_base, temperature = changes.get("api_base"), changes.get("temperature", 0.0)
    max_tokens, window = changes.get("max_tokens", 1), changes.get("window")
    if api_base is not None and (not isinstance(api_base, str) or "://" not in api_base):
        raise WorkbenchError(f"api_base must be a URL such as http://127.0.0.1:8080/v1, not {api_base!r}")
    if api_base is not None and _holds_a_secret(api_base):
        raise WorkbenchError("api_base must not carry a key (a user name, a password or a key in its query): "
                             "settings are stored in the log and exported; give the key in the environment "
                             "(OPENAI_API_KEY, ...) and only the server's address here")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise WorkbenchError(f"temperature must be a number from 0 to 2, not {temperature!r}")
    if not _whole(max_tokens) or not 1 <= max_tokens <= 1_000_000:
        raise WorkbenchError(f"max_tokens must be a whole number from 1 to 1,000,000, not {max_tokens!r}")
    if window is not None and (not _whole(window) or window < 1):
        raise WorkbenchError(f"a backend's window must be a whole number of tokens, not {window!r}")
    if not isinstance(changes.get("starts_in_reasoning", False), bool):
        raise WorkbenchError("starts_in_reasoning must be true or false")


def _validate_policy(policy_settings: Any) -> None:
    from engine.policy import ContextPolicy

    if not isinstance(policy_settings, dict):
        raise WorkbenchError("a policy is an object such as {\"threshold\": 6000, \"keep_tool_results\": 2}")
    try:
        policy = ContextPolicy.from_settings(policy_settings)
    except TypeError as exc:
        raise WorkbenchError(f"a policy takes threshold, keep_tool_results, summarize_turns and focus ({exc})") from None
    if not _whole(policy.threshold) or policy.threshold < 100:
        raise WorkbenchError("a policy's threshold must be a whole number of tokens, at least 100")
    if not _whole(policy.keep_tool_results) or policy.keep_tool_results < 1:
        raise WorkbenchError("a policy must keep at least the newest tool result (keep_tool_results >= 1), "
                             "or the model could not read what it just asked for")
    if not isinstance(policy.summarize_turns, bool) or not isinstance(policy.focus, str) or not policy.focus.strip():
        raise WorkbenchError("a policy's summarize_turns must be true or false, and its focus some words")
