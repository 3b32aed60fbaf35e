"""`python -m authorizer trust-dev-ca`: make this user's browsers trust the local issuer's CA (`--undo`: no more)."""

from __future__ import annotations

import argparse
import subprocess

from . import require_development
from ._dev_ca import ensure_certificates, trust, untrust
from ._state import dev_home


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--undo", action="store_true", help="remove every development CA of ours from the browsers")


def run(args: argparse.Namespace) -> int:
    """Trust the CA (made now if need be), or undo that; 0 when done, 2 when a tool is missing or failed."""
    require_development()
    try:
        if args.undo:
            ran = untrust()
        else:
            certificates = ensure_certificates(dev_home())
            ran = trust(certificates.ca_bundle)
    except FileNotFoundError as error:
        print(f"cannot change the browsers' trust: {error}")
        return 2
    except subprocess.CalledProcessError as error:
        print(f"cannot trust the development CA: {' '.join(error.cmd)} failed: {error.stderr.decode()[-500:]}")
        return 2
    for line in ran:
        print(f"ran: {line}")
    if args.undo:
        print("removed" if ran else "nothing to remove: no development CA of ours was trusted")
    else:
        print(
            f"trusted {certificates.ca_bundle} for this user's browsers (for 127.0.0.1 and localhost only); restart "
            "the browser if it was open. `python -m authorizer trust-dev-ca --undo` takes it back."
        )
    return 0
