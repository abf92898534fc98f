#!/usr/bin/env bash
# Regenerate scripts/constraints.txt: every dependency of every extra pinned, torch + torchvision pinned to
# the pair that works on CPU here (torch 2.14.1 + torchvision 0.29.1, see README "Installing").
set -euo pipefail
cd "$(dirname "$0")/.."
pins=$(mktemp); trap 'rm -f "$pins"' EXIT
printf 'torch==2.14.1\ntorchvision==0.29.1\n' >"$pins"
UV=$(command -v uv || echo .venv/bin/uv)
export UV_INDEX_STRATEGY="${UV_INDEX_STRATEGY:-unsafe-best-match}"
"$UV" pip compile pyproject.toml --all-extras --python-version 3.11 -c "$pins" -o scripts/constraints.txt \
  --custom-compile-command "scripts/lock.sh" -q
