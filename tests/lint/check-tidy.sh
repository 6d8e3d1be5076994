#!/usr/bin/env bash
# Runs clang-tidy (config: .clang-tidy) over the VMM's own sources using the build's
# compile_commands.json. Usage: check-tidy.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: check-tidy.sh BUILD_DIR}
cd "$(dirname "$0")/../.."
mapfile -t files < <(git ls-files 'src/*.cpp' 'devices/*.cpp')
((${#files[@]})) || { echo "no sources found" >&2; exit 1; }
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet --warnings-as-errors='*' 2>/dev/null
echo "clang-tidy: ${#files[@]} files clean"
