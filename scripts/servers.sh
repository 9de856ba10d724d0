#!/usr/bin/env bash
# The servers some tests start on 127.0.0.1: the MQTT broker (live twin) and PostgreSQL (many
# optimisation workers on one study), and the headless browser the dashboard test drives
# (Chromium), from Debian's packages. Installs what is missing when it
# can (root, or sudo without a password); otherwise names it and fails, so no test is skipped
# silently.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
    || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing the test servers: ${need[*]}"
if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
elif sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
else
    echo "make test needs the Debian packages: ${need[*]}" >&2
    echo "install them (sudo apt-get install ${need[*]}) and run make test again" >&2
    exit 1
fi
