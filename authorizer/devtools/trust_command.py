"""`python -m authorizer trust-dev-ca`: make this user's browsers trust the local issuer's CA, once."""

from __future__ import annotations

import argparse
import subprocess

from . import require_development
from .dev_ca import ensure_certificates, trust
from .state import dev_home


def add_arguments(parser: argparse.ArgumentParser) -> None:
    return


def run(args: argparse.Namespace) -> int:
    """Trust the CA (made now if need be); 0 when done, 2 when a tool is missing or failed."""
    require_development()
    certificates = ensure_certificates(dev_home())
    try:
        ran = trust(certificates.ca_bundle)
    except FileNotFoundError as error:
        print(f"cannot trust the development CA: {error}")
        return 2
    except subprocess.CalledProcessError as error:
        print(f"cannot trust the development CA: {' '.join(error.cmd)} failed: {error.stderr.decode()[-500:]}")
        return 2
    for line in ran:
        print(f"ran: {line}")
    print(f"trusted {certificates.ca_bundle} for this user's browsers; restart the browser if it was open")
    return 0
