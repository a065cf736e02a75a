#!/usr/bin/env bash
# Build the documentation as CI does: docstring doctests, then the HTML with
# warnings as errors (the gallery scripts in examples/ run during the build).
# Needs the docs extra: pip install -e ".[docs]". Output: docs/_build/html.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" MPLBACKEND="${MPLBACKEND:-Agg}"
python=${PYTHON:-python}

echo "docs: docstring examples (pytest --doctest-modules skae)"
"$python" -m pytest --doctest-modules skae -p no:cacheprovider -q \
  -o doctest_optionflags="NORMALIZE_WHITESPACE ELLIPSIS"

echo "docs: sphinx html, warnings as errors"
"$python" -m sphinx -W --keep-going -b html docs docs/_build/html "$@"
echo "docs: built docs/_build/html/index.html"
