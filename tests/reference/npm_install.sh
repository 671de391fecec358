#!/usr/bin/env bash
# Installs the npm test oracles of one folder (tests/reference/tokenizer or .../openai) exactly
# as its package-lock.json says, from the npm cache when it has them, once: tests that share the
# folder may run at the same time, so the install holds a lock and is skipped when node_modules
# already matches the lock file. Exit 0 when installed; 1 with npm's last lines when it could
# not (registry unreachable?), for the caller to skip.
set -uo pipefail
cd "$1" || exit 1
want=$(sha256sum package-lock.json | cut -d' ' -f1)
(
  flock 9
  [ "$(cat node_modules/.autarky-lock-sha256 2>/dev/null)" = "$want" ] && exit 0
  if npm ci --offline --no-audit --no-fund >npm.log 2>&1 || npm ci --no-audit --no-fund >npm.log 2>&1; then
    echo "$want" >node_modules/.autarky-lock-sha256
    rm -f npm.log
    exit 0
  fi
  tail -n 5 npm.log
  rm -f npm.log
  exit 1
) 9>.npm-install.lock
