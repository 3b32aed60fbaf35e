"""`python -m authorizer <command>`: development and operations tools, each loaded on demand."""

from __future__ import annotations

import argparse
import importlib
import sys

from ._errors import ConfigurationError

# command -> (module with add_arguments(parser) and run(args) -> exit code, one-line help)
COMMANDS = {
    "doctor": ("authorizer._doctor.command", "check settings, discovery, keys and the tenant list; print fixes"),
    "issuer": ("authorizer.devtools._issuer", "run the local development issuer (https://127.0.0.1:7443)"),
    "token": ("authorizer.devtools._token_command", "print a token from the local development issuer"),
    "trust-dev-ca": ("authorizer.devtools._trust_command", "make this user's browsers trust the local issuer's CA"),
    "local-settings": (
        "authorizer.devtools._app_folder",
        "write a starter local.settings.json against the local issuer (never replaces one)",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m authorizer")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, summary) in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(commands.add_parser(name, help=summary, description=summary))
    args = parser.parse_args(argv)
    try:
        exit_code: int = importlib.import_module(COMMANDS[args.command][0]).run(args)
    except ConfigurationError as error:
        # A refusal a user can act on (outside Development, say): the sentence, not a traceback.
        print(f"python -m authorizer {args.command}: {error}")
        return 2
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
