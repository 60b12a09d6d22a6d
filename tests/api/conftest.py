"""Portal tests read English text (the Indonesian default is covered by tests/test_i18n.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _english(client):  # type: ignore[no-untyped-def]
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
