"""Adopting the package in a function app that is not ours, step for step as the README says.

The wheel is built from this checkout with the README's command into the app's wheels/ folder, and
installed from the app's requirements.txt as the README writes it. A separate app in a temporary
folder (the host's default host.json, three HTTP functions and a timer) gets a fresh Python 3.13
virtual environment with the real worker (azure-functions-runtime), and the worker indexes and invokes
it; docs/testing.md's app gets a fresh Python 3.12 one, where its own test file runs under pytest with
the package's plugin. Nothing of this repository is on either app's sys.path: the host side runs from
a copy of tests/worker, and the library comes from the installed wheel.

"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import authorizer
from tests.support.adopter import DOCUMENTED_TESTS, write_documented_app
from tests.support.entra import HOME_TENANT, PARTNER_TENANT, STRANGER_TENANT, USER_OID
from tests.support.http_server import free_port
from tests.support.issuer import LocalIssuer, auth_environ
from tests.support.keyvault import LocalKeyVault
from tests.support.managed_identity import ManagedIdentityEndpoint
from tests.worker.driver import REPO, WORKER_PYTHON, run_harness

# Drives an interpreter or a browser of its own (the 3.13 worker, chromium, a fresh venv): it runs
# once, in the main suite, not in each Python's library session (noxfile.py).
pytestmark = pytest.mark.pinned_runtime

# The README's "Add it to your function app", as the adopter's own files.
HOST_JSON = {
    "version": "2.0",
    "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
}
FUNCTION_APP = """
    import json

    import azure.functions as func

    import authorizer
    from authorizer import Principal, require_auth

    app = authorizer.FunctionApp()


    @app.route(route="orders", methods=["GET"])
    @require_auth(scopes=["Orders.Read"])
    def list_orders(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"tid": principal.tid}), mimetype="application/json")


    @app.route(route="me", methods=["GET"])
    @require_auth()
    async def me(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"oid": principal.oid}), mimetype="application/json")


    @app.route(route="profile", methods=["GET"])
    @require_auth(scopes=["Orders.Read"])
    def profile(req: func.HttpRequest, principal: Principal) -> func.HttpResponse:
        import os

        import requests

        # On behalf of the caller, to Graph (locally, the Graph-shaped API in GRAPH_BASE_URL).
        token = principal.acquire_token(["https://graph.microsoft.com/User.Read"])
        answer = requests.get(
            os.environ["GRAPH_BASE_URL"] + "/v1.0/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        authorizer.raise_for_claims_challenge(answer.status_code, answer.headers)
        return func.HttpResponse(answer.text, status_code=answer.status_code, mimetype="application/json")


    @app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer")
    def nightly(timer: func.TimerRequest) -> None:
        return None
"""
WORKER = ["azure-functions-runtime==1.3.0", "azure-functions>=2,<3"]


def requirements(extras: str = "") -> str:
    """The README's requirements.txt: the wheel from the app's own wheels/ folder, by name and version."""
    return f"azure-functions\n--find-links wheels\nentra-functions-authorizer{extras}=={authorizer.__version__}\n"


def readme_wheel(python: Path, app: Path) -> Path:
    """The README's command: the wheel of this repository, built into the app's wheels/ folder."""
    completed = subprocess.run(  # noqa: S603 - the environment's own pip, on this checkout
        [str(python), "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(app / "wheels"), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    [built] = (app / "wheels").glob("entra_functions_authorizer-*.whl")
    return built


@dataclass(frozen=True)
class Adopted:
    without_extra: dict[str, Any]
    report: dict[str, Any]
    app_directory: Path

    def status(self, case: str) -> int | str:
        answer = self.report["answers"][case]
        return int(answer["status"]) if "status" in answer else str(answer["error"]).splitlines()[0]

    def body(self, case: str) -> Any:
        return json.loads(self.report["answers"][case]["body"])


def pip(python: Path, *arguments: str) -> None:
    completed = subprocess.run(  # noqa: S603 - the new environment's own pip
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def host_side(folder: Path) -> Path:
    """A copy of tests/worker, so that the worker's interpreter imports nothing else of this repository."""
    package = folder / "tests" / "worker"
    package.mkdir(parents=True)
    (folder / "tests" / "__init__.py").write_text("")
    for name in ("__init__.py", "harness.py", "protos.py"):
        shutil.copy(REPO / "tests" / "worker" / name, package / name)
    return folder


def request(case: str, function: str, route: str, token: str | None) -> dict[str, Any]:
    return {
        "id": case,
        "function": function,
        "method": "GET",
        # The host's default routePrefix: the function's route is served under /api/.
        "url": f"http://localhost:7071/api/{route}",
        "headers": {"Authorization": f"Bearer {token}"} if token else {},
        "body": "",
    }


@dataclass(frozen=True)
class AdoptingApp:
    """The adopter's folder, its fresh environment with the wheel and the worker, and the host side."""

    root: Path
    app: Path
    python: Path
    host: Path
    wheel: Path

    def install(self, extras: str) -> None:
        """requirements.txt as the README has it, with ``extras``, installed with the app's pip."""
        (self.app / "requirements.txt").write_text(requirements(extras))
        pip(self.python, "-r", str(self.app / "requirements.txt"))

    def run(self, cases: list[dict[str, Any]], settings: dict[str, str]) -> dict[str, Any]:
        return run_harness(
            cases, settings, self.root, python=self.python, app_directory=self.app, host_directory=self.host
        )


@pytest.fixture(scope="module")
def adopting(tmp_path_factory: pytest.TempPathFactory) -> AdoptingApp:
    if not WORKER_PYTHON.exists():
        pytest.fail(f"{WORKER_PYTHON} is missing: run `make bootstrap` (it needs Python 3.13)", pytrace=False)
    root = tmp_path_factory.mktemp("adoption")
    app = root / "orders-app"
    app.mkdir()
    (app / "host.json").write_text(json.dumps(HOST_JSON, indent=2))
    (app / "function_app.py").write_text(textwrap.dedent(FUNCTION_APP))
    # A fresh environment on the worker's Python, as the remote build makes one from requirements.txt.
    venv = root / "venv"
    subprocess.run([str(WORKER_PYTHON), "-m", "venv", str(venv)], check=True, timeout=120)  # noqa: S603
    python = venv / "bin" / "python"
    pip(python, *WORKER)
    adopting = AdoptingApp(root, app, python, host_side(root / "host"), readme_wheel(python, app))
    # Without an extra first: the Key Vault check below needs the extra missing.
    adopting.install("")
    return adopting


@pytest.fixture(scope="module")
def adopted(adopting: AdoptingApp) -> Iterator[Adopted]:
    issuer = LocalIssuer().start()
    identity = ManagedIdentityEndpoint().start()
    vault = LocalKeyVault(identity, adopting.root).start()
    try:
        vault.set_secret("allowed-tenants", json.dumps([PARTNER_TENANT]))
        settings = {
            **auth_environ(issuer),
            "KEY_VAULT_URL": vault.url,
            "KEY_VAULT_DEV_CA_BUNDLE": str(vault.ca_bundle),
            "IDENTITY_ENDPOINT": identity.url,
            "IDENTITY_HEADER": identity.header_secret,
        }
        # First without the keyvault extra: KEY_VAULT_URL must fail the load, naming the fix.
        without_extra = adopting.run([], settings)
        adopting.install("[keyvault]")
        now = time.time()
        good = issuer.token(now, scp="Orders.Read")
        partner, stranger = issuer.token(now, tenant=PARTNER_TENANT), issuer.token(now, tenant=STRANGER_TENANT)
        cases = [
            request("orders, no token", "list_orders", "orders", None),
            request("orders, good token", "list_orders", "orders", good),
            request("orders, wrong scope", "list_orders", "orders", issuer.token(now, scp="Profile.Read")),
            request("orders, partner in the vault", "list_orders", "orders", partner),
            request("orders, stranger", "list_orders", "orders", stranger),
            request("me, good token", "me", "me", good),
        ]
        yield Adopted(without_extra, adopting.run(cases, settings), adopting.app)
    finally:
        vault.stop()
        identity.stop()
        issuer.stop()


def test_without_the_keyvault_extra_a_vault_url_fails_the_load_with_the_install_command(adopted: Adopted) -> None:
    error = adopted.without_extra["init_error"] or adopted.without_extra.get("metadata_error") or ""
    assert "KEY_VAULT_URL" in error
    assert "pip install 'entra-functions-authorizer[keyvault]'" in error


def test_the_worker_indexes_both_http_functions_and_keeps_the_timer(adopted: Adopted) -> None:
    assert adopted.report["init_error"] is None, adopted.report["init_error"]
    assert adopted.report["metadata_error"] is None
    functions = adopted.report["functions"]
    assert set(functions) == {"list_orders", "me", "profile", "nightly"}
    assert functions["nightly"]["raw_bindings"][0]["type"] == "timerTrigger"
    orders_trigger = functions["list_orders"]["raw_bindings"][0]
    assert (orders_trigger["route"], orders_trigger["authLevel"]) == ("orders", "ANONYMOUS")
    assert adopted.report["loads"] == dict.fromkeys(functions)


def test_the_adopted_app_answers_as_the_readme_says(adopted: Adopted) -> None:
    statuses = {case: adopted.status(case) for case in adopted.report["answers"]}
    assert statuses == {
        "orders, no token": 401,
        "orders, good token": 200,
        "orders, wrong scope": 403,
        "orders, partner in the vault": 200,
        "orders, stranger": 403,
        "me, good token": 200,
    }
    assert adopted.body("orders, good token") == {"tid": HOME_TENANT}
    assert adopted.body("orders, partner in the vault") == {"tid": PARTNER_TENANT}
    assert adopted.body("orders, stranger")["error"] == "tenant_not_allowed"
    assert adopted.body("me, good token") == {"oid": USER_OID}


def test_the_library_came_from_the_installed_wheel_not_from_this_repository(adopted: Adopted) -> None:
    library = adopted.report["library"]
    assert library is not None and "/site-packages/authorizer/" in library, library
    assert not any(entry.startswith(str(REPO)) for entry in adopted.report["sys_path"]), adopted.report["sys_path"]


def command(python: Path, cwd: Path, environment: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the installed package's own command
        [str(python), "-m", "authorizer", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_dev_tools_of_the_installed_package_work_from_any_folder_without_node(
    adopting: AdoptingApp, adopted: Adopted
) -> None:
    # No extra: the development tools need nothing beyond the package's own dependencies (once trustme).
    data = adopting.root / "xdg-data"
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("ENTRA_", "KEY_VAULT_"))},
        "XDG_DATA_HOME": str(data),
        "LOCAL_ISSUER_PORT": str(free_port()),
        # Nothing but the environment's own commands: no Node anywhere on this path.
        "PATH": str(adopting.python.parent),
    }
    environment.pop("PYTHONPATH", None)
    environment.pop("AZURE_FUNCTIONS_ENVIRONMENT", None)
    # As `func init` leaves one: beside it, the dev tools run in Development, as func start runs the app.
    (adopting.app / "local.settings.json").write_text(
        json.dumps({"IsEncrypted": False, "Values": {"FUNCTIONS_WORKER_RUNTIME": "python"}})
    )
    issuer = subprocess.Popen(  # noqa: S603 - the installed package's own command
        [str(adopting.python), "-m", "authorizer", "issuer"],
        cwd=adopting.app,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert issuer.stdout is not None
        printed = "".join(itertools.takewhile(lambda line: not line.startswith("Ctrl-C"), issuer.stdout))
        values = json.loads(printed[printed.index("{") : printed.rindex("}") + 1])
        # From another folder: the issuer's address is found in this user's data folder.
        elsewhere = adopting.root / "elsewhere"
        elsewhere.mkdir()
        # Outside any app folder, nothing says Development until the user does.
        refused = command(adopting.python, elsewhere, environment, "token", "--scope", "Orders.Read")
        assert refused.returncode == 2 and "AZURE_FUNCTIONS_ENVIRONMENT" in refused.stdout
        development = {**environment, "AZURE_FUNCTIONS_ENVIRONMENT": "Development"}
        minted = command(adopting.python, elsewhere, development, "token", "--scope", "Orders.Read")
        assert minted.returncode == 0, minted.stdout + minted.stderr
        settings = {**values, "AZURE_FUNCTIONS_ENVIRONMENT": "Development"}
        report = adopting.run([request("orders, dev token", "list_orders", "orders", minted.stdout.strip())], settings)
    finally:
        issuer.send_signal(signal.SIGTERM)
        issuer.communicate(timeout=30)
    assert report["init_error"] is None, report["init_error"]
    assert report["answers"]["orders, dev token"]["status"] == 200
    # Node is on this machine (the SPA's MSAL.js needs it), and the commands above could not reach it.
    assert shutil.which("node") is not None
    assert shutil.which("node", path=environment["PATH"]) is None


def test_a_protected_function_calls_graph_on_behalf_of_its_caller_from_the_installed_package(
    adopting: AdoptingApp, adopted: Adopted
) -> None:
    from authorizer.devtools._graph import LocalGraph, graph_settings
    from authorizer.devtools._issuer import API_CLIENT_ID, LocalEntraIssuer

    adopting.install("[keyvault,downstream]")
    entra = LocalEntraIssuer(adopting.root / "entra").start()
    state = entra.started_state()
    graph = LocalGraph(graph_settings(state.url, state.ca_bundle, HOME_TENANT)).start()
    try:
        token = entra.user_token("Orders.Read")
        settings = {**state.settings(), "AZURE_FUNCTIONS_ENVIRONMENT": "Development", "GRAPH_BASE_URL": graph.url}
        cases = [request(case, "profile", "profile", token) for case in ("profile", "profile again")]
        report = run_harness(
            cases,
            settings,
            adopting.root,
            python=adopting.python,
            app_directory=adopting.app,
            host_directory=adopting.host,
            sequential=True,
        )
        requests_made = entra._started().token_requests["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    finally:
        graph.stop()
        entra.stop()
    assert report["init_error"] is None, report["init_error"]
    answers = [report["answers"][case] for case in ("profile", "profile again")]
    assert [answer.get("status") for answer in answers] == [200, 200], answers
    # Graph admitted a token for ada, asked for by this API; the repeat came from MSAL's cache.
    body = json.loads(answers[0]["body"])
    assert (body["id"], body["requestedBy"]["appId"]) == (USER_OID, API_CLIENT_ID)
    assert requests_made == 1


# --- the adopter's own tests, on Python 3.12 ------------------------------------------------------
THEIR_API = "5e1f0c3a-9b7d-4c2e-8a6f-0123456789ab"
THEIR_TENANT = "7a0b1c2d-3e4f-4a5b-9c6d-7e8f90a1b2c3"


def python312() -> Path:
    """Python 3.12: PYTHON312 (make test sets it), else python3.12 on PATH."""
    named = os.environ.get("PYTHON312") or shutil.which("python3.12")
    if not named or not Path(named).exists():
        pytest.fail("Python 3.12 is needed here: set PYTHON312=/path/to/python3.12 (make test does)", pytrace=False)
    return Path(named)


def test_an_adopter_follows_the_readme_and_its_own_tests_pass_on_python_3_12(tmp_path: Path) -> None:
    """README's install section, docs/testing.md's app and test file, the plugin from the installed wheel."""
    app = tmp_path / "orders-app"
    app.mkdir()
    write_documented_app(app)
    venv = tmp_path / "venv"
    subprocess.run([str(python312()), "-m", "venv", str(venv)], check=True, timeout=120)  # noqa: S603
    python = venv / "bin" / "python"
    readme_wheel(python, app)
    (app / "requirements.txt").write_text(requirements("[keyvault]"))
    # docs/testing.md: the app's requirements and pytest.
    pip(python, "-r", str(app / "requirements.txt"), "pytest")
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ENTRA_", "KEY_VAULT_", "AZURE_FUNCTIONS_")) and name != "PYTHONPATH"
    }
    environment["XDG_DATA_HOME"] = str(tmp_path / "data")

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the adopter's own environment
            [str(python), *arguments], cwd=app, env=environment, capture_output=True, text=True, timeout=600
        )

    assert run("-c", "import sys; print(sys.version_info[:2])").stdout.strip() == "(3, 12)"
    # The adopter's local.settings.json, as the package writes a starter one, for its own registration.
    written = run("-m", "authorizer", "local-settings", "--client-id", THEIR_API, "--tenant-id", THEIR_TENANT)
    assert written.returncode == 0, written.stdout + written.stderr
    # No -p and no conftest.py: the entra fixture comes from the installed package's entry point.
    tested = run("-m", "pytest", "-q", "-W", "error")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert f"{DOCUMENTED_TESTS} passed" in tested.stdout
    located = run("-c", "import authorizer; print(authorizer.__file__)").stdout
    assert "/site-packages/authorizer/" in located and str(REPO) not in located
