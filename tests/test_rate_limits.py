"""Per-caller rate limits: the memory store, a real Redis shared by two processes, and store outages."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from authorizer import ConfigurationError, require_auth
from tests.conftest import ConfigureAuth, http_request
from tests.support.clock import FakeClock
from tests.support.entra import CLIENT_ID, PARTNER_TENANT
from tests.support.issuer import LocalIssuer, auth_environ
from tests.support.log_hygiene import rendered, watched_logs
from tests.support.redis_server import LocalRedis, SilentServer

REPO = Path(__file__).resolve().parents[1]
BACKOFF = 5


def fields(response: func.HttpResponse) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower().startswith(("ratelimit", "retry"))}


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path).start()
    yield server
    server.stop()


# Exact counts are asserted against hours and days: the sliding window's previous window weighs in by
# how much of it is left, so at a boundary one more call may pass, which a test must not straddle.


# --- the memory store ---------------------------------------------------------------------------
def test_an_admitted_caller_is_counted_and_told_and_the_fourth_call_is_429(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    @require_auth(scopes=["Orders.Read"], rate_limit="3/hour")
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    token = issuer.token(clock())
    answers = [orders(http_request(token)) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert [fields(answer)["RateLimit"].split(";")[1] for answer in answers] == ["r=2", "r=1", "r=0", "r=0"]
    assert fields(answers[0])["RateLimit-Policy"] == '"3/3600s";q=3;w=3600'
    # Exposed to CORS, on the function's own response as on the refusal.
    for answer in answers:
        assert "RateLimit" in answer.headers["Access-Control-Expose-Headers"]
    refused = answers[3]
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert json.loads(refused.get_body()) == {
        "error": "rate_limited",
        "error_description": "Too many requests for this operation; retry after the time given.",
    }
    record = next(record for record in caplog.records if "status=429" in record.getMessage())
    assert record.levelno == logging.WARNING and "reason=RateLimited" in record.getMessage()
    assert token not in record.getMessage()


def test_the_count_is_per_caller_and_per_function(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_auth(ENTRA_ALLOWED_TENANTS=PARTNER_TENANT)

    @require_auth(allow_app_only=True, rate_limit="1/hour")
    def first(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("1")

    @require_auth(allow_app_only=True, rate_limit="1/hour")
    def second(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("2")

    now = clock()
    callers = [
        issuer.token(now),
        issuer.token(now, oid="dddddddd-0000-4000-8000-0000000000b0"),
        issuer.token(now, tenant=PARTNER_TENANT),
        issuer.token(now, app_only=True),
        issuer.token(now, app_only=True, azp="cccccccc-0000-4000-8000-0000000000ee"),
    ]
    # Each user of each tenant, and each client app, has its own budget in each function.
    assert [first(http_request(token)).status_code for token in callers] == [200] * 5
    assert [second(http_request(token)).status_code for token in callers] == [200] * 5
    assert [first(http_request(token)).status_code for token in callers] == [429] * 5


def test_refusals_never_consume_the_budget(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(scopes=["Orders.Write"], rate_limit="2/hour;100/day")
    def create(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("created")

    wrong_scope = issuer.token(clock(), scp="Orders.Read")
    assert [create(http_request(wrong_scope)).status_code for _ in range(5)] == [403] * 5
    token = issuer.token(clock(), scp="Orders.Write")
    assert [create(http_request(token)).status_code for _ in range(3)] == [200, 200, 429]
    # The hour's limit refused the third call; the day's was not charged for it.
    state = fields(create(http_request(token)))["RateLimit"]
    assert '"2/3600s";r=0' in state and '"100/86400s";r=98' in state


def test_an_app_wide_default_and_a_function_without_a_limit(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    configure_auth(RATE_LIMIT_DEFAULT="1/hour")

    @require_auth()
    def limited_by_default(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("default")

    @require_auth(rate_limit="")
    def unlimited(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("none")

    token = issuer.token(clock())
    assert [limited_by_default(http_request(token)).status_code for _ in range(2)] == [200, 429]
    assert [unlimited(http_request(token)).status_code for _ in range(3)] == [200] * 3
    assert "RateLimit" not in unlimited(http_request(token)).headers


@pytest.mark.parametrize(
    ("settings", "decorator", "setting"),
    [
        ({"RATE_LIMIT_DEFAULT": "lots"}, {}, "RATE_LIMIT_DEFAULT"),
        ({}, {"rate_limit": "60 per fortnight"}, "require_auth(rate_limit=...)"),
        ({"RATE_LIMIT_STORAGE_URL": "memcached://127.0.0.1:11211"}, {}, "RATE_LIMIT_STORAGE_URL"),
        ({"RATE_LIMIT_ON_STORE_ERROR": "maybe"}, {}, "RATE_LIMIT_ON_STORE_ERROR"),
        ({"RATE_LIMIT_STORE_TIMEOUT_MS": "0"}, {}, "RATE_LIMIT_STORE_TIMEOUT_MS"),
    ],
)
def test_bad_rate_limit_settings_fail_at_import(
    settings: dict[str, str], decorator: dict[str, Any], setting: str, configure_auth: ConfigureAuth
) -> None:
    configure_auth(**settings)
    with pytest.raises(ConfigurationError) as caught:

        @require_auth(**decorator)
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")

    assert caught.value.setting == setting


def test_an_async_function_is_limited_like_a_sync_one(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(rate_limit="2/hour")
    async def me(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("me")

    token = issuer.token(clock())

    async def calls() -> list[int]:
        return [(await me(req=http_request(token))).status_code for _ in range(3)]

    assert asyncio.run(calls()) == [200, 200, 429]


# --- Redis: shared by instances, and its outages -------------------------------------------------
INSTANCE = """
import json, sys, threading
import azure.functions as func
import authorizer
from tests.conftest import http_request

