"""A scripted model of its own for each test, registered with litellm like any provider, and a
session that talks to it."""

from __future__ import annotations

import pytest

from engine import scripted_model
from sessions import SessionStore

from tests.conftest import long_text


@pytest.fixture
def model(request):
    name = f"scripted/{request.node.name[:40]}"
    scripted_model.reset(name)
    yield name
    scripted_model.reset(name)


@pytest.fixture
def session(model):
    session = SessionStore(":memory:").create_session("loop")
    session.add_message("system", "You manage your own context.")
    session.add_message("user", "The code word is PELICAN.\n" + long_text(20))
    session.configure(model=model)
    return session
