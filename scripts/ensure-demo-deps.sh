#!/usr/bin/env bash
# The demo renders certificates with Japanese fonts; install them when missing and we are root.
set -euo pipefail
need=()
for pkg in fonts-ipaexfont fonts-ipamj-mincho; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "note: install ${need[*]} for certificates with Japanese fonts" >&2
fi
