"""The SPA path end to end: MSAL.js 5 in Debian's chromium, the local issuer over TLS, the app.

The SPA and the API run on different origins (two loopback ports), so every API call is
cross-origin with a CORS preflight, as in production.
"""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

import authorizer
import authorizer._functions.runtime
from authorizer.devtools._graph import LocalGraph, graph_settings
from authorizer.devtools._issuer import API_CLIENT_ID, HOME_TENANT, SPA_CLIENT_ID, LocalEntraIssuer
from authorizer.devtools._server import CorsPolicy, DevServer, routes_of
from authorizer.devtools._spa import SpaServer, spa_config
from tests.support.demo import running_demo
from tests.support.http_server import free_port

# Drives an interpreter or a browser of its own (the 3.13 worker, chromium, a fresh venv): it runs
# once, in the main suite, not in each Python's library session (noxfile.py).
pytestmark = pytest.mark.pinned_runtime

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]
# Chromium reaches for Google's hosts unless told not to; the test asserts it did not.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PARTNER_TENANT = "22222222-2222-4222-8222-222222222222"
WRITE_SCOPE = f"api://{API_CLIENT_ID}/Orders.Write"


@pytest.fixture(scope="module")
def dev_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This user's data folder (XDG_DATA_HOME), where the development CA is made once and kept."""
    return tmp_path_factory.mktemp("xdg-data")


@pytest.fixture(scope="module")
def entra(dev_data: Path) -> Iterator[LocalEntraIssuer]:
    issuer = LocalEntraIssuer(dev_data / "entra-functions-authorizer").start()
    yield issuer
    issuer.stop()


