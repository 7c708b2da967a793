#!/usr/bin/env bash
# Installs the Debian packages the tests run (the tests start their own servers on loopback):
# PostgreSQL (MLflow's and Airflow's database), MariaDB (the ZenML server's database: ZenML
# supports only MySQL-compatible servers) and Chromium with its WebDriver (the Airflow UI tests).
set -euo pipefail
missing=()
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "Missing Debian packages: ${missing[*]} (install them with apt-get; needs root)." >&2
    exit 1
fi
apt-get update -qq
# The packages' own services are not started: the tests run their own servers.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
