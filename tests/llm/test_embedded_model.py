"""The real thing: the embedded SmolLM2 model in-process, and the same GGUF file served over HTTP by
llama-cpp-python's OpenAI-compatible server and driven through litellm as `openai/...`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from engine.llm import EMBEDDED_MODEL
from engine.local_model import gguf_path
from sessions import SessionStore
from sessions.agent import run_turn

from tests.conftest import ROOT
from tests.e2e.conftest import _free_port


def _session(title: str):
    session = SessionStore(":memory:").create_session(title)
    session.add_message("user", "Remember this: the code word is PELICAN. The meeting is on Tuesday.")
    return session


def test_a_chat_turn_with_the_embedded_model():
    session = _session("embedded chat")
    result = run_turn(session, "What is the capital of France? Answer in one short sentence.", tools="none")
    assert result["model"] == EMBEDDED_MODEL and result.get("error") is None
    assert isinstance(result["reply"], str) and result["reply"].strip()
    called = [e["payload"] for e in session.events() if e["kind"] == "llm_called"]
    assert called and called[-1]["usage"]["prompt_tokens"] > 10 and called[-1]["usage"]["completion_tokens"] > 0
    assert session.render()[-1]["role"] == "assistant"


def test_a_forced_tool_call_runs_through_the_registry():
    session = _session("embedded tools")
    result = run_turn(session, "Use search_context to find the code word.", tool_choice="search_context")
    assert result.get("error") is None
    assert result["tool_calls"] and result["tool_calls"][0]["name"] == "search_context"
    arguments = json.loads(result["tool_calls"][0]["arguments"])
    assert isinstance(arguments.get("query"), str)
    kinds = [e["kind"] for e in session.events()]
    assert "context_searched" in kinds or "tool_failed" in kinds  # the registry answered the call either way
    roles = [m["role"] for m in session.render()]
    assert roles[2:5] == ["assistant", "tool", "assistant"][: len(roles[2:5])] and roles[3] == "tool"


def test_streaming_from_the_embedded_model():
    from engine.streaming import TextDelta

    tokens: list[str] = []
    session = _session("embedded stream")
    result = run_turn(session, "Say hello in five words.", tools="none", observer=lambda d: tokens.append(d.text) if isinstance(d, TextDelta) else None)
    assert len(tokens) > 1 and "".join(tokens) == result["reply"]


@pytest.fixture(scope="module")
def openai_server():
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", "2", "--model_alias", "smollm2"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            if urllib.request.urlopen(f"{base}/models", timeout=2).status == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("llama_cpp.server did not start")
        time.sleep(0.5)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_an_openai_compatible_server_through_litellm(openai_server):
    session = _session("over http")
    result = run_turn(session, "Say hello.", model="openai/smollm2", api_base=openai_server, tools="none")
    assert result.get("error") is None and result["reply"].strip()
    assert session.events()[-2]["payload"]["model"] == "openai/smollm2"
    forced = run_turn(session, "Find the code word with search_context.", model="openai/smollm2",
                              api_base=openai_server, tool_choice="search_context")
    assert forced.get("error") is None and forced["tool_calls"][0]["name"] == "search_context"


def test_an_unreachable_server_is_a_clear_failure_and_the_message_is_kept():
    session = _session("nobody home")
    result = run_turn(session, "Hello?", model="openai/smollm2", api_base=f"http://127.0.0.1:{_free_port()}/v1", tools="none")
    assert result["reply"] is None and result["error_kind"] == "unreachable"
    assert session.render()[-1] == {"role": "user", "content": "Hello?"}
    assert session.events()[-1]["kind"] == "llm_failed"


def test_a_context_over_the_embedded_window_is_a_clear_overflow():
    from tests.conftest import long_text

    session = SessionStore(":memory:").create_session("too long")
    session.add_message("user", long_text(300))  # about 13k tokens against an 8k window
    result = run_turn(session, "Summarize.", tools="none")
    assert result["error_kind"] == "context_overflow" and "fold or summarize" in result["error"]
    assert session.events()[-1]["payload"]["error_kind"] == "context_overflow"


def test_ctrl_c_in_the_cli_stops_the_turn_and_keeps_what_arrived(tmp_path):
    """A real process, a real model, a real SIGINT: the call is recorded as stopped, with the
    partial reply, and the CLI says so (exit 130)."""
    import signal

    db = tmp_path / "ctrl-c.duckdb"
    store = SessionStore(db, linger=0)
    session = store.create_session("interrupt me")
    store.close()
    # As in a terminal, Ctrl-C reaches the process: a suite started in the background by a shell
    # (`./workbench test &`) runs with SIGINT ignored, which its children would inherit.
    chat = subprocess.Popen([sys.executable, "-m", "sessions", "--db", str(db), "chat", session.id,
                             "List the numbers from 1 to 300, one per line.", "--tools", "none"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = chat.stdout.readline()  # the reply has begun
    chat.send_signal(signal.SIGINT)
    out, err = chat.communicate(timeout=120)
    assert first.strip() and chat.returncode == 130, err
    assert "stopped (interrupted with Ctrl-C); the partial reply is kept" in err
    store = SessionStore(db, linger=0)
    events = store.open_session(session.id).events()
    store.close()
    called, kept = events[-2:]
    assert called["payload"]["finish_reason"] == "stopped"
    assert called["payload"]["stop_reason"] == "interrupted with Ctrl-C"
    assert kept["payload"]["stopped"] is True and kept["payload"]["content"].startswith(first.strip())
    assert "300" not in kept["payload"]["content"]
