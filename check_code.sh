#!/usr/bin/env bash
# Every check CI runs: black --check, flake8, the import contracts, mypy, then pytest on
# PostgreSQL and the API tests on SQLite. The same as `make test`.
set -euo pipefail
cd "$(dirname "$0")"
exec make test
