"""``vcval serve`` and ``vcval upload``: defined by the :mod:`server` package (argparse only at this point);
the server itself is imported when one of its commands runs."""

from __future__ import annotations


def register(subparsers) -> None:
    from server import cli

    cli.register(subparsers)
