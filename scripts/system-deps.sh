#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when they are missing.
# wrk drives the mock-server benchmarks; redis-server, prometheus (with promtool) and
# prometheus-pushgateway are started by test fixtures (scale-out limiter, metrics, dashboards);
# docker-compose checks the compose file's schema.
# Needs root (or sudo) and Debian's apt.
set -euo pipefail
need=()
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)  # validates docker-compose.yml (no engine needed)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
