"""`configure` refuses what the agent loop could not use, saying which setting and why."""

from __future__ import annotations

import pytest

from engine import WorkbenchError
from sessions import SessionStore


@pytest.mark.parametrize("changes, message", [
    ({"temperature": "hot"}, "temperature must be a number from 0 to 2"),
    ({"temperature": 7}, "temperature must be a number from 0 to 2"),
    ({"max_tokens": -5}, "max_tokens must be a whole number"),
    ({"max_tokens": "lots"}, "max_tokens must be a whole number"),
    ({"api_base": 5}, "api_base must be a URL"),
    ({"api_base": "localhost:8080"}, "api_base must be a URL"),
    ({"api_base": "https://llm.example.com/v1?api_key=sk-SECRET"}, "api_base must not carry a key"),
    ({"api_base": "https://user:pw@llm.example.com/v1"}, "api_base must not carry a key"),
    ({"api_base": "https://llm.example.com/v1?X-Auth-Token=abc"}, "api_base must not carry a key"),
    ({"model": ""}, "needs a model string"),
    ({"window": 0}, "window must be a whole number"),
    ({"tools": "everything"}, "unknown tool profile"),
    ({"tool_choice": "fold_everything"}, "tool_choice must be one of"),
    ({"max_tool_calls": True}, "max_tool_calls must be a whole number"),
    ({"send_reasoning": "yes"}, "send_reasoning must be true, false, or null"),
    ({"policy": {"threshold": 50}}, "at least 100"),
    ({"policy": "aggressive"}, "a policy is an object"),
    ({"top_p": 0.9}, "unknown settings ['top_p']"),
])
def test_bad_settings_are_refused_and_nothing_is_recorded(changes, message):
    session = SessionStore(":memory:").create_session("settings")
    with pytest.raises(WorkbenchError, match=message.replace("[", r"\[").replace("]", r"\]")):
        session.configure(**changes)
    assert session.events() == []


def test_good_settings_are_recorded_once_and_read_back():
    session = SessionStore(":memory:").create_session("settings")
    settings = session.configure(model="openai/local", api_base="http://127.0.0.1:8080/v1", temperature=0.7,
                                 max_tokens=64, tools="all", send_reasoning=True)
    assert settings["backend"] == {"model": "openai/local", "api_base": "http://127.0.0.1:8080/v1",
                                   "temperature": 0.7, "max_tokens": 64, "window": None, "starts_in_reasoning": False}
    assert settings["tools"] == "all" and settings["send_reasoning"] is True
    assert [e["kind"] for e in session.events()] == ["session_configured"]
    with pytest.raises(WorkbenchError, match="starts_in_reasoning must be true or false"):
        session.configure(starts_in_reasoning="yes")


def test_an_api_base_with_an_ordinary_query_is_accepted_and_the_refusal_never_repeats_the_key():
    session = SessionStore(":memory:").create_session("settings")
    session.configure(model="azure/gpt", api_base="https://x.example.com/openai?api-version=2024-06-01")
    with pytest.raises(WorkbenchError) as error:
        session.configure(api_base="https://x.example.com/v1?key=sk-SECRET")
    assert "sk-SECRET" not in str(error.value)
