"""The one table of model windows: how many tokens each model reads.

The numbers are litellm's: its bundled map of models (`model_prices_and_context_window_backup.json`,
the same file `litellm.get_model_info` reads offline), read here as data, so the sidebar and
every page know a window without importing litellm (two seconds) or calling anything. The
embedded model's window is ours. A backend's own `window` setting wins over the table.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.local_model import EMBEDDED_WINDOW
from engine.settings import EMBEDDED_MODEL, KNOWN_MODELS, Backend

MAP_FILE = "model_prices_and_context_window_backup.json"


@lru_cache(maxsize=1)
def _litellm_map() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / MAP_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no map (an unusual install): windows are then unknown, not wrong
        return {}


@lru_cache(maxsize=256)
def window_of_model(model: str) -> int | None:
    """The model's window from the table, or None where litellm does not know the model."""
    if model == EMBEDDED_MODEL:
        return EMBEDDED_WINDOW
    table = _litellm_map()
    for key in (model, model.split("/", 1)[-1]):  # "anthropic/claude-sonnet-4-5" is listed as "claude-sonnet-4-5"
        window = table.get(key, {}).get("max_input_tokens") if isinstance(table.get(key), dict) else None
        if isinstance(window, int) and window > 0:
            return window
    return None


def window_of(backend: Backend) -> int | None:
    """The model's context window in tokens: the backend's own setting, else the table."""
    return backend.window or window_of_model(backend.model)


def settings_window(settings: dict[str, Any]) -> tuple[str, int | None]:
    """The model a session's settings name, and its window: what the sidebar's default measures against."""
    backend = Backend.from_config(settings["backend"])
    return backend.model, window_of(backend)


def model_windows() -> dict[str, int | None]:
    """Each model the workbench offers by name, with its window (None where unknown)."""
    return {model: window_of_model(model) for model in KNOWN_MODELS}
