#!/usr/bin/env bash
# PostgreSQL server binaries for the PostgreSQL sent-log tests (issue 11). The tests make
# their own throwaway cluster (initdb in a temp dir, unix socket only, as an unprivileged
# user); the system cluster the package creates is not used. A no-op when already installed.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "get_postgres: no apt-get; the PostgreSQL sent-log tests will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
