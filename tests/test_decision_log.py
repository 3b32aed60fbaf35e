"""One log record per decision, with ids and reasons, and never a token or a claim set."""

from __future__ import annotations

import logging

import azure.functions as func
import pytest

from authorizer import require_auth
from authorizer._functions import decision_log
from authorizer._functions.decision_log import log_decision
from authorizer._token.authenticator import Trace
from tests.conftest import ConfigureAuth, http_request
from tests.support.attacks import ATTACKS, Ctx
from tests.support.clock import FakeClock
from tests.support.entra import CLIENT_ID, HOME_TENANT, SPA_CLIENT_ID, USER_OID
from tests.support.issuer import LocalIssuer
from tests.support.log_hygiene import assert_no_token_material, watched_logs
from tests.support.tokens import make_key


@pytest.fixture
def protected(configure_auth: ConfigureAuth) -> func.Function:
    @require_auth(scopes=["Orders.Read"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    return list_orders  # type: ignore[return-value]


def decisions(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "authorizer" and hasattr(record, "auth")]


def one_admitted_call(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> logging.LogRecord:
    caplog.set_level(logging.DEBUG, logger="authorizer")
    protected(http_request(issuer.token(clock())))
    [record] = decisions(caplog)
    return record


def test_an_admitted_call_is_logged_at_debug_with_ids(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    record = one_admitted_call(protected, issuer, clock, caplog)
    assert record.levelno == logging.DEBUG
    assert record.auth == {  # type: ignore[attr-defined]
        "function": "list_orders",
        "outcome": "allow",
        "status": 200,
        "reason": "authorized",
        "tid": HOME_TENANT,
        "oid": USER_OID,
        "client_app_id": SPA_CLIENT_ID,
        "kid": issuer.signer.kid,
    }


def test_a_refusal_is_logged_at_warning_with_its_reason_class(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    protected(http_request(issuer.token(clock(), scp="Other.Scope")))
    protected(http_request(issuer.token(clock(), aud="https://graph.microsoft.com")))
    protected(http_request())
    records = decisions(caplog)
    assert [record.levelno for record in records] == [logging.WARNING] * 3
    assert [record.auth["reason"] for record in records] == [  # type: ignore[attr-defined]
        "InsufficientScope",
        "InvalidAudience",
        "MissingCredentials",
    ]


def test_no_record_carries_a_token_a_signature_or_a_claim_set(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = [
        issuer.token(clock()),
        issuer.token(clock(), scp="Nope"),
        issuer.token(clock(), exp=int(clock()) - 3600),
        issuer.token(clock())[:-5] + "AAAAA",
    ]
    for token in tokens:
        protected(http_request(token))
    text = "\n".join(record.getMessage() + repr(getattr(record, "auth", "")) for record in caplog.records)
    for token in tokens:
        for segment in token.split("."):
            assert segment not in text
    assert CLIENT_ID not in text
    assert "ada@contoso.example" not in text
    assert "Ada Lovelace" not in text


def test_an_attacker_controlled_kid_is_not_written_verbatim(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    token = issuer.token(clock(), header={"alg": "RS256", "kid": "x\nINFO forged log line"})
    protected(http_request(token))
    [record] = decisions(caplog)
    assert record.auth["kid"] == "<unprintable>"  # type: ignore[attr-defined]
    assert "forged log line" not in record.getMessage()


def test_the_whole_attack_table_leaves_no_token_material_in_any_log(
    configure_auth: ConfigureAuth, issuer: LocalIssuer, clock: FakeClock
) -> None:
    @require_auth(scopes=["Orders.Read"])
    def list_orders(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("ok")

    ctx = Ctx(base_url=issuer.base_url, now=clock(), key=issuer.signer, attacker=make_key(index=9, kid="evil"))
    tokens = [case.build(ctx) for case in ATTACKS]
    with watched_logs() as logs:
        for token in tokens:
            list_orders(http_request(token))
    assert len(logs.records) >= len(tokens)
    assert_no_token_material(logs.records, tokens, [ctx.claims()])


def test_the_record_names_its_source_and_formats_as_one_line(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    record = one_admitted_call(protected, issuer, clock, caplog)
    assert (record.module, record.funcName) == ("decision_log", "log_decision")
    assert record.lineno > 0
    assert record.getMessage() == (
        f"auth allow function=list_orders status=200 reason=authorized tid={HOME_TENANT} oid={USER_OID} "
        f"client_app_id={SPA_CLIENT_ID} kid={issuer.signer.kid}"
    )


def test_a_record_factory_and_a_logger_filter_still_apply(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Telemetry distributions hook the record factory, and apps filter on the logger."""
    caplog.set_level(logging.DEBUG, logger="authorizer")
    default_factory = logging.getLogRecordFactory()

    def tagged(*args: object, **kwargs: object) -> logging.LogRecord:
        record = default_factory(*args, **kwargs)
        record.tagged = True
        return record

    def no_allow(record: logging.LogRecord) -> bool:
        return record.levelno != logging.DEBUG

    logger = logging.getLogger("authorizer")
    logging.setLogRecordFactory(tagged)
    try:
        protected(http_request(issuer.token(clock())))
        logger.addFilter(no_allow)
        try:
            protected(http_request(issuer.token(clock())))
            protected(http_request(issuer.token(clock(), scp="Other.Scope")))
        finally:
            logger.removeFilter(no_allow)
    finally:
        logging.setLogRecordFactory(default_factory)
    records = decisions(caplog)
    assert [record.auth["reason"] for record in records] == ["authorized", "InsufficientScope"]  # type: ignore[attr-defined]
    assert all(getattr(record, "tagged", False) for record in records)


@pytest.mark.parametrize(
    ("oid", "written"),
    [
        ("o" * 128, "o" * 128),
        ("o" * 129, "<unprintable>"),
        ("two words", "<unprintable>"),
        ("line\nbreak", "<unprintable>"),
    ],
)
def test_ids_are_written_only_when_short_and_plain_however_often_seen(
    oid: str, written: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="authorizer")
    for _ in range(3):
        log_decision("list_orders", 200, "authorized", Trace(kid="k", claims={"oid": oid}))
    assert [record.auth["oid"] for record in decisions(caplog)] == [written] * 3  # type: ignore[attr-defined]


def test_the_memo_of_checked_ids_stays_bounded() -> None:
    logger = logging.getLogger("authorizer")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        for index in range(decision_log._MEMO_SIZE + 10):
            log_decision("f", 401, "BadSignature", Trace(kid=f"kid-{index}"))
        # A long id is refused without being remembered: the memo holds only short strings.
        log_decision("f", 401, "BadSignature", Trace(kid="k" * 4000))
    finally:
        logger.setLevel(level)
    assert 0 < len(decision_log._printable) <= decision_log._MEMO_SIZE
    assert max(map(len, decision_log._printable)) <= 128


def test_under_the_workers_info_level_only_refusals_are_written_and_one_line_turns_the_audit_on(
    protected: func.Function, issuer: LocalIssuer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # The Functions worker sets the root logger to INFO: admitted calls then build no record at all.
    caplog.set_level(logging.INFO)
    protected(http_request(issuer.token(clock())))
    protected(http_request(issuer.token(clock(), scp="Other.Scope")))
    assert [record.auth["outcome"] for record in decisions(caplog)] == ["deny"]  # type: ignore[attr-defined]
    logger = logging.getLogger("authorizer")
    # The documented line for an audit trail of admitted calls (and a capture that takes DEBUG).
    logger.setLevel(logging.DEBUG)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        protected(http_request(issuer.token(clock())))
    finally:
        logger.setLevel(logging.NOTSET)
    assert [record.auth["outcome"] for record in decisions(caplog)] == ["deny", "allow"]  # type: ignore[attr-defined]
