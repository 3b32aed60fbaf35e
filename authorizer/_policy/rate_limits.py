"""Per-caller rate limits: the settings, the notation, and the headers a client reads.

Limits use the `limits` library's notation ("60/minute", several separated by ";") and its
sliding-window counter: fair at window edges (the previous window's count weighs in by how much of
it is still inside the window) at the cost of two counters per caller and limit, where a moving
window keeps a timestamp per request. The `ratelimit` extra installs it; an app that sets no limit
never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._settings.app_settings import SettingsReader
from .._settings.extras import missing_distributions

if TYPE_CHECKING:
    from limits import RateLimitItem

INSTALL_COMMAND = "pip install 'entra-functions-authorizer[ratelimit]'"
STORES = ("memory://", "redis://", "rediss://")
ON_STORE_ERROR = ("allow", "deny")
UNREADABLE_STORE = (
    "cannot be read as redis://[:password@]host[:port][/db] (or rediss://). An access key holds '/', '+' "
    "or '=', and '/' ends the host part: put the key in RATE_LIMIT_REDIS_PASSWORD, or URL-encode it"
)


@dataclass(frozen=True)
class RateLimitSettings:
    """Where the counters live and what happens when that store fails."""

    # "memory://" counts per instance; redis:// and rediss:// share the count between instances.
    storage_url: str
    # Where the store is, for logs and the doctor: scheme, host and port, never a password.
    store_location: str
    password: str | None
    # Deadline of one store call, and the pause after a failed one before the store is tried again.
    timeout_seconds: float
    backoff_seconds: float
    # "allow" (availability first) or "deny" (503) while the store cannot be had.
    on_store_error: str
    # What functions without a limit of their own get; "" for none.
    default: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RateLimitSettings:
        """Read and check the settings.

        Raises:
            ConfigurationError: naming the first setting that is invalid.
        """
        reader = SettingsReader(environ)
        url = reader.text("RATE_LIMIT_STORAGE_URL") or "memory://"
        if not url.startswith(STORES):
            raise ConfigurationError("RATE_LIMIT_STORAGE_URL", "must be memory://, redis://host:port or rediss://...")
        location = store_location(url)
        on_error = reader.text("RATE_LIMIT_ON_STORE_ERROR").lower() or "allow"
        if on_error not in ON_STORE_ERROR:
            raise ConfigurationError("RATE_LIMIT_ON_STORE_ERROR", "must be allow or deny")
        default = reader.text("RATE_LIMIT_DEFAULT")
        if default:
            parse_limits(default, "RATE_LIMIT_DEFAULT")
        return cls(
            storage_url=url,
            store_location=location,
            password=reader.text("RATE_LIMIT_REDIS_PASSWORD") or None,
            timeout_seconds=reader.number("RATE_LIMIT_STORE_TIMEOUT_MS", int, 50, 5, 5000) / 1000,
            backoff_seconds=reader.number("RATE_LIMIT_STORE_BACKOFF_SECONDS", int, 5, 1, 300),
            on_store_error=on_error,
            default=default,
        )


def store_location(url: str) -> str:
    """scheme://host:port of a store URL, checked as Redis reads it, with no I/O.

    Raises:
        ConfigurationError: a Redis URL the client could not use (the message never repeats it).
    """
    if url.startswith("memory://"):
        return "memory://"
    parts = urlsplit(url)
    try:
        port = parts.port or 6379
    except ValueError:
        raise ConfigurationError("RATE_LIMIT_STORAGE_URL", UNREADABLE_STORE) from None
    database = parts.path.strip("/")
    # A key cut at its "/" leaves no host, an unreadable port, or its tail where the database goes.
    if not parts.hostname or (database and not (database.isascii() and database.isdigit())):
        raise ConfigurationError("RATE_LIMIT_STORAGE_URL", UNREADABLE_STORE)
    return f"{parts.scheme}://{parts.hostname}:{port}"


def parse_limits(notation: str, where: str) -> tuple[RateLimitItem, ...]:
    """Parse "10/second;600/hour", shortest window first.

    Raises:
        ConfigurationError: not the limits notation, or the ratelimit extra is missing.
    """
    if missing_distributions("limits"):
        raise ConfigurationError(where, f"rate limits need the `limits` library: {INSTALL_COMMAND}")
    from limits import parse_many

    try:
        items = parse_many(notation)
    except ValueError:
        raise ConfigurationError(
            where, f"{notation!r} is not a rate limit such as 60/minute or 10/second;600/hour"
        ) from None
    if any(item.amount < 1 for item in items):
        raise ConfigurationError(where, "a rate limit allows at least one request")
    return tuple(sorted(items, key=lambda item: item.get_expiry()))


def policy_name(item: RateLimitItem) -> str:
    return f"{item.amount}/{item.get_expiry()}s"


def policy_header(items: tuple[RateLimitItem, ...]) -> str:
    """RateLimit-Policy (IETF HTTPAPI draft): each policy with its quota q and window w in seconds."""
    return ", ".join(f'"{policy_name(item)}";q={item.amount};w={item.get_expiry()}' for item in items)


def state_header(states: list[tuple[RateLimitItem, int, int]]) -> str:
    """RateLimit: each policy with the requests r still allowed and t, the seconds until more are."""
    return ", ".join(f'"{policy_name(item)}";r={remaining};t={reset}' for item, remaining, reset in states)
