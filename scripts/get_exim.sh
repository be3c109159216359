#!/usr/bin/env bash
# Unpack Debian's Exim (without installing it: it conflicts with the postfix package the
# mail-filter tests need) into .cache/exim, for the BATV interoperability tests.
# Needs apt-get (root); prints the exim binary's path on success.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/exim
if [ ! -x "$dest/usr/sbin/exim4" ]; then
  work=$(mktemp -d)
  (cd "$work" && apt-get download exim4-daemon-light exim4-base libidn12 >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null 2>&1
    (cd "$work" && apt-get download exim4-daemon-light exim4-base libidn12 >/dev/null)
  }
  mkdir -p "$dest"
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$dest"; done
  rm -rf "$work"
fi
# Exim refuses to start unless its compiled-in user exists.
id Debian-exim >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin Debian-exim
echo "$PWD/$dest/usr/sbin/exim4"
