#!/usr/bin/env bash
# The CPython versions the Python suite runs on, one "version:path" line
# each; a version with no interpreter here is reported on stderr and left
# out. `python3.X` on PATH wins, then pyenv's newest 3.X.
# With --others, the version of $PYTHON (the main interpreter) is left out.
set -euo pipefail

VERSIONS=(3.11 3.12 3.13)

main_version=""
if [ "${1:-}" = "--others" ]; then
    main_version=$("${PYTHON:-python3}" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
fi

pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
for v in "${VERSIONS[@]}"; do
    [ "$v" = "$main_version" ] && continue
    path=""
    # A pyenv shim exists for every installed version but fails for those
    # not selected, so the interpreter is asked for its version, not found.
    if command -v "python$v" >/dev/null 2>&1 &&
       "python$v" -c 'pass' >/dev/null 2>&1; then
        path=$("python$v" -c 'import sys; print(sys.executable)')
    else
        for cand in $(ls -d "$pyenv_root/versions/$v".* 2>/dev/null | sort -V -r); do
            if [ -x "$cand/bin/python" ]; then
                path="$cand/bin/python"
                break
            fi
        done
    fi
    if [ -n "$path" ]; then
        echo "$v:$path"
    else
        echo "tunalloc: no Python $v here; its tests are skipped" >&2
    fi
done
