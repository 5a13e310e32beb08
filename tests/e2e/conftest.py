"""The browser for end-to-end tests: Debian's Chromium (``apt-get install chromium``; .ci/run
installs it and exports ``NEWSFLOW_CHROMIUM``). Where it is missing the browser tests are
skipped with the reason, except under CI=true, where that is a failure (as PostgreSQL is in
tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.browser import Browser, chromium_path


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        message = "Chromium not found (apt-get install chromium, or set NEWSFLOW_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI requires it)")
        pytest.skip(message)
    try:
        import playwright  # noqa: F401
    except ImportError:
        message = "playwright is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    browser = Browser(path)
    yield browser
    browser.close()
