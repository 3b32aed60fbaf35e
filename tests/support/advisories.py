"""Known advisories on the paths we use: a dependency floor must exclude every version they affect.

Kept by hand (this machine reaches no advisory database); refresh it from the GitHub Advisory Database
or `pip-audit -r requirements.txt` on a machine with internet, and raise the floors it names.
"""

from __future__ import annotations

from typing import NamedTuple


class Advisory(NamedTuple):
    distribution: str
    # The first release without any of the advisories below.
    fixed_in: str
    advisories: str
    our_path: str


ADVISORIES = (
    Advisory(
        "urllib3",
        "2.6.0",
        "CVE-2025-66471, CVE-2025-66418 (multi-encoded bodies decompressed without bound); CVE-2025-50181/50182",
        "every metadata and key fetch",
    ),
    Advisory(
        "requests",
        "2.32.4",
        "CVE-2024-47081 (.netrc credentials sent to another host); CVE-2024-35195",
        "every metadata and key fetch",
    ),
    Advisory(
        "cryptography",
        "44.0.1",
        "CVE-2024-12797 and GHSA-h4gh-qq45-vh27 (the OpenSSL in its wheels); CVE-2024-26130",
        "the RS256 verify, the development CA",
    ),
    Advisory(
        "PyJWT",
        "2.10.1",
        "CVE-2024-53861 (issuer compared by containment); CVE-2022-29217",
        "reading JWKS keys",
    ),
    Advisory(
        "azure-identity",
        "1.16.1",
        "CVE-2024-35255 (elevation of privilege through the managed identity credential)",
        "the Key Vault tenant list",
    ),
    Advisory(
        "redis",
        "4.5.4",
        "CVE-2023-28858, CVE-2023-28859 (a cancelled command's reply read by the next one)",
        "the shared rate-limit store",
    ),
)
