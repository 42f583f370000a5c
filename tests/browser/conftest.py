"""Real Chromium (Debian's, never a Playwright download) and pages that record what went wrong in them."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Request, ViewportSize

    from tests.conftest import LocalStack

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS: dict[str, ViewportSize] = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 740}}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _unavailable(reason: str) -> None:
    # On CI a missing browser must fail the run, not silently skip the browser tests.
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run on CI: {reason}")
    pytest.skip(reason)


def _chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = _chromium_path()
    if executable is None:
        _unavailable("no Chromium binary (set CHROMIUM_PATH or install Debian's chromium: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions, CSP violations and requests that left the stack's origin."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    signup_posts: list[Any] = field(default_factory=list)

    def assert_clean(self, allowed_statuses: tuple[int, ...] = (), network_failure: bool = False) -> None:
        """No problems, except the console line Chromium writes for an expected failed request."""
        status_line = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")
        failure_line = re.compile(r"Failed to load resource: net::ERR_")

        def expected(line: str) -> bool:
            if network_failure and failure_line.search(line):
                return True
            match = status_line.search(line)
            return match is not None and int(match.group(1)) in allowed_statuses

        unexpected = [line for line in self.console_errors if not expected(line)]
        assert unexpected == [], f"console errors: {unexpected}"
        assert self.page_errors == [], f"uncaught page errors: {self.page_errors}"
        assert self.csp_violations == [], f"CSP violations: {self.csp_violations}"
        assert self.foreign_requests == [], f"requests to other origins: {self.foreign_requests}"


# Runs before any page script; reports violations through a binding, which the page's CSP cannot block.
_CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__reportCspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


@dataclass
class OpenedPage:
    page: Page
    problems: PageProblems


class OpenPage(Protocol):
    def __call__(
        self, viewport: str = "desktop", path: str = "/", setup: Callable[[Page], None] | None = None
    ) -> OpenedPage: ...


@pytest.fixture
def open_page(browser: Browser, local_stack: LocalStack) -> Iterator[OpenPage]:
    """Open a page (the signup page unless `path` says otherwise) in a fresh context of the given viewport,
    recording its problems; `setup` runs on the new page before it loads (e.g. to add `page.route` fakes)."""
    contexts: list[BrowserContext] = []
    base = local_stack.url.rstrip("/")
    api_url = local_stack.get("/config.json").json()["apiUrl"].rstrip("/")
    allowed_prefixes = (base + "/", api_url + "/", "data:")

    def _open(viewport: str = "desktop", path: str = "/", setup: Callable[[Page], None] | None = None) -> OpenedPage:
        context = browser.new_context(viewport=VIEWPORTS[viewport], locale="en-GB", timezone_id="Europe/Amsterdam")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        problems = PageProblems(origin=base)

        def _on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                problems.console_errors.append(message.text)

        page.on("console", _on_console)
        page.on("pageerror", lambda e: problems.page_errors.append(str(e)))

        # A Python function, not a bound builtin: Playwright tags the callable it is given.
        def _csp_violation(text: str) -> None:
            problems.csp_violations.append(text)

        page.expose_function("__reportCspViolation", _csp_violation)
        page.add_init_script(_CSP_LISTENER)

        def _on_request(request: Request) -> None:
            if not request.url.startswith(allowed_prefixes):
                problems.foreign_requests.append(request.url)
            if request.method == "POST" and request.url.endswith("/signup"):
                problems.signup_posts.append(request.post_data_json)

        page.on("request", _on_request)
        if setup is not None:
            setup(page)
        response = page.goto(base + path, wait_until="networkidle")
        assert response is not None
        assert response.ok, f"GET {path} answered {response.status}"
        csp = response.headers.get("content-security-policy", "")
        # Without the header the "no CSP violations" checks below would prove nothing.
        assert "script-src 'self'" in csp, f"page served without the strict CSP: {csp!r}"
        return OpenedPage(page=page, problems=problems)

    yield _open
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
