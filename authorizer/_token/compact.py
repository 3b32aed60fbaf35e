"""Strict compact JWS parsing (RFC 7515 section 7.1). Pure: no I/O, no key lookup."""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypeGuard

from .._errors import MalformedToken, TokenTooLarge

# Entra tokens are 1-4 KB; a token with a large group list stays well below this.
MAX_TOKEN_LENGTH = 16 * 1024

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {char: index for index, char in enumerate(_ALPHABET)}
# One C pass maps base64url to standard base64 and turns "+", "/" and "=" (no place in base64url)
# into "!", which strict decoding refuses: no separate scan for them.
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")
# Tokens of one issuer share a few header segments: parse each once (bounded).
_HEADER_MEMO_SIZE = 256
_headers: dict[str, Mapping[str, Any]] = {}


class CompactJws(NamedTuple):
    """A parsed but unverified token: only the header may be read before verification."""

    header: Mapping[str, Any]
    signing_input: bytes
    payload: bytes
    signature: bytes


def parse(token: str) -> CompactJws:
    """Split and decode a compact JWS without trusting any of it.

    Raises:
        TokenTooLarge: over MAX_TOKEN_LENGTH, checked before any parsing.
        MalformedToken: not exactly three canonical base64url segments (an empty signature
            allowed), or a header that is not a UTF-8 JSON object.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenTooLarge()
    segments = token.split(".")
    if len(segments) != 3:
        raise MalformedToken()
    header_segment, payload_segment, signature_segment = segments
    if not header_segment or not payload_segment:
        raise MalformedToken()
    header = _headers.get(header_segment)
    if header is None:
        header = _remember_header(header_segment)
    # Decoding base64 reads no claim: the payload's JSON waits for the signature.
    payload = decode_segment(payload_segment)
    # Empty is a valid spelling of no signature (alg "none"); check_header refuses that alg.
    signature = decode_segment(signature_segment) if signature_segment else b""
    return CompactJws(header, token.rpartition(".")[0].encode("ascii"), payload, signature)


def decode_segment(segment: str) -> bytes:
    """Decode one unpadded base64url segment, refusing any non-canonical spelling.

    Raises:
        MalformedToken: padded, outside the alphabet, or with non-zero spare bits (two
            spellings of one token would defeat caches, replay checks and logs).
    """
    remainder = len(segment) % 4
    if remainder == 1:
        raise MalformedToken()
    if remainder:
        spare_bits_mask = 0b1111 if remainder == 2 else 0b11
        if _VALUE.get(segment[-1], 1) & spare_bits_mask:
            raise MalformedToken()
    try:
        standard = segment.encode("ascii").translate(_TO_STANDARD_ALPHABET) + _PADDING[remainder]
        return binascii.a2b_base64(standard, strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedToken() from None


def decode_payload(jws: CompactJws) -> dict[str, Any]:
    """Decode the payload's JSON; call only after the signature verified.

    Raises:
        MalformedToken: the payload is not a UTF-8 JSON object with unique member names.
    """
    return decode_object(jws.payload)


def decode_object(raw: bytes) -> dict[str, Any]:
    """Decode a UTF-8 JSON object with unique member names.

    Raises:
        MalformedToken: anything else, including duplicate names (which parsers resolve
            differently) and NaN or Infinity.
    """
    try:
        # raw_decode skips decode()'s whitespace regexes: a token's JSON carries none around it.
        text = raw.decode("utf-8")
        value, end = _DECODER.raw_decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise MalformedToken() from None
    if type(value) is not dict or end != len(text):
        raise MalformedToken()
    return value


def is_number(value: object) -> TypeGuard[int | float]:
    """A JSON number: int or finite float, never bool (a bool is an int in Python)."""
    if type(value) is int:
        return True
    return type(value) is float and math.isfinite(value)


def _remember_header(segment: str) -> Mapping[str, Any]:
    # Read-only: one parsed header is shared by every token that carries it.
    header = MappingProxyType(decode_object(decode_segment(segment)))
    if len(_headers) >= _HEADER_MEMO_SIZE:
        _headers.clear()
    _headers[segment] = header
    return header


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")
    return members


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Built once: json.loads with keyword arguments would build a decoder on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_refuse_constant)
