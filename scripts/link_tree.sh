#!/usr/bin/env bash
# Lay out the package as the wheel installs it, as links: DEST/twinkit with twinkit.physics
# (physics/) and twinkit.surrogates (surrogates/). The editable install maps those folders with an
# import hook that static tools (mypy, griffe for the API docs) cannot follow; they read this tree.
# Usage: scripts/link_tree.sh DEST
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$1"
rm -rf "$dest" && mkdir -p "$dest/twinkit"
for entry in "$root"/twinkit/*; do
    case "$(basename "$entry")" in __pycache__ | physics | surrogates) continue ;; esac
    ln -s "$entry" "$dest/twinkit/"
done
ln -s "$root/physics" "$dest/twinkit/physics"
ln -s "$root/surrogates" "$dest/twinkit/surrogates"
