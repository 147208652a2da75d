"""The deploy checks read files only: they need neither Postgres nor Redis, so a deploy pipeline
can run them alone. The suite-wide cache flush (tests/conftest.py) would connect to Redis."""

import pytest


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Overrides the suite's fixture of this name for tests/deploy: there is no cache to clear."""
