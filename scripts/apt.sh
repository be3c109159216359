# Sourced by the get_*.sh scripts: install the Debian packages that are missing, and nothing
# when all are there (dpkg -s first, so CI reruns cost no apt-get). Tries the package lists
# as they are, then once more after `apt-get update` (a fresh image may have none).
# Needs root. Usage: apt_install_missing PACKAGE...
apt_install_missing() {
  local missing=() package
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
}
