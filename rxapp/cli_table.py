"""The CLI's table shapes (rxapp/__main__.py's COMMANDS): a command is one row, its arguments are
`add_argument` calls written as data, and the arguments several commands share are named once."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Arg:
    """One `add_argument` call: its flags and options."""

    flags: tuple[str, ...]
    options: dict[str, Any]


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


@dataclass(frozen=True)
class Command:
    name: str
    handler: Callable[[argparse.Namespace], int]
    help: str
    args: tuple[Arg, ...]


EMAIL = arg("email")
KEY_ID = arg("key_id")
WORKSPACE = arg("--workspace", default="", help="workspace name (default: personal)")
