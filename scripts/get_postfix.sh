#!/usr/bin/env bash
# Install what the milter tests need from Debian: postfix (the tests run a private instance
# with `postfix -c DIR`, never the system's), libmilter-dev (to build pymilter) and
# miltertest (protocol-level cases). Needs apt-get (root); a no-op when already there.
# The package's own system instance is left stopped: the tests never use /etc/postfix.
set -euo pipefail
wanted=(postfix libmilter-dev miltertest)
missing=()
for package in "${wanted[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Answer the package's configuration question ourselves: no system mail configuration.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
fi
postconf -d mail_version
