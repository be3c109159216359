#!/usr/bin/env bash
# Install what the milter tests need from Debian: postfix (the tests run a private instance
# with `postfix -c DIR`, never the system's), libmilter-dev (to build pymilter) and
# miltertest (protocol-level cases). Needs apt-get (root); a no-op when already there.
# The package's own system instance is left stopped: the tests never use /etc/postfix.
set -euo pipefail
source "$(dirname "$0")/apt.sh"
# Answer the package's configuration question ourselves: no system mail configuration.
if ! dpkg -s postfix >/dev/null 2>&1; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
apt_install_missing postfix libmilter-dev miltertest
postconf -d mail_version
