#!/usr/bin/env bash
# Lab smoke test on the host: builds kvmcheck and runs tests/lab/smoke in the
# lab. Exits 77 (skip) where the lab cannot run.
# usage: tests/lab/smoke.sh [lab.sh options]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/lab-available.sh" || exit $?
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$here/smoke/run.sh" "$tmp/run.sh"
${CC:-gcc} -std=gnu11 -O2 -Wall -Wextra -Werror -o "$tmp/kvmcheck" "$here/smoke/kvmcheck.c"
"$here/lab.sh" "$@" "$tmp"
