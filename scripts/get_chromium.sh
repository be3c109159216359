#!/usr/bin/env bash
# Install headless Chromium and its WebDriver from Debian for the report's browser test
# (tests/test_report.py renders the HTML report and checks it as a browser shows it).
# Needs apt-get (root); a no-op when both are already there. fonts-liberation gives the page
# and the screenshots real glyphs (Chromium only recommends it).
set -euo pipefail
wanted=(chromium chromium-driver fonts-liberation)
missing=()
for package in "${wanted[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
fi
chromium --version