authorizer.configure(environ=json.loads(sys.argv[1]))

@authorizer.require_auth(scopes=["Orders.Read"], rate_limit="25/day")
def orders(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("orders")

token = sys.argv[2]
sys.stdin.readline()  # both instances start together
statuses = []
lock = threading.Lock()
def caller():
    for _ in range(10):
        status = orders(http_request(token)).status_code
        with lock:
            statuses.append(status)
threads = [threading.Thread(target=caller) for _ in range(3)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(json.dumps(statuses))
"""


def test_two_instances_share_one_limit_through_redis(redis: LocalRedis, issuer: LocalIssuer, clock: FakeClock) -> None:
    settings = auth_environ(issuer, RATE_LIMIT_STORAGE_URL=redis.url, RATE_LIMIT_STORE_TIMEOUT_MS="1000")
    token = issuer.token(time.time())
    instances = [
        subprocess.Popen(  # noqa: S603 - our own interpreter running one instance of the app
            [sys.executable, "-c", INSTANCE, json.dumps(settings), token],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for instance in instances:
        assert instance.stdin is not None
        instance.stdin.write("go\n")
        instance.stdin.flush()
    outputs = [instance.communicate(timeout=60)[0] for instance in instances]
    statuses = [status for output in outputs for status in json.loads(output)]
    # 60 calls from two processes, six threads: exactly the 25 the limit allows, whoever made them.
    assert len(statuses) == 60
    assert statuses.count(200) == 25 and statuses.count(429) == 35


def store(configure_auth: ConfigureAuth, url: str, on_error: str = "allow") -> None:
    configure_auth(RATE_LIMIT_STORAGE_URL=url, RATE_LIMIT_ON_STORE_ERROR=on_error)


@pytest.mark.parametrize("on_error", ["allow", "deny"])
def test_redis_killed_mid_run_then_back(
    on_error: str, redis: LocalRedis, configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    store(configure_auth, redis.url, on_error)

    @require_auth(rate_limit="100/day")
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    token = issuer.token(clock())
    # Counted in Redis before the outage.
    before = [fields(orders(http_request(token)))["RateLimit"] for _ in range(2)]
    assert before[0].startswith('"100/86400s";r=99;') and before[1].startswith('"100/86400s";r=98;')
    redis.stop()
    during = [orders(http_request(token)) for _ in range(3)]
    if on_error == "allow":
        # Availability first: admitted, uncounted, and not told a count it does not have.
        assert [answer.status_code for answer in during] == [200] * 3
        assert all("RateLimit" not in answer.headers for answer in during)
    else:
        assert [answer.status_code for answer in during] == [503] * 3
        assert all(1 <= int(answer.headers["Retry-After"]) <= BACKOFF for answer in during)
    redis.start()
    # Still inside the back-off: nothing changes until it has passed.
    assert orders(http_request(token)).status_code == during[0].status_code
    clock.advance(BACKOFF + 1)
    recovered = orders(http_request(token))
    assert recovered.status_code == 200
    # Counted again, in the restarted Redis, which kept nothing (no persistence): one call so far.
    assert fields(recovered)["RateLimit"].startswith('"100/86400s";r=99;')


def test_a_hanging_store_costs_one_attempt_per_back_off_within_the_deadline(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    silent = SilentServer().start()
    try:
        store(configure_auth, silent.url)

        @require_auth(rate_limit="100/day")
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("orders")

        token = issuer.token(clock())
        started = time.monotonic()
        assert orders(http_request(token)).status_code == 200
        # The store call has a deadline (50 ms by default), not the socket's patience.
        assert time.monotonic() - started < 1.0
        assert silent.connections == 1
        statuses = [orders(http_request(token)).status_code for _ in range(20)]
        assert statuses == [200] * 20
        assert silent.connections == 1, "a down store was tried on every request"
        clock.advance(BACKOFF + 1)
        orders(http_request(token))
        assert silent.connections == 2
        # Never a 500: the outage is logged once per attempt, as a warning.
        warnings = [record for record in caplog.records if "rate limit store" in record.getMessage()]
        assert len(warnings) == 2 and all(record.levelno == logging.WARNING for record in warnings)
    finally:
        silent.stop()


def test_a_thread_waiting_on_the_store_holds_no_lock_others_need(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    silent = SilentServer().start()
    try:
        configure_auth(RATE_LIMIT_STORAGE_URL=silent.url, RATE_LIMIT_STORE_TIMEOUT_MS="1000")

        @require_auth(rate_limit="100/day")
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("orders")

        tokens = [issuer.token(clock(), oid=f"dddddddd-0000-4000-8000-00000000000{index}") for index in range(4)]
        threads = [threading.Thread(target=orders, args=(http_request(token),)) for token in tokens]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        # Four store calls at once, each up to its 1 s deadline: together about one deadline, not four.
        assert time.monotonic() - started < 2.5
        assert silent.connections == 4
    finally:
        silent.stop()


def test_an_async_function_never_waits_for_the_store_on_the_event_loop(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    silent = SilentServer().start()
    try:
        configure_auth(RATE_LIMIT_STORAGE_URL=silent.url, RATE_LIMIT_STORE_TIMEOUT_MS="500")

        @require_auth(rate_limit="100/day")
        async def me(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("me")

        @require_auth()
        def unlimited(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("warm")

        token = issuer.token(clock())
        # Keys and token warmed first: a cold key fetch off the loop would keep it turning on its own,
        # and the ticks below would not be the store's.
        assert unlimited(http_request(token)).status_code == 200
        me_ready = me(req=http_request(token))

        async def scenario() -> tuple[int, int]:
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            beat = asyncio.create_task(ticker())
            response = await me_ready
            beat.cancel()
            return response.status_code, ticks

        status, ticks = asyncio.run(scenario())
        assert status == 200
        # The loop kept turning while the store call waited out its deadline on a worker thread.
        assert ticks > 100
    finally:
        silent.stop()


# --- defects of the second review -----------------------------------------------------------------
OTHER_USER = "dddddddd-0000-4000-8000-0000000000b1"


class _SuccessMeanwhile(logging.Handler):
    """When the store's failure is logged, lands another caller's success first (once)."""

    def __init__(self, succeed: Any) -> None:
        super().__init__(logging.WARNING)
        self.succeed = succeed
        self.fired = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.fired and "failed" in record.getMessage():
            self.fired = True
            self.succeed()


def test_a_store_failure_racing_a_success_is_a_503_never_a_500(
    redis: LocalRedis, configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    store(configure_auth, redis.url, "deny")

    @require_auth(rate_limit="100/day")
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("orders")

    token, other = issuer.token(clock()), issuer.token(clock(), oid=OTHER_USER)
    assert orders(http_request(token)).status_code == 200
    redis.stop()
    successes: list[int] = []

    def another_caller_succeeds() -> None:
        # Between the failure being recorded and its 503 being written, the store answers another caller.
        redis.start()
        clock.advance(BACKOFF + 1)
        successes.append(orders(http_request(other)).status_code)

    race = _SuccessMeanwhile(another_caller_succeeds)
    logging.getLogger("authorizer.rate_limits").addHandler(race)
    try:
        answer = orders(http_request(token))
    finally:
        logging.getLogger("authorizer.rate_limits").removeHandler(race)
    assert race.fired and successes == [200]
    # Once an OverflowError out of require_auth (math.ceil(-inf)): a 500.
    assert answer.status_code == 503
    assert 1 <= int(answer.headers["Retry-After"]) <= BACKOFF


def test_functions_are_counted_under_the_name_the_host_gives_them(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    import authorizer

    app = authorizer.FunctionApp()
    blueprints = []
    for name in ("orders_list", "crm_list"):
        blueprint = authorizer.Blueprint()

        @blueprint.function_name(name)
        @blueprint.route(route=name, methods=["GET"])
        @require_auth(rate_limit="1/hour")
        def handler(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("ok")

        blueprints.append(blueprint)
    for blueprint in blueprints:
        app.register_functions(blueprint)
    functions = {str(function.get_function_name()): function.get_user_function() for function in app.get_functions()}
    token = issuer.token(clock())
    caplog.set_level(logging.DEBUG, logger="authorizer")
    # Two Python functions called handler, two functions to the host: one budget each (once: 200, 429).
    assert [functions[name](http_request(token)).status_code for name in ("orders_list", "crm_list")] == [200, 200]
    assert functions["crm_list"](http_request(token)).status_code == 429
    logged = [record.getMessage() for record in caplog.records if record.getMessage().startswith("auth ")]
    assert any("function=orders_list " in line for line in logged)
    assert any("function=crm_list " in line and "status=429" in line for line in logged)
    assert not any("function=handler " in line for line in logged)


def test_two_apps_sharing_one_redis_never_share_a_callers_budget(
    redis: LocalRedis, configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    other_api = "aaaaaaaa-0000-4000-8000-0000000000b2"
    statuses = []
    for api in (CLIENT_ID, other_api):
        configure_auth(RATE_LIMIT_STORAGE_URL=redis.url, RATE_LIMIT_STORE_TIMEOUT_MS="1000", ENTRA_CLIENT_ID=api)

        @require_auth(rate_limit="1/hour")
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("orders")

        statuses.append(orders(http_request(issuer.token(clock(), aud=api))).status_code)
    # The same user calling a same-named function of two APIs (or slots) that share a Redis.
    assert statuses == [200, 200]


@pytest.mark.parametrize(
    "url",
    [
        # An Azure Cache access key in the userinfo: base64's "/" ends the authority.
        "rediss://:Xk3/9qLm0vZ+Ab==@contoso.redis.cache.windows.net:6380",
        "redis://",
        "redis://cache:port/0",
        "redis://cache:6379/zero",
    ],
)
def test_a_redis_url_that_cannot_be_used_fails_at_load_naming_the_fix(
    url: str, configure_auth: ConfigureAuth, caplog: pytest.LogCaptureFixture
) -> None:
    configure_auth(RATE_LIMIT_STORAGE_URL=url)
    with pytest.raises(ConfigurationError) as caught:

        @require_auth(rate_limit="1/hour")
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("orders")

    assert caught.value.setting == "RATE_LIMIT_STORAGE_URL"
    assert "RATE_LIMIT_REDIS_PASSWORD" in caught.value.problem and "URL-encode" in caught.value.problem
    # The message never repeats the URL, which may hold the key.
    assert "Xk3" not in str(caught.value) and "cache" not in str(caught.value)


def test_a_password_in_the_url_never_reaches_a_log_record(
    redis: LocalRedis, configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    secret = "sekrit-store-password"
    for url in (f"redis://127.0.0.1:{redis.port}/0?password={secret}", f"redis://:{secret}@127.0.0.1:{redis.port}"):
        configure_auth(RATE_LIMIT_STORAGE_URL=url)

        @require_auth(rate_limit="100/day")
        def orders(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("orders")

        redis.stop()
        with watched_logs() as logs:
            assert orders(http_request(issuer.token(clock()))).status_code == 200
        redis.start()
        outage = [rendered(record) for record in logs.records if "rate limit store" in record.getMessage()]
        assert outage, "the outage was not logged"
        assert all(secret not in text for text in (rendered(record) for record in logs.records))
        assert all(f"127.0.0.1:{redis.port}" in text for text in outage)


def test_a_shared_response_is_never_changed_and_never_carries_another_callers_count(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    shared = func.HttpResponse("static", headers={"Access-Control-Expose-Headers": "ETag"})

    @require_auth(rate_limit="5000/hour")
    def orders(req: func.HttpRequest) -> func.HttpResponse:
        return shared

    first, second = issuer.token(clock()), issuer.token(clock(), oid=OTHER_USER)
    answers = [orders(http_request(first)) for _ in range(2000)]
    other = orders(http_request(second))
    # The function's own object is untouched; each answer carries its own caller's count, once.
    assert (
        dict(shared.headers) == {"access-control-expose-headers": "ETag"}
        or shared.headers.get("Access-Control-Expose-Headers") == "ETag"
    )
    assert "RateLimit" not in shared.headers
    exposed = answers[-1].headers["Access-Control-Expose-Headers"]
    assert len(exposed) < 120 and exposed.count("RateLimit-Policy") == 1 and "ETag" in exposed
    assert answers[-1].headers["RateLimit"].split(";")[1] == "r=3000"
    assert other.headers["RateLimit"].split(";")[1] == "r=4999"
    assert answers[0].headers["RateLimit"].split(";")[1] == "r=4999"
    assert answers[-1].get_body() == b"static" and answers[-1].mimetype == shared.mimetype
