#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when they are missing.
# wrk drives the mock-server benchmarks; prometheus (with promtool) and prometheus-pushgateway
# are started by test fixtures (metrics, dashboards, rules); docker-compose checks the compose
# file's schema; redis-server is the broker and shared limiter of the distributed runs' tests.
# Needs root (or sudo) and Debian's apt.
set -euo pipefail
need=()
# Debian's python3 makes a virtualenv (make venv) only with python3-venv (ensurepip's wheels)
if command -v dpkg >/dev/null 2>&1; then dpkg -s python3-venv >/dev/null 2>&1 || need+=(python3-venv); fi
command -v wrk >/dev/null 2>&1 || need+=(wrk)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null 2>&1 || need+=(prometheus-pushgateway)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
[ -x /usr/bin/time ] || need+=(time)  # GNU time: peak RSS in the 1M-item benchmark
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # a self-signed cert for the HTTPS transport test
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)  # validates docker-compose.yml (no engine needed)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)  # --engine celery: broker + shared limiter
[ -x /usr/bin/chromium ] || need+=(chromium)  # headless Chromium opens the HTML reports (tests/harness/reporting)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