@pytest.fixture(scope="module")
def trusting_home(dev_data: Path, entra: LocalEntraIssuer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's home after the README's one step: `python -m authorizer trust-dev-ca`."""
    home = tmp_path_factory.mktemp("home")
    environment = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(dev_data)}
    environment["AZURE_FUNCTIONS_ENVIRONMENT"] = "Development"
    done = subprocess.run(  # noqa: S603 - our own command, as the README gives it
        [sys.executable, "-m", "authorizer", "trust-dev-ca"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return home


@pytest.fixture(scope="module")
def spa() -> Iterator[SpaServer]:
    server = SpaServer({}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def graph(entra: LocalEntraIssuer) -> Iterator[LocalGraph]:
    state = entra.started_state()
    server = LocalGraph(graph_settings(state.url, state.ca_bundle, HOME_TENANT)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(entra: LocalEntraIssuer, spa: SpaServer, graph: LocalGraph) -> Iterator[DevServer]:
    state = entra.state
    assert state is not None
    # What the app's process gets under func start: Graph's address and the local managed identity.
    downstream = {
        "GRAPH_BASE_URL": graph.url,
        "IDENTITY_ENDPOINT": state.identity_endpoint,
        "IDENTITY_HEADER": state.identity_header,
    }
    saved = {name: os.environ.get(name) for name in downstream}
    os.environ.update(downstream)
    environ = {
        "ENTRA_TENANT_ID": HOME_TENANT,
        "ENTRA_CLIENT_ID": API_CLIENT_ID,
        "ENTRA_INSTANCE": entra.url,
        "ENTRA_DEV_CA_BUNDLE": state.ca_bundle,
        "ENTRA_ALLOWED_TENANTS": PARTNER_TENANT,
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
    }
    authorizer.configure(environ=environ)
    sys.modules.pop("function_app", None)
    app = importlib.import_module("function_app").app
    server = DevServer(routes_of(app.get_functions(), ""), CorsPolicy(frozenset({spa.url}))).start()
    # The issuer answers this SPA's page, and no other.
    entra.allow_origin(spa.url)
    config = spa_config(entra.url, server.url, SPA_CLIENT_ID, API_CLIENT_ID)
    spa.config_js = f"window.SPA_CONFIG = {json.dumps(config)};".encode()
    yield server
    server.stop()
    sys.modules.pop("function_app", None)
    authorizer.configure(environ=None, tenant_policy=None)
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert shutil.which("chromium") and Path(CHROMIUM).exists(), "Debian chromium is missing: run `make bootstrap`"
    with sync_playwright() as driver:
        yield driver


def launch(playwright: Playwright, home: Path) -> Browser:
    # An ordinary browser of a user whose home is ``home``: Chromium reads the user's trust store
    # (~/.pki/nssdb) from there. No certificate error is ever ignored.
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, env={**os.environ, "HOME": str(home)})


@pytest.fixture(scope="module")
def browser(playwright: Playwright, trusting_home: Path) -> Iterator[Browser]:
    instance = launch(playwright, trusting_home)
    yield instance
    instance.close()


@pytest.fixture
def hosts_seen() -> list[str]:
    return []


def open_spa(browser: Browser, spa: SpaServer, hosts_seen: list[str]) -> tuple[BrowserContext, Page]:
    context = browser.new_context()
    context.on("request", lambda request: hosts_seen.append(urlsplit(request.url).hostname or request.url))
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(spa.url + "/")
    tab.wait_for_function("window.spa && window.spa.ready")
    return context, tab


@pytest.fixture
def page(browser: Browser, spa: SpaServer, api: DevServer, hosts_seen: list[str]) -> Iterator[Page]:
    context, tab = open_spa(browser, spa, hosts_seen)
    api.exchanges.clear()
    yield tab
    context.close()
    # Nothing the browser asked for left 127.0.0.1: not the SPA, not MSAL, not chromium itself.
    assert hosts_seen and set(hosts_seen) == {"127.0.0.1"}, set(hosts_seen)


def test_a_browser_that_does_not_trust_the_issuer_yet_says_why_and_what_to_do(
    playwright: Playwright, spa: SpaServer, api: DevServer, tmp_path: Path, hosts_seen: list[str]
) -> None:
    # A user who skipped the README's step: a fresh home, nothing trusted.
    untrusting = launch(playwright, tmp_path)
    try:
        context, tab = open_spa(untrusting, spa, hosts_seen)
        status = tab.locator("#issuer-status")
        assert status.get_attribute("data-state") == "unreachable"
        assert "make trust-dev-ca" in status.inner_text()
        context.close()
    finally:
        untrusting.close()


def sign_in(page: Page, user: str) -> None:
    page.fill("#login-hint", f"{user}@contoso.example")
    page.click("#sign-in")
    page.wait_for_selector("#account:has-text('Signed in as')")


def click_and_read(page: Page, button: str) -> dict[str, Any]:
    page.evaluate("document.getElementById('result').removeAttribute('data-status')")
    page.click(button)
    page.wait_for_selector("#result[data-status]")
    answer: dict[str, Any] = json.loads(page.inner_text("#result"))
    return answer


def test_sign_in_get_a_token_silently_and_call_across_origins(page: Page, api: DevServer) -> None:
    sign_in(page, "ada")
    assert "ada@contoso.example" in page.inner_text("#account")
    answer = click_and_read(page, "#orders")
    assert answer["status"] == 200
    assert answer["body"]["caller"]["oid"] == "dddddddd-0000-4000-8000-000000000001"
    # The Authorization header makes the call non-simple: the browser sent a preflight first.
    assert api.exchanges[:2] == [("OPTIONS", "/api/orders"), ("GET", "/api/orders")]


def test_a_user_without_the_role_gets_403_and_the_spa_reads_the_challenge(page: Page) -> None:
    sign_in(page, "bob")
    answer = click_and_read(page, "#create-order")
    assert answer["status"] == 403
    # Bob holds the scope but not the role: no scope to request (an SPA following one would loop).
    assert answer["body"]["error"] == "role_required"
    assert "Orders.Writer" in answer["body"]["error_description"]
    assert 'error="insufficient_scope"' in answer["challenge"]
    assert answer["scope"] is None
    assert page.inner_text("#challenge-scope") == ""


def test_a_missing_scope_shows_the_scope_to_request(page: Page) -> None:
    sign_in(page, "ada")
    answer = click_and_read(page, "#create-order-read-only")
    assert (answer["status"], answer["scope"]) == (403, WRITE_SCOPE)
    assert click_and_read(page, "#create-order")["status"] == 201


def test_a_tenant_not_on_the_list_gets_403_tenant_not_allowed(page: Page) -> None:
    sign_in(page, "eve")
    answer = click_and_read(page, "#me")
    assert answer["status"] == 403
    assert answer["body"]["error"] == "tenant_not_allowed"
    assert answer["challenge"] is None


def test_a_key_rotation_mid_session_still_answers_200(page: Page, entra: LocalEntraIssuer) -> None:
    sign_in(page, "ada")
    assert click_and_read(page, "#me")["status"] == 200
    new_kid = entra.rotate()
    # The next token MSAL gets is signed with the new key; the API has never seen it.
    answer = page.evaluate("spa.call('/api/me', {forceRefresh: true})")
    assert answer["status"] == 200
    keys = authorizer._functions.runtime.current().authenticator.authority.key_set.value or {}
    assert new_kid in keys


def test_the_profile_comes_from_graph_and_the_mailboxs_step_up_is_met_in_a_popup(page: Page, api: DevServer) -> None:
    sign_in(page, "ada")
    profile = click_and_read(page, "#profile")
    # The API exchanged ada's token for one to Graph, which answered with ada.
    assert profile["status"] == 200
    assert profile["body"]["id"] == "dddddddd-0000-4000-8000-000000000001"
    assert profile["body"]["requestedBy"]["appId"] == API_CLIENT_ID
    page.evaluate("document.getElementById('result').removeAttribute('data-status')")
    page.click("#messages")
    page.wait_for_selector("#result[data-stepped-up]")
    answer = json.loads(page.inner_text("#result"))
    # Graph's mailbox asked for c2; the challenge went through the API to MSAL.js, met in a popup, then 200.
    assert answer["steppedUp"] is True and answer["status"] == 200
    assert answer["body"]["value"][0]["subject"] == "Your order shipped"
    calls = [exchange for exchange in api.exchanges if exchange == ("GET", "/api/me/messages")]
    assert len(calls) == 2


def test_make_demo_in_an_ordinary_browser_after_the_readmes_one_step(
    playwright: Playwright, tmp_path: Path, hosts_seen: list[str]
) -> None:
    """The README's quickstart as a newcomer takes it: make demo, trust-dev-ca, sign in as ada, 200 and 403."""
    ports = {name: str(free_port()) for name in ("DEMO_PORT", "DEMO_SPA_PORT", "LOCAL_ISSUER_PORT")}
    home = tmp_path / "home"
    home.mkdir()
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("ENTRA_", "KEY_VAULT"))},
        **ports,
        "HOME": str(home),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    with running_demo(environment) as demo:
        step = next(line.strip() for line in demo.printed if "trust-dev-ca" in line)
        # The printed command as a newcomer runs it, in the checkout (make finds .venv/bin/python there).
        trusted = subprocess.run(  # noqa: S603 - the printed command
            shlex.split(step), cwd=REPO, env=environment, capture_output=True, text=True, timeout=60
        )
        assert trusted.returncode == 0, trusted.stdout + trusted.stderr
        browser = launch(playwright, home)
        try:
            context = browser.new_context()
            context.on("request", lambda request: hosts_seen.append(urlsplit(request.url).hostname or request.url))
            tab = context.new_page()
            tab.set_default_timeout(20_000)
            tab.goto(f"http://127.0.0.1:{ports['DEMO_SPA_PORT']}/")
            tab.wait_for_function("window.spa && window.spa.ready")
            sign_in(tab, "ada")
            assert click_and_read(tab, "#orders")["status"] == 200
            assert click_and_read(tab, "#create-order-read-only")["status"] == 403
            context.close()
        finally:
            browser.close()
    assert set(hosts_seen) == {"127.0.0.1"}


def test_a_step_up_is_asked_for_met_in_a_popup_and_the_call_succeeds(page: Page, api: DevServer) -> None:
    sign_in(page, "ada")
    page.evaluate("document.getElementById('result').removeAttribute('data-status')")
    page.click("#approve")
    page.wait_for_selector("#result[data-stepped-up]")
    answer = json.loads(page.inner_text("#result"))
    # MSAL.js read the 401 claims challenge, met authentication context c1 in a popup, and called again.
    assert answer["steppedUp"] is True
    assert answer["status"] == 200
    assert answer["body"]["order"]["approved_by"] == "dddddddd-0000-4000-8000-000000000001"
    approvals = [exchange for exchange in api.exchanges if exchange == ("POST", "/api/orders/1001/approve")]
    assert len(approvals) == 2
    assert "stronger sign-in" in page.inner_text("#step-up")
