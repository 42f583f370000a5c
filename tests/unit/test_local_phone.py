"""`/_local/phone`: the end user's phone page, served by the local gateway from `infra/local/phone/`.

A local-only page (never in `web/`, so never deployed) that is still a page: the same security
headers as the site's, its files under `/_local/phone/...`, nothing else reachable through it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.local.banner import render_banner
from infra.local.events import HttpRequest
from infra.local.invoke import FunctionHost
from infra.local.mail import MailOutbox
from infra.local.resources import Resources
from infra.local.server import LocalGateway
from infra.local.static import PHONE_DIR, PHONE_PATH, Redirect, StaticFile, StaticSite, phone_site
from infra.topology import WEB_DIR
from infra.web_security import security_headers

BASE_URL = "http://127.0.0.1:8080"


def gateway(tmp_path: Path, phone: StaticSite | None = None) -> LocalGateway:
    web = tmp_path / "web"
    (web / "signup").mkdir(parents=True)
    (web / "signup" / "index.html").write_text("<h1>signup</h1>")
    return LocalGateway(
        routes=[],
        functions=FunctionHost([]),
        site=StaticSite(web),
        outbox=MailOutbox(),
        base_url=BASE_URL,
        phone=phone,
    )


def test_the_page_lives_beside_the_local_stack_not_in_the_deployed_site() -> None:
    assert Path(__file__).resolve().parents[2] / "infra" / "local" / "phone" == PHONE_DIR
    assert {p.name for p in PHONE_DIR.iterdir()} >= {"index.html", "phone.js", "phone.css"}
    assert not PHONE_DIR.resolve().is_relative_to(WEB_DIR.resolve())
    assert StaticSite(WEB_DIR).resolve("/_local/phone/") is None


@pytest.mark.parametrize("path", [PHONE_PATH, PHONE_PATH + "/", PHONE_PATH + "/index.html"])
def test_the_page_itself(tmp_path: Path, path: str) -> None:
    response = gateway(tmp_path).handle(HttpRequest("GET", path + "?channel=SMS"))
    assert response.status == 200
    assert response.header("Content-Type") == "text/html; charset=utf-8"
    assert response.body == (PHONE_DIR / "index.html").read_bytes()
    assert response.header("Cache-Control") == "no-cache"


@pytest.mark.parametrize(
    ("file", "content_type"),
    [("phone.js", "text/javascript; charset=utf-8"), ("phone.css", "text/css; charset=utf-8")],
)
def test_its_files(tmp_path: Path, file: str, content_type: str) -> None:
    response = gateway(tmp_path).handle(HttpRequest("GET", f"{PHONE_PATH}/{file}"))
    assert response.status == 200
    assert response.header("Content-Type") == content_type
    assert response.body == (PHONE_DIR / file).read_bytes()


@pytest.mark.parametrize("path", [PHONE_PATH, f"{PHONE_PATH}/phone.js", f"{PHONE_PATH}/phone.css", f"{PHONE_PATH}/x"])
def test_every_answer_carries_the_security_headers(tmp_path: Path, path: str) -> None:
    response = gateway(tmp_path).handle(HttpRequest("GET", path))
    for name, value in security_headers(BASE_URL).items():
        assert response.header(name) == value, (path, name)
    csp = response.header("Content-Security-Policy") or ""
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp


def test_the_page_needs_no_inline_script_or_style() -> None:
    html = (PHONE_DIR / "index.html").read_text()
    # Every script is a file of ours; no style element or attribute, no inline event handler.
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/_local/phone/phone.js" defer>']
    assert re.findall(r"<link\b[^>]*stylesheet[^>]*>", html) == [
        '<link rel="stylesheet" href="/base.css">',
        '<link rel="stylesheet" href="/_local/phone/phone.css">',
    ]
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    script = (PHONE_DIR / "phone.js").read_text()
    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "document.write" not in script
    assert "eval(" not in script


def test_head_answers_like_get_and_other_methods_are_refused(tmp_path: Path) -> None:
    site = gateway(tmp_path)
    assert site.handle(HttpRequest("HEAD", PHONE_PATH)).status == 200
    for method in ("POST", "PUT", "DELETE"):
        for path in (PHONE_PATH, f"{PHONE_PATH}/phone.js"):
            response = site.handle(HttpRequest(method, path))
            assert response.status == 405, (method, path)
            assert response.header("Allow") == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        f"{PHONE_PATH}/missing.js",
        f"{PHONE_PATH}/../server.py",
        f"{PHONE_PATH}/%2e%2e/server.py",
        f"{PHONE_PATH}/..%2fserver.py",
        f"{PHONE_PATH}/%2e%2e%2f%2e%2e%2fstatic.py",
        f"{PHONE_PATH}/.hidden",
        f"{PHONE_PATH}/phone.js%00",
        f"{PHONE_PATH}/phone.js/",
    ],
)
def test_nothing_outside_the_folder_is_served(tmp_path: Path, path: str) -> None:
    response = gateway(tmp_path).handle(HttpRequest("GET", path))
    assert response.status == 404, path
    assert response.body == b"Not found\n"


def test_paths_that_only_look_like_it_are_other_helpers(tmp_path: Path) -> None:
    site = gateway(tmp_path)
    for path in ("/_local/phonebook", "/_local/phone.js", "/_local/Phone"):
        response = site.handle(HttpRequest("GET", path))
        assert response.status == 404, path
        assert "/_local/phone" in response.body.decode()  # the list of helpers names the page


def test_a_subfolder_redirects_under_the_page(tmp_path: Path) -> None:
    folder = tmp_path / "phone"
    (folder / "help").mkdir(parents=True)
    (folder / "index.html").write_text("phone")
    (folder / "help" / "index.html").write_text("help")
    site = gateway(tmp_path, phone=phone_site(folder))
    assert site.handle(HttpRequest("GET", PHONE_PATH)).body == b"phone"
    redirect = site.handle(HttpRequest("GET", f"{PHONE_PATH}/help"))
    assert redirect.status == 301
    assert redirect.header("Location") == f"{PHONE_PATH}/help/"
    assert site.handle(HttpRequest("GET", f"{PHONE_PATH}/help/")).body == b"help"


def test_phone_site_roots_at_its_index(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("x")
    site = phone_site(tmp_path)
    root = site.resolve("/")
    assert isinstance(root, StaticFile)
    assert root.path == (tmp_path / "index.html").resolve()
    assert site.resolve("/index.html") == root
    # The site's own root page is unchanged: `/` of web/ is the signup page.
    assert StaticSite(WEB_DIR).resolve("/") == StaticFile(
        (WEB_DIR / "signup" / "index.html").resolve(), root.content_type
    )
    assert not isinstance(site.resolve("/"), Redirect)


def test_the_banner_names_the_page() -> None:
    banner = render_banner(
        base_url=BASE_URL,
        routes=[],
        resources=Resources(tables=(), senders=(), configuration_sets=()),
        overrides={},
        moto_endpoint="http://127.0.0.1:5000",
    )
    assert f"{BASE_URL}/_local/phone" in banner
