#!/usr/bin/env bash
# Runs clang-tidy (config: .clang-tidy) over the VMM's own sources using the build's
# compile_commands.json. Usage: check-tidy.sh BUILD_DIR
#
# A file that passed is remembered by the hash of its preprocessed text (every header it
# includes), the config and clang-tidy's version, under ${VMM_CACHE_DIR:-~/.cache/vmm}/tidy:
# clang-tidy runs again only on what changed. VMM_TIDY_CACHE=0 checks every file.
set -euo pipefail
build=${1:?usage: check-tidy.sh BUILD_DIR}
build=$(cd "$build" && pwd)
cd "$(dirname "$0")/../.."
mapfile -t all < <(git ls-files 'src/*.cpp' 'devices/*.cpp')
((${#all[@]})) || { echo "no sources found" >&2; exit 1; }
# Only what this host builds has compile flags: the arm64-only files are checked by
# tests/cross/check-arm64.sh (the cross compiler, warnings as errors) instead.
mapfile -t files < <(python3 - "$build/compile_commands.json" "${all[@]}" <<'PY'
import json, os, sys
built = {os.path.realpath(e["file"]) for e in json.load(open(sys.argv[1]))}
for f in sys.argv[2:]:
    if os.path.realpath(f) in built:
        print(f)
PY
)
if ((${#files[@]} < ${#all[@]})); then
  echo "clang-tidy: $((${#all[@]} - ${#files[@]})) source(s) not built on this host, left to check-arm64.sh"
fi
((${#files[@]})) || { echo "no sources in $build/compile_commands.json" >&2; exit 1; }

cache=${VMM_CACHE_DIR:-$HOME/.cache/vmm}/tidy
todo=("${files[@]}")
if [[ ${VMM_TIDY_CACHE:-1} != 0 ]]; then
  mkdir -p "$cache"
  mapfile -t todo < <(python3 tests/lint/tidy_cache.py keys "$build" "$cache" "${files[@]}")
fi
echo "clang-tidy: ${#todo[@]} of ${#files[@]} files changed since they last passed"
if ((${#todo[@]})); then
  printf '%s\n' "${todo[@]}" |
    xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet --warnings-as-errors='*' 2>/dev/null
  [[ ${VMM_TIDY_CACHE:-1} != 0 ]] &&
    python3 tests/lint/tidy_cache.py remember "$build" "$cache" "${todo[@]}"
fi
echo "clang-tidy: ${#files[@]} files clean"
