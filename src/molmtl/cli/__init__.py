"""The ``molmtl`` command line (Typer). CLI strings become library objects here and only here.

Each sub-module defines ``register(app)``; errors meant for the user (``MolmtlError``) become
one sentence on stderr and exit code 2, as do usage errors (an unknown option, a value of the
wrong type), which name the command's ``--help``; a calculation that ran and failed
(``CalculationError``: no SCF convergence) is ``error: calculation failed: ...`` and exit code 1.
"""

from __future__ import annotations

import logging
import sys

import typer

# typer (pinned) carries its own copy of click; these two are not re-exported at its top level
from typer._click.exceptions import NoArgsIsHelpError, UsageError

from molmtl import __version__
from molmtl.cli import (
    blend,
    calibrate,
    compare,
    data,
    dft,
    evaluate,
    plugins,
    predict,
    refit,
    relate,
    serve,
    train,
)
from molmtl.errors import CalculationError, MolmtlError

app = typer.Typer(
    name="molmtl",
    help="Multi-task learning for molecular properties (QM9's 19 targets), with DFT at QM9's level.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"molmtl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress at DEBUG level."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log warnings and errors only."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    for noisy in ("matplotlib", "PIL", "distributed", "fsspec", "numba"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


_registered = False


def _register_all() -> None:
    """Add every command group's commands to ``app`` (once)."""
    global _registered
    if _registered:
        return
    for module in (data, dft, train, evaluate, calibrate, refit, blend, predict, compare, plugins, relate, serve):
        module.register(app)
    _registered = True


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns (and, called without ``argv``, exits with) the exit code.

    Typer runs outside click's standalone mode, so that a usage error is one line here (click's
    own report is a framed box with the usage above it); ``--help`` is click's.
    """
    _register_all()
    try:
        code = app(args=argv, prog_name="molmtl", standalone_mode=False)
        code = code if isinstance(code, int) and not isinstance(code, bool) else 0
    except NoArgsIsHelpError as exc:  # a bare group: its help, as click shows it (typer's prints it itself)
        text = exc.ctx.get_help() if exc.ctx is not None else ""
        if text:
            typer.echo(text)
        code = 2
    except UsageError as exc:
        where = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        typer.echo(f"error: {exc.format_message()}{where}", err=True)
        code = 2
    except typer.Abort:  # end of input at a prompt
        typer.echo("error: interrupted; finished results are kept.", err=True)
        code = 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        typer.echo("error: interrupted; finished results are kept.", err=True)
        code = 130
    except CalculationError as exc:  # the input was fine; the numerics failed on it (SCF, a singular matrix)
        typer.echo(f"error: calculation failed: {exc}", err=True)
        code = 1
    except MolmtlError as exc:
        typer.echo(f"error: {exc}", err=True)
        code = 2
    except OSError as exc:  # an output folder that cannot be made, a full disk, no permission
        where = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"error: {exc.strerror or exc}{where}", err=True)
        code = 2
    if argv is None:
        sys.exit(code)
    return code
