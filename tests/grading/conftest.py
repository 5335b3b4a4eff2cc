"""Fixtures of the grader's tests: a headless browser for the tutors' pages."""

import pytest

from tests.browser import offline_chromium


@pytest.fixture
def browser(tmp_path):
    """Headless, offline chromium that saves downloads into ``tmp_path / "downloads"``."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = offline_chromium(downloads)
    yield driver
    driver.quit()
