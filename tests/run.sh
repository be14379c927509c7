#!/usr/bin/env bash
# Install duban with its test tools into .venv and run the test suite: every test on SQLite, and the storage
# contract (the tests marked both_backends: repositories, migrations, outbox, concurrency, end-to-end smoke) on
# PostgreSQL too; tests/conftest.py says which test runs where. PostgreSQL comes from Debian's packages
# (installed if missing), runs on 127.0.0.1 for the tests and is stopped afterwards. DUBAN_TEST_DATABASES=sqlite
# runs without PostgreSQL; DUBAN_TEST_EVERY_BACKEND=1 runs every test on every backend. Extra arguments go to
# pytest (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# The board's browser test drives Debian's Chromium (tests/test_board_browser.py): installed here when missing.
if ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
export DUBAN_TEST_DATABASES="${DUBAN_TEST_DATABASES:-sqlite,postgresql}"
if [[ "$DUBAN_TEST_DATABASES" == *postgresql* ]]; then
  DUBAN_TEST_PG_URL="$(bash .ci/pg.sh start | tail -n 1)"
  export DUBAN_TEST_PG_URL
  trap 'bash .ci/pg.sh stop' EXIT
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
