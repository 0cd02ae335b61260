"""Sculptor's three settings for a benchmark case, shared by bench/pi_llm.py and bench/needlebench.py.

- `baseline`: the prompt alone, no tools;
- `unified`: Sculptor's six tools and its unified system prompt (paper v2, App. C);
- `task`: the tools and the benchmark's task-specific prompt; only its key part is published, and
  it is used as published.
With tools the first step has `tool_choice="required"`, as in Sculptor's zero-shot runs (§3.1),
and the agent loop stops at the session's tool budget, Sculptor's 20 calls per turn.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.prompts import UNIFIED_PROMPT  # the paper's text, kept once: MCP clients get it too

TOOL_BUDGET = 20  # Sculptor's tool calls per turn (§3.1 of the paper)
SETTINGS = ("baseline", "unified", "task")


def new_session(title: str, prompt: str, system: str | None = None):
    """An in-memory session holding the case's prompt as its one user message."""
    from sessions import SessionStore

    session = SessionStore(":memory:").create_session(title)
    if system:
        session.add_message("system", system)
    session.add_message("user", prompt)
    return session


def run_setting(title: str, prompt: str, task_prompt: str, model: str, setting: str,
                api_base: str | None, max_tokens: int = 1024) -> dict[str, Any]:
    """One turn of `model` on the case in `setting`: the reply, the tool calls, tokens and seconds,
    and `error` when the backend failed (a failed call is no answer: leave it out of the score).

    The model runs plain, as in the papers: the workbench's brakes are off, and replies may be
    `max_tokens` long (the PI-LLM authors' 1,024 by default; 46 keys' answers take about 440)."""
    from sessions.agent import run_turn

    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; use {', '.join(SETTINGS)}")
    system = {"baseline": None, "unified": UNIFIED_PROMPT, "task": task_prompt}[setting]
    session = new_session(title, prompt, system)
    before = session.stats()["rendered_tokens"]
    changes: dict[str, Any] = {"model": model, "tools": "none" if setting == "baseline" else "sculptor",
                               "max_tokens": max_tokens, "brakes": {"detectors": []},
                               **({"api_base": api_base} if api_base else {})}
    if setting != "baseline":
        changes["tool_choice"] = "required"
        changes["max_tool_calls"] = TOOL_BUDGET
    session.configure(**changes)
    started = time.perf_counter()
    result = run_turn(session, None)
    return {"reply": result.get("reply"), "error": result.get("error"), "calls": len(result.get("tool_calls") or []),
            "tokens_before": before, "tokens_after": session.stats()["rendered_tokens"],
            "seconds": round(time.perf_counter() - started, 1)}


def settings_note(model: str, setting: str, max_tokens: int) -> str:
    """What a model run used, for bench/RESULTS.md."""
    tools = "no tools" if setting == "baseline" else f"Sculptor's six tools, {TOOL_BUDGET} calls a turn, the first forced"
    return (f"Model `{model}`, setting `{setting}` ({tools}); replies up to {max_tokens} tokens; the workbench's "
            "brakes off; the backend's default temperature. Cases whose call failed are left out of the scores "
            "and counted as errors."
            + (" This is the embedded SmolLM2-135M, the model that runs with no key and no GPU: far too small for "
               "these tasks, so it scores near 0%, and the table says so rather than hide it. Run the same command "
               "with any litellm model (see the top of this file) for a real score." if "smollm2" in model else ""))


def model_calls(session, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run tool calls as one assistant message of a model would: through the registry, each result
    a tool message at the end of the context (so its tokens count), in one transaction."""
    import json

    made = [{"id": f"call_{session.last_seq}_{n}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(arguments)}} for n, (name, arguments) in enumerate(calls)]
    return session.run_model_tool_calls(made)


def add_run_arguments(parser, data: Path) -> None:
    """The options both benchmarks share: a model's (--model, --api-base, --setting, --max-tokens),
    --data, --json and --no-record."""
    parser.add_argument("--model", help="a litellm model string: score that model instead of the reference policy")
    parser.add_argument("--api-base", help="an OpenAI-compatible server's base URL, with an openai/... model")
    parser.add_argument("--setting", choices=list(SETTINGS), help="with --model: baseline (the default), unified, task")
    parser.add_argument("--max-tokens", type=int, default=1024, help="with --model: the longest reply (default 1024)")
    parser.add_argument("--data", type=Path, default=data, help=f"the data sets' folder (default {data})")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON (and record nothing)")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/RESULTS.md")


def check_model_arguments(parser, args) -> None:
    """Refuse a model's options without a model, rather than run the policy and ignore them."""
    if not args.model:
        given = [flag for flag, value in (("--api-base", args.api_base), ("--setting", args.setting)) if value]
        if given:
            parser.error(f"{' and '.join(given)} {'need' if len(given) > 1 else 'needs'} --model "
                         "(without it the reference policy runs)")
        return
    args.setting = args.setting or "baseline"
    if not 16 <= args.max_tokens <= 32_768:
        parser.error("--max-tokens must be 16 to 32768")


def answered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows whose model call did not fail."""
    return [row for row in rows if not row.get("error")]


def stop_if_all_failed(rows: list[dict[str, Any]]) -> None:
    """Every call failed: say why and exit 1, recording nothing (a wrong key must never replace a result)."""
    if rows and not answered(rows):
        errors = dict.fromkeys(str(row["error"]) for row in rows)
        raise SystemExit("every model call failed, so nothing is scored or recorded:\n  " + "\n  ".join(errors))
