#!/usr/bin/env bash
# Groups fuzz findings by what they are: replays each file with its fuzz
# target and prints, per distinct (kind, first frames of our or a library's
# code), the count and the smallest example:
#   tests/fuzz/triage.sh FUZZ_BINARY FILE...
# run.sh calls it on a run's new findings; use it by hand on older ones.
set -uo pipefail

BIN="${1:?usage: triage.sh FUZZ_BINARY FILE...}"
shift
export ASAN_OPTIONS="${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=512}"
# Leaks in third-party error paths that cannot be avoided, each with its reason.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")/../sanitizers" && pwd)/lsan.supp}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

# Replays one file in a process group of its own (set -m), then ends the
# whole group: GDCM's JPEG decoder may run /usr/bin/pvrg-jpeg through
# system(), and that helper outlives the fuzz target when it is stopped.
replay() {
  local out="$1" file="$2" pid watchdog
  set -m
  "$BIN" -rss_limit_mb=2048 -timeout=10 "$file" >"$out" 2>&1 </dev/null &
  pid=$!
  bash -c 'sleep 60; kill -KILL -- -"$1"' watchdog "$pid" >/dev/null 2>&1 &
  watchdog=$!
  set +m
  wait "$pid" 2>/dev/null
  kill -KILL -- -"$pid" 2>/dev/null
  kill -KILL -- -"$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
}

scratch="$(mktemp)"
trap 'rm -f "$scratch"' EXIT
for file in "$@"; do
  replay "$scratch" "$file"
  out="$(cat "$scratch")"
  kind="$(grep -m1 -oE "ERROR: LeakSanitizer: detected memory leaks|SUMMARY: [A-Za-z]+: [A-Za-z-]+|Assertion \`.*' failed|contract violated: [^:]*|ERROR: libFuzzer: [a-z -]+|runtime error: [^(]*" <<<"$out")"
  [ -z "$kind" ] && kind="no longer reproduces"
  # The first three frames outside the sanitizer, libFuzzer, libc and the
  # fuzz harness: where it happened.
  frames="$(grep -E '^ +#[0-9]+ 0x[0-9a-f]+ in ' <<<"$out" |
    grep -vE ' in (__|fuzzer::|LLVMFuzzer|main |_start|abort|raise|operator new|operator delete|malloc|calloc|realloc|std::__throw|std::(__|allocator|_Vector|vector)|router::fuzz::)|AllocationCap\.cpp|libc\.so|libstdc|\(<unknown module>\)' |
    head -3 | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in //; s/ \(BuildId.*//; s/ \/[^ ]*$//; s/\(anonymous namespace\)/{anon}/g; s/\(.*//' |
    paste -sd '<' -)"
  printf '%s\t%s | %s\t%s\n' "$(stat -c %s "$file")" "$kind" "${frames:-?}" "$file"
done | sort -t $'\t' -k2,2 -k1,1n | awk -F '\t' '
  { if (!($2 in count)) { order[++n] = $2; example[$2] = $3; size[$2] = $1 } count[$2]++ }
  END { for (i = 1; i <= n; i++) { k = order[i]; printf "%5d  %s\n       smallest: %s (%d bytes)\n", count[k], k, example[k], size[k] } }'
