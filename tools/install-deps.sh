#!/usr/bin/env bash
# Installs what building, testing, benchmarking and the demo need, on a
# fresh Debian machine; fast when everything is already there.
set -euo pipefail

APT_PACKAGES=(build-essential lua5.4 liblua5.4-dev libjemalloc-dev libmimalloc-dev
              libgoogle-perftools-dev libtcmalloc-minimal4 clang valgrind coreutils)
PIP_PACKAGES=(pytest cffi setuptools wheel matplotlib)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
need_pip=()
for p in "${PIP_PACKAGES[@]}"; do
    mod=$p
    "$PY" -c "import $mod" >/dev/null 2>&1 || need_pip+=("$p")
done
if [ ${#need_pip[@]} -gt 0 ]; then
    "$PY" -m pip install -q "${need_pip[@]}"
fi
