#!/bin/bash
# The peers the benchmark scripts in tests/bench/ compare against, from
# Debian's packages: numpy, scikit-learn and PyTorch for /usr/bin/python3.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends python3-numpy python3-sklearn python3-torch time
