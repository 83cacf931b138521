"""The ``policy`` command: ``main`` parses the arguments and runs one command; ``ledger`` holds the
commands that read and write the ledger."""

from policy.cli.commands import main

__all__ = ["main"]
