#!/usr/bin/env python3
"""The clang-tidy pass cache of check-tidy.sh.

  tidy_cache.py keys BUILD CACHE FILE...      prints the files without a remembered pass
  tidy_cache.py remember BUILD CACHE FILE...  remembers that these files pass

A file's key is the SHA-256 of its preprocessed text (so every included header counts), its
compile flags, .clang-tidy and `clang-tidy --version`. A file that cannot be
preprocessed is always listed.
"""
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys


def commands(build):
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    return {os.path.realpath(os.path.join(e["directory"], e["file"])): e for e in entries}


def salt():
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True, text=True).stdout
    with open(".clang-tidy", "rb") as f:
        return hashlib.sha256(version.encode() + f.read()).hexdigest()


def key(entry, base):
    args = entry.get("arguments") or shlex.split(entry["command"])
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD"):
            continue
        out.append(a)
    run = subprocess.run(out + ["-E", "-P", "-o", "-"], cwd=entry["directory"],
                         capture_output=True)
    if run.returncode != 0:
        return None
    # Flags count, paths do not: a clone elsewhere has the same keys.
    flags = " ".join(a for a in out if a.startswith("-") and "/" not in a)
    return hashlib.sha256(base.encode() + flags.encode() + run.stdout).hexdigest()


def main():
    mode, build, cache, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    table = commands(build)
    base = salt()

    def one(path):
        entry = table.get(os.path.realpath(path))
        return path, (key(entry, base) if entry else None)

    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        results = list(pool.map(one, files))
    for path, k in results:
        marker = os.path.join(cache, k) if k else None
        if mode == "keys":
            if marker is None or not os.path.exists(marker):
                print(path)
        elif mode == "remember" and marker:
            open(marker, "w").close()


if __name__ == "__main__":
    main()
