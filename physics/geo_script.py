"""gmsh `.geo` files are programs: before gmsh runs one, refuse what could act outside the mesh.

The script, and every file it includes, is read as gmsh's lexer reads it (comments and strings
skipped) and refused when it names a command that runs a program (`SystemCall`, `System`,
`NonBlockingSystemCall`, `OnelabRun`), writes or deletes files (`Save`, `Print`, `Printf ... >`,
`CreateDir`, `Plugin(...)`), ends or stalls the process (`Exit`, `Abort`, `Sleep`, `GetValue`),
reads the environment (`GetEnv`), or sets options outside `Mesh.*` and `Geometry.*` (some make
gmsh write files). Files it reads or probes (`Include`, `Merge`, `ShapeFromFile`, `ListFromFile`,
`FileExists`) must be literal paths to regular files inside the top-level script's folder;
included scripts are checked the same way, and so is a merged file that gmsh runs as a script
(`is_data`). Names are compared case-insensitively, which refuses more than gmsh would run.
What passes still runs in a child process bounded in time and memory
(`twinkit.physics.gmsh_child`): loops, too fine meshes and gmsh's own crashes stop there.
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_BYTES = 5_000_000  # one script file
MAX_FILES = 50  # scripts read through Include/Merge
# commands and functions refused wherever they appear (lower case)
REFUSED = {
    "systemcall": "runs a program",
    "nonblockingsystemcall": "runs a program",
    "system": "runs a program",
    "onelabrun": "runs a program",
    "onelabaction": "drives ONELAB clients",
    "sendtoserver": "talks to a ONELAB server",
    "save": "writes a file",
    "print": "writes a file",
    "createdir": "creates a folder",
    "deletefile": "deletes a file",
    "renamefile": "renames a file",
    "plugin": "runs a plugin (some write files)",
    "exit": "ends the process",
    "abort": "ends the process",
    "sleep": "stalls the process",
    "getvalue": "waits for input",
    "getstringvalue": "waits for input",
    "getenv": "reads the environment",
}
READS = {"include", "merge", "mergewithboundingbox", "shapefromfile", "listfromfile", "fileexists"}
SCRIPTS = {"include"}  # parsed as .geo; Merge parses a file as .geo unless it is data (is_data)
# read by these extensions' own readers (lower or upper case, as gmsh compares them)
BY_EXTENSION = {".step", ".stp", ".brep", ".iges", ".igs", ".stl", ".med", ".unv", ".vtk"}
# any other file (.msh and .pos too) gmsh reads by its first bytes: a mesh or a view if they
# are one of these (gmsh's MergeFile), else it runs it as a script
DATA_HEADERS = (b"$PTS", b"$NO", b"$PARA", b"$ELM", b"$MeshFormat", b"$Comments", b"$PostFormat",
                b"$View")  # fmt: skip
OPTIONS = {"mesh", "geometry"}  # option categories a script may set
ASSIGN = {"=", "+=", "-=", "*=", "/="}

_TOKEN = re.compile(
    r"""(?P<skip>//[^\n]*|/\*.*?(?:\*/|\Z)|\s+)
      | (?P<str>"[^"]*(?:"|\Z)|'[^']*(?:'|\Z))
      | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<op>>>|\+=|-=|\*=|/=|==|.)""",
    re.S | re.X,
)


class ScriptError(ValueError):
    """A gmsh script holds something twinkit does not run (message names file, line, command)."""


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) of each token: 'str' (without quotes), 'id', 'num', 'op'."""
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "skip" or kind is None:
            continue
        tok = m.group()
        if kind == "str":
            tok = tok[1:-1] if len(tok) > 1 and tok[-1] == tok[0] else tok[1:]
        out.append((kind, tok, m.start()))
    return out


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_script(path: Path, root: Path | None = None) -> None:
    """ScriptError if the gmsh script `path`, or a file it reads, could act outside the mesh:
    see the module's docstring. `root`: the folder every file it reads must lie in (default:
    the script's own folder)."""
    root = (root or path.parent).resolve()
    todo, seen = [path.resolve()], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        if len(seen) > MAX_FILES:
            raise ScriptError(f"{path}: reads more than {MAX_FILES} script files")
        todo += _check_file(current, root)


def _check_file(path: Path, root: Path) -> list[Path]:
    """Check one script; returns the scripts it reads."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise ScriptError(f"{path}: cannot read it ({e.strerror})") from None
    if len(data) > MAX_BYTES:
        raise ScriptError(f"{path}: a script of more than {MAX_BYTES:,} bytes")
    text = data.decode("utf-8", errors="replace")
    toks = _tokens(text)

    def refuse(i: int, why: str) -> ScriptError:
        line = text.count("\n", 0, toks[i][2]) + 1
        return ScriptError(
            f"{path}, line {line}: '{toks[i][1][:40]}' {why}; twinkit does not run gmsh scripts "
            "that run programs, write files, read anything but files in their folder or set "
            "options other than Mesh.* and Geometry.*"
        )

    scripts = []
    for i, (kind, tok, _) in enumerate(toks):
        if kind != "id":
            continue
        word = tok.lower()
        nxt = toks[i + 1] if i + 1 < len(toks) else ("", "", 0)
        if word in REFUSED:
            raise refuse(i, REFUSED[word])
        if word == "printf" and _redirects(toks, i + 1):
            raise refuse(i, "writes a file (Printf ... > file)")
        if nxt[1] in (".", "[") and _sets_option(toks, i):
            if word not in OPTIONS:
                raise refuse(i, "sets an option outside Mesh.* and Geometry.*")
        if word in READS:
            j = i + 2 if nxt[1] == "(" else i + 1
            if j >= len(toks) or toks[j][0] != "str":
                raise refuse(i, "reads a file named by an expression, not a literal path")
            target = (path.parent / toks[j][1]).resolve()
            if not _inside(target, root):
                raise refuse(i, f"reads {toks[j][1][:80]!r}, outside {root}")
            if target.exists() and not target.is_file():  # a FIFO or a device would block
                raise refuse(i, f"reads {toks[j][1][:80]!r}, which is not a regular file")
            if target.suffix.lower() == ".gz":
                raise refuse(i, "reads a compressed file (gmsh runs gunzip on it)")
            if word in SCRIPTS or (word.startswith("merge") and not is_data(target)):
                scripts.append(target)
    return scripts


def is_data(path: Path) -> bool:
    """Whether gmsh reads ``path`` as data (a mesh, a view, CAD), not as a script: a `.msh` or
    `.pos` file that does not begin as one is run as a `.geo` (SystemCall and all)."""
    ext = path.suffix
    if ext.lower() in BY_EXTENSION and ext in (ext.lower(), ext.upper()):
        return True
    try:
        with path.open("rb") as f:
            return f.read(16).startswith(DATA_HEADERS)
    except OSError:
        return False


def _redirects(toks: list[tuple[str, str, int]], i: int) -> bool:
    """Whether the Printf(...) starting at token `i` is followed by `>` or `>>`."""
    if i >= len(toks) or toks[i][1] != "(":
        return False
    depth = 0
    for j in range(i, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[j][1], 0) if toks[j][0] == "op" else 0
        if depth == 0:
            return j + 1 < len(toks) and toks[j + 1][1] in (">", ">>")
    return False


def _sets_option(toks: list[tuple[str, str, int]], i: int) -> bool:
    """Whether `Name[...].Option op` (an option or struct assignment) starts at token `i`."""
    j = i + 1
    if toks[j][1] == "[":
        depth = 0
        while j < len(toks):
            depth += {"[": 1, "]": -1}.get(toks[j][1], 0) if toks[j][0] == "op" else 0
            j += 1
            if depth == 0:
                break
    return (
        j + 2 < len(toks)
        and toks[j][1] == "."
        and toks[j + 1][0] == "id"
        and toks[j + 2][1] in ASSIGN
    )
