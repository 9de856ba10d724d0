#!/usr/bin/env bash
# Build the documentation site: bash docs/build.sh → .venv/site/index.html (strict: a warning
# fails the build). `bash docs/build.sh serve` serves it with live reload instead.
# The API pages are read from a tree of links laid out like the wheel (scripts/link_tree.sh);
# mkdocs.yml points the handler at it.
set -euo pipefail
export NO_MKDOCS_2_WARNING=1  # Material for MkDocs prints an end-of-life notice otherwise
cd "$(dirname "$0")/.."
bash scripts/link_tree.sh .venv/docs-src
if [ "${1:-}" = serve ]; then
    shift
    exec .venv/bin/mkdocs serve "$@"
fi
exec .venv/bin/mkdocs build --strict "$@"
