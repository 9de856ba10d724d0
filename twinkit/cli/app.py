"""The typer application, the error policy (one message, exit code 2 for bad input, 1 for a
computation that failed, 3 for a result out of range under --strict, 130 when interrupted by
SIGINT (Ctrl-C), 143 by SIGTERM; a traceback only with --debug), shared options."""

from __future__ import annotations

import errno
import os
import re
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="twinkit: physics-based product twins from case files.",
)
state = {"debug": False}

EXIT_INVALID = 2  # bad case file, unit, mesh, option
EXIT_FAILED = 1  # the computation ran but did not succeed (e.g. solver did not converge)
EXIT_OUT_OF_RANGE = 3  # calibrate --strict: an estimate or a measured input outside its range
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C); SIGTERM: 143 (128 + the signal's number)

USER_ERRORS = {
    "twinkit.case": "CaseError",
    "twinkit.case.units": "UnitError",
    "twinkit.physics.domain": "MeshError",
    "twinkit.physics.probes": "ProbeError",
    "twinkit.files": "OutsideFolder",
}

CaseArg = Annotated[Path, typer.Argument(help="Case file (YAML).", show_default=False)]


def is_user_error(e: BaseException) -> bool:
    for module, cls in USER_ERRORS.items():
        mod = sys.modules.get(module)
        if mod is not None and isinstance(e, getattr(mod, cls)):
            return True
    return False


def rank() -> int:
    mpi = sys.modules.get("mpi4py.MPI")
    return int(mpi.COMM_WORLD.rank) if mpi is not None else 0


# control characters (C0, C1, bidirectional overrides) a message may quote from a hostile file:
# printed as escapes, so that they cannot retitle, recolour or reorder the user's terminal
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(message: str) -> str:
    """``message`` as the terminal gets it: secrets redacted, control characters escaped."""
    from twinkit.redaction import redact_all

    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], redact_all(message))


def out_folder(value: Path | None) -> Path | None:
    """`--out`: a folder, or a path where one can be made (typer's exit code 2 otherwise)."""
    if value is None:
        return None
    try:
        if value.exists() and not value.is_dir():
            raise typer.BadParameter(f"'{shown(str(value))}' is a file, not a folder")
        above = value.absolute()
        while not above.exists():
            if above.is_symlink():  # exists() is False for a link to nothing or in a loop
                raise typer.BadParameter(
                    f"'{shown(str(value))}': '{shown(above.name)}' is a symbolic link that leads "
                    "nowhere (or to itself)"
                )
            above = above.parent
    except OSError as e:  # a folder on the way that cannot be looked into
        raise typer.BadParameter(f"'{shown(str(value))}': {e.strerror}") from None
    if not above.is_dir() or not os.access(above, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"cannot make a folder in '{shown(str(above))}'")
    return value


# an OSError with one of these, about a path a command was given (or one below it), is the
# user's input; about any other path (a temporary file, a library's) it is not
USER_OS_ERRORS = {"EEXIST", "ENOTDIR", "EISDIR", "EACCES", "EPERM", "EROFS", "ENOENT", "ELOOP"}


def _given_path(e: OSError, kwargs: dict) -> bool:
    """Whether ``e`` is about one of the paths in a command's arguments ``kwargs`` (or below)."""
    code = errno.errorcode.get(e.errno or 0, "")
    if not e.filename or code not in USER_OS_ERRORS:
        return False
    where = Path(os.fsdecode(e.filename)).absolute()
    given = [Path(v).absolute() for v in kwargs.values() if isinstance(v, Path)]
    return any(where == g or g in where.parents for g in given)


def fail(message: str, code: int) -> NoReturn:
    if rank() == 0:
        typer.secho(f"error: {shown(message)}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _abort_other_ranks(e: Exception) -> None:
    """Under mpirun, one rank's error would leave the others waiting forever: say it, abort all."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or mpi.COMM_WORLD.size == 1:
        return
    code = EXIT_INVALID if is_user_error(e) else EXIT_FAILED
    typer.secho(f"error (rank {rank()}): {shown(str(e))}", fg=typer.colors.RED, err=True)
    mpi.COMM_WORLD.Abort(code)


def guard(fn):
    """Run a command body; user errors become one message and exit code 2, never a traceback."""
    import functools

    from twinkit.process import interruptible

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with interruptible():
            return _run(fn, *args, **kwargs)

    return wrapper


def _run(fn, *args, **kwargs):
    from twinkit.process import exit_interrupted, interrupted

    try:
        return fn(*args, **kwargs)
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        if state["debug"]:
            import traceback

            traceback.print_exc()
        if interrupted() is None:  # raised, not signalled
            fail("interrupted", EXIT_INTERRUPTED)
        exit_interrupted(say=rank() == 0)  # what was finished is stored; 130 or 143
    except Exception as e:
        if state["debug"]:
            raise
        _abort_other_ranks(e)
        if is_user_error(e):
            fail(str(e), EXIT_INVALID)
        if isinstance(e, OSError) and _given_path(e, kwargs):
            fail(f"{e.filename}: {e.strerror}", EXIT_INVALID)  # `--out` in /proc, ...
        fail(f"{type(e).__name__}: {e} (run with --debug for the traceback)", EXIT_FAILED)


def _version(value: bool) -> None:
    if value:
        from twinkit.version import __version__

        typer.echo(f"twinkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    state["debug"] = debug


def parse_sets(sets: list[str]) -> dict[str, str]:
    """`--set name=value` options as {name: value}."""
    out = {}
    for s in sets:
        name, eq, value = s.partition("=")
        if not eq or not name.strip() or not value.strip():
            from twinkit.case import CaseError

            raise CaseError(f"--set '{s}': expected name=value, e.g. --set thickness='6 mm'")
        out[name.strip()] = value.strip()
    return out
