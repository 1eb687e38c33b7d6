"""The ``qianbao`` command."""

from __future__ import annotations

import typer

app = typer.Typer(help="Qianbao wallet, payment and credit platform.", no_args_is_help=True)
