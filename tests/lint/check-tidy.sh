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
mapfile -t files < <(git ls-files 'src/*.cpp' 'devices/*.cpp')
((${#files[@]})) || { echo "no sources found" >&2; exit 1; }

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
