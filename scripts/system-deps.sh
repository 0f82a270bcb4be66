#!/usr/bin/env bash
# Installs the Debian packages artreg's tests use, when they are missing.
#   docker-registry  the CNCF distribution registry, a second real OCI registry
#   skopeo           an independent OCI client
#   apache2-utils    htpasswd (bcrypt entries for registry basic auth)
#   chromium         headless browser that opens the built docs site
#   curl             the client the registry benchmark drives (make bench)
set -euo pipefail
need=()
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v curl >/dev/null 2>&1 || need+=(curl)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
