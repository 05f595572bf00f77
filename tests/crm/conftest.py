"""CRM fixtures: the browser ones, for the demo tried in Chromium."""

from tests.browser.conftest import browser, live_server_url, new_context  # noqa: F401 - reused fixtures
