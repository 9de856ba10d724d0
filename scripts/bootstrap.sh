#!/usr/bin/env bash
# Create .venv with Python >= 3.12 and install twinkit with its dev tools.
# Usage: scripts/bootstrap.sh [EXTRAS]   (default extras: dev)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }

find_python() {
    local c
    for c in "${PYTHON:-}" python3.13 python3.12 python3; do
        [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && ok "$c" && { command -v "$c"; return; }
    done
    # pyenv installs versions that are not on PATH unless selected
    for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
        [ -x "$c" ] && ok "$c" && { echo "$c"; return; }
    done
    return 1
}

if [ ! -x .venv/bin/python ] || ! ok .venv/bin/python; then
    if ! py=$(find_python); then
        echo "twinkit needs Python >= 3.12, and none was found (tried \$PYTHON, python3.13," \
             "python3.12, python3 and pyenv versions). Install Python 3.12 and retry," \
             "or point PYTHON at it: make PYTHON=/path/to/python3.12 demo" >&2
        exit 1
    fi
    echo "Creating .venv with $py ($("$py" --version))"
    rm -rf .venv
    "$py" -m venv .venv
fi
echo "Installing twinkit[$extras] into .venv: DOLFINx, gmsh, VTK, PyTorch and the rest (the first"
echo "time downloads a few GB and takes several minutes; pip lists each package as it goes)"
.venv/bin/python -m pip install --quiet --upgrade pip
# pipefail: a failing pip fails the script, with its own messages on stderr
.venv/bin/python -m pip install -e ".[$extras]" \
    | { grep --line-buffered -E "^(Collecting|Successfully installed)" | cut -c1-100 || true; }
echo "Installed; .venv/bin/twinkit is ready"
