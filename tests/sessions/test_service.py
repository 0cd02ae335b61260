"""The pages' service: sessions kept between reruns, and one running turn per session,
which only the tab that started it may stop."""

from __future__ import annotations

import threading

import pytest

from engine import WorkbenchError, scripted_model
from sessions.service import Workbench


@pytest.fixture
def service(tmp_path):
    return Workbench(tmp_path / "service.duckdb")


def test_a_session_is_opened_once_and_sees_what_others_write(service):
    session = service.create_session("kept")
    assert service.session(session.id) is session and service.find("nope") is None and service.find(None) is None
    other = Workbench(service.path)  # another process's view, in effect
    other.session(session.id).add_message("user", "from elsewhere")
    assert [m.text for m in service.session(session.id).state().messages] == ["from elsewhere"]
    assert service.rendered_tokens(session.id, 1) == service.session(session.id).stats()["rendered_tokens"]


def test_one_turn_at_a_time_per_session_and_it_belongs_to_its_tab(service):
    scripted_model.reset("service")
    gate = threading.Event()
    scripted_model.enqueue("service", {"content": "a reply that waits for the gate", "gate": gate, "chunk_size": 4})
    session = service.create_session("turns")
    session.configure(model="scripted/service", tools="none")
    turn = service.start_turn(session, "hello", tab="tab-a")
    try:
        with pytest.raises(WorkbenchError, match="already running on this session"):
            service.start_turn(session, "me too", tab="tab-b")
        tab, running = service.running_turn(session.id)
        assert tab == "tab-a" and running is turn and not turn.done
    finally:
        gate.set()
    assert turn.join(30) and turn.outcome()["reply"] == "a reply that waits for the gate"
    assert service.running_turn(session.id) is None
    scripted_model.reset("service")


def test_a_turn_not_started_yet_is_not_done(service):
    from sessions.agent import Turn

    turn = Turn(service.create_session("idle"), "hello")
    assert not turn.done
