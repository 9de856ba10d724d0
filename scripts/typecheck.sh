#!/usr/bin/env bash
# mypy on the package as it installs (scripts/link_tree.sh says why a tree of links).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/link_tree.sh .venv/typecheck
cd .venv/typecheck && exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" \
    --cache-dir "$root/.mypy_cache" -p twinkit "$@"
