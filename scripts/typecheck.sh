#!/usr/bin/env bash
# mypy on the package as it installs: twinkit with twinkit.physics (physics/) and
# twinkit.surrogates (surrogates/). The editable install maps those folders with an import hook
# that static checkers cannot follow, so mypy reads a tree of links laid out like the wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tree=.venv/typecheck
rm -rf "$tree" && mkdir -p "$tree/twinkit"
for entry in twinkit/*; do
    [ "$(basename "$entry")" = __pycache__ ] || ln -s "$root/$entry" "$tree/twinkit/"
done
ln -s "$root/physics" "$tree/twinkit/physics"
ln -s "$root/surrogates" "$tree/twinkit/surrogates"
cd "$tree" && exec "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" \
    --cache-dir "$root/.mypy_cache" -p twinkit "$@"
