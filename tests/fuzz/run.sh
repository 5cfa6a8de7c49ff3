#!/usr/bin/env bash
# Runs the libFuzzer targets (./appliance fuzz calls this after building):
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]
# BUILD_DIR is configured with clang and -DROUTER_BUILD_FUZZ=ON and has the
# fuzz targets built. TARGETs: transcode tags route_answer (default: all,
# one after another, SECONDS each, default 60).
#
# Seeds are generated afresh (router-fuzz-seeds, plus router-testdata
# --suite hostile when the generator has it) and the corpus grows in
# BUILD_DIR/corpus/<target>/. Findings land in BUILD_DIR/findings/<target>/;
# each one belongs, minimised and named for what it is, in
# tests/fuzz/regressions/<target>/ (see tests/fuzz/regressions/README.md).
# Prints per target the executions, the final coverage (cov/ft) and the
# findings; exits 1 when a target found a crash, timeout, OOM or leak.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$(cd "${1:?usage: run.sh BUILD_DIR [SECONDS] [TARGET...]}" && pwd)"
SECONDS_EACH="${2:-60}"
shift 2 2>/dev/null || shift $#
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(transcode tags route_answer multipart)
FUZZ="$BUILD/tests/fuzz"

case "$SECONDS_EACH" in '' | *[!0-9]*) echo "run.sh: SECONDS must be a number, got '$SECONDS_EACH'" >&2; exit 2 ;; esac
for t in "${TARGETS[@]}"; do
  [ -x "$FUZZ/fuzz_$t" ] || { echo "run.sh: $FUZZ/fuzz_$t is not built (targets: transcode tags route_answer multipart)" >&2; exit 2; }
done

# Seeds: generated, in a folder of this run only (runs may overlap).
SEEDS="$(mktemp -d "$BUILD/fuzz-seeds.XXXXXX")"
trap 'rm -rf "$SEEDS"' EXIT
extra=()
if [ -x "$BUILD/tests/generator/router-testdata" ] &&
   "$BUILD/tests/generator/router-testdata" --help 2>&1 | grep -q hostile; then
  "$BUILD/tests/generator/router-testdata" "$SEEDS/hostile" --suite hostile >/dev/null
  extra+=("$SEEDS/hostile")
fi
"$FUZZ/router-fuzz-seeds" "$SEEDS" "${extra[@]}" | grep -v '^router-fuzz-seeds: note' || true
cp "$HERE/seeds/route_answer/"* "$SEEDS/route_answer/"
mkdir -p "$SEEDS/multipart" && cp "$HERE/seeds/multipart/"* "$SEEDS/multipart/"

# ASan: a single allocation over 512 MiB fails (NULL, as a memory-limited
# process would see) instead of zero-filling gigabytes because a 1 KiB file
# declares a 4 GiB element; code that cannot take a failed allocation still
# shows up (ASan then reports it as out-of-memory).
export ASAN_OPTIONS="${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=512}"
# Leaks in third-party error paths that cannot be avoided, each with its reason.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$(cd "$(dirname "${BASH_SOURCE[0]}")/../sanitizers" && pwd)/lsan.supp}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

declare -A dict=([transcode]=dicom.dict [tags]=dicom.dict [route_answer]=route_answer.dict [multipart]=multipart.dict)
status=0
summary=()
for t in "${TARGETS[@]}"; do
  corpus="$BUILD/corpus/$t"
  findings="$BUILD/findings/$t"
  log="$BUILD/findings/fuzz_$t.log"
  mkdir -p "$corpus" "$findings"
  marker="$(mktemp "$BUILD/findings/.start.XXXXXX")"
  echo "== fuzz_$t: ${SECONDS_EACH}s, corpus $corpus, log $log" >&2
  # -fork=1 with -ignore_*: one job, and a finding does not end the run.
  # The codecs have shallow known findings; without this the run would stop
  # at the first one every time.
  # In a process group of its own (set -m), ended as a whole afterwards: GDCM's JPEG
  # decoder may start /usr/bin/pvrg-jpeg through system(), and a job stopped
  # for a timeout leaves that helper running.
  set -m
  (cd "$findings" && exec "$FUZZ/fuzz_$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -dict="$HERE/${dict[$t]}" -artifact_prefix="$findings/" \
      "$corpus" "$SEEDS/$t") >"$log" 2>&1 </dev/null &
  fuzzer=$!
  set +m
  trap 'kill -KILL -- -"$fuzzer" 2>/dev/null; rm -rf "$SEEDS"; exit 130' INT TERM
  wait "$fuzzer" || true
  kill -KILL -- -"$fuzzer" 2>/dev/null || true
  trap - INT TERM
  last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
  execs="$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")"
  cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")"
  ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")"
  corp="$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")"
  mapfile -t found < <(find "$findings" -maxdepth 1 -type f -newer "$marker" \
                         \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | sort)
  rm -f "$marker"
  line="fuzz_$t: ${execs:-?} executions, cov: ${cov:-?} ft: ${ft:-?}, corpus ${corp:-?} inputs, ${#found[@]} findings"
  summary+=("$line")
  echo "$line"
  if [ ${#found[@]} -gt 0 ]; then
    status=1
    echo "  by kind (replayed by tests/fuzz/triage.sh; at most 100 files):"
    "$HERE/triage.sh" "$FUZZ/fuzz_$t" "${found[@]:0:100}" | sed 's/^/  /'
    if [ ${#found[@]} -gt 100 ]; then echo "    ... and $(( ${#found[@]} - 100 )) more in $findings"; fi
  fi
done

echo
echo "fuzz summary (${SECONDS_EACH}s per target):"
printf '  %s\n' "${summary[@]}"
[ $status -eq 0 ] || echo "findings: replay one with $FUZZ/fuzz_<target> FILE; minimise with -minimize_crash=1 -runs=10000 -exact_artifact_path=OUT FILE"
exit $status
