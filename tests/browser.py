"""The tests' browser: Debian's chromium and chromedriver, headless, with the network cut
(every host name resolves to nothing, every request goes to a closed port). Skipped where
the packages are missing, and a failure under CI, where they must be installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


def offline_chromium(downloads: Path | None = None):
    """A selenium driver of headless, offline chromium; with ``downloads``, files the
    page downloads are saved there (``driver.downloads``)."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        message = (f"no {CHROMIUM} or {CHROMEDRIVER} (Debian packages chromium and "
                   "chromium-driver)")
        if os.environ.get("CI"):
            pytest.fail(message + ": the browser test must run under CI")
        pytest.skip(message)
    os.environ["SE_OFFLINE"] = "true"  # selenium never downloads a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--host-resolver-rules=MAP * ~NOTFOUND",
                     "--proxy-server=127.0.0.1:9"):
        options.add_argument(argument)
    if downloads is not None:
        options.add_experimental_option("prefs", {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    if downloads is not None:
        driver.execute_cdp_cmd("Page.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    return driver
