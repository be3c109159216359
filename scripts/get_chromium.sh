#!/usr/bin/env bash
# Install headless Chromium and its WebDriver from Debian for the report's browser test
# (tests/test_report.py renders the HTML report and checks it as a browser shows it).
# Needs apt-get (root); a no-op when both are already there. fonts-liberation gives the page
# and the screenshots real glyphs (Chromium only recommends it).
set -euo pipefail
source "$(dirname "$0")/apt.sh"
apt_install_missing chromium chromium-driver fonts-liberation
chromium --version
