"""Strict compact JWS parsing (RFC 7515 section 7.1). Pure: no I/O, no key lookup."""

from __future__ import annotations

import binascii
import json
import math
import re
from base64 import urlsafe_b64decode
from dataclasses import dataclass
from typing import Any, TypeGuard

from .errors import MalformedToken, TokenTooLarge

# Entra tokens are 1-4 KB; a token with a large group list stays well below this.
MAX_TOKEN_LENGTH = 16 * 1024

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {char: index for index, char in enumerate(_ALPHABET)}


@dataclass(frozen=True, slots=True)
class CompactJws:
    """A parsed but unverified token: only the header may be read before verification."""

    header: dict[str, Any]
    signing_input: bytes
    payload_segment: str
    signature: bytes


def parse(token: str) -> CompactJws:
    """Split and decode a compact JWS without trusting any of it.

    Raises:
        TokenTooLarge: over MAX_TOKEN_LENGTH, checked before any parsing.
        MalformedToken: not exactly three canonical base64url segments, or a header
            that is not a UTF-8 JSON object.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenTooLarge()
    segments = token.split(".")
    if len(segments) != 3:
        raise MalformedToken()
    header_segment, payload_segment, signature_segment = segments
    header = decode_json_object(header_segment)
    _ascii_check(payload_segment)
    # Empty is a valid spelling of no signature (alg "none"); check_header refuses that alg.
    signature = decode_segment(signature_segment) if signature_segment else b""
    return CompactJws(
        header=header,
        signing_input=f"{header_segment}.{payload_segment}".encode("ascii"),
        payload_segment=payload_segment,
        signature=signature,
    )


def decode_segment(segment: str) -> bytes:
    """Decode one unpadded base64url segment, refusing any non-canonical spelling.

    Raises:
        MalformedToken: empty, padded, outside the alphabet, or with non-zero spare bits
            (two spellings of one token would defeat replay caches and logs).
    """
    _ascii_check(segment)
    remainder = len(segment) % 4
    if remainder == 1:
        raise MalformedToken()
    if remainder:
        spare_bits_mask = 0b1111 if remainder == 2 else 0b11
        if _VALUE[segment[-1]] & spare_bits_mask:
            raise MalformedToken()
    try:
        return urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error:
        raise MalformedToken() from None


def decode_json_object(segment: str) -> dict[str, Any]:
    """Decode a segment holding a UTF-8 JSON object with unique member names.

    Raises:
        MalformedToken: anything else, including duplicate names (which parsers resolve
            differently) and NaN or Infinity.
    """
    raw = decode_segment(segment)
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_unique_members, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedToken() from None
    if not isinstance(value, dict):
        raise MalformedToken()
    return value


def is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number: int or finite float, never bool (a bool is an int in Python)."""
    if type(value) is int:
        return True
    return type(value) is float and math.isfinite(value)


def _ascii_check(segment: str) -> None:
    if not _SEGMENT.fullmatch(segment):
        raise MalformedToken()


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")
    return members


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
