#!/usr/bin/env bash
# Fails when any C++ file in the tree differs from what clang-format makes of it.
set -euo pipefail
cd "$(dirname "$0")/../.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.c' 2>/dev/null || find src include devices tests firmware -name '*.[ch]pp')
((${#files[@]})) || { echo "no C++ files found" >&2; exit 1; }
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
