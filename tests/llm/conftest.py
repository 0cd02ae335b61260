"""A scripted model of its own for each test, registered with litellm like any provider."""

from __future__ import annotations

import pytest

from engine import scripted_model


@pytest.fixture
def model(request):
    name = f"scripted/{request.node.name[:40]}"
    scripted_model.reset(name)
    yield name
    scripted_model.reset(name)
