#!/usr/bin/env bash
# Install what the recipe tests (tests/filters/test_recipes.py) need from Debian: procmail,
# and Dovecot's Pigeonhole (dovecot-sieve, with dovecot-core) for `sieve-test` and the
# sieve_extprograms plugin. Needs apt-get (root); a no-op when already there.
# The tests only run `procmail -m RCFILE` and `sieve-test -c CONFIG`: the system Dovecot
# service is never used, so it is stopped and kept from starting where that is possible.
set -euo pipefail
source "$(dirname "$0")/apt.sh"
wanted=(procmail dovecot-core dovecot-sieve)
# policy-rc.d exit 101: the package's maintainer scripts do not start the service.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ] && ! dpkg -s "${wanted[@]}" >/dev/null 2>&1; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
fi
apt_install_missing "${wanted[@]}"
if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi
# Keep the system service out of the way (the tests never talk to it).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now dovecot >/dev/null 2>&1 || true
elif [ -x /etc/init.d/dovecot ]; then
  /etc/init.d/dovecot stop >/dev/null 2>&1 || true
fi
procmail -v 2>&1 | sed -n 1p
dovecot --version
