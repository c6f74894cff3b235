#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ (outlet's parsers of untrusted text:
# config.json, state.json, mount options, signal names, sizes and durations,
# and the cgroup v2 device-filter program builder) for FUZZ_SECONDS each
# (default 60), starting from the seeds in fuzz/corpus/<target>/.
#
#   FUZZ_SECONDS=20 bash scripts/fuzz.sh            # every target
#   FUZZ_TARGETS="spec state" bash scripts/fuzz.sh  # some
#
# New inputs the fuzzer finds go to a temporary corpus, so a run leaves the
# checked-in seeds (and the work tree) as they were; a crash's input is kept
# under target/fuzz-artifacts/<target>/ to reproduce it with
# `cargo fuzz run <target> <file>`. Prints one line per target (executions,
# time, corpus size) and ends with `fuzz: N passed, N failed`.
#
# libFuzzer's instrumentation needs nightly rustc flags: the nightly
# toolchain when rustup has one, else the stable one with RUSTC_BOOTSTRAP=1
# (which lets stable take those flags).
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${FUZZ_SECONDS:-60}
read -r -a targets <<<"${FUZZ_TARGETS:-spec state mount_options signal size_duration device_program}"
passed=0 failed=0
verdict() {
  echo "fuzz: $passed passed, $failed failed"
  ((failed == 0))
}

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  if ! cargo install cargo-fuzz --locked >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz is not installed and could not be installed"
    failed=$((failed + 1)); verdict; exit 1
  fi
fi
fuzz=(cargo fuzz)
if rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
fi

# Outside the clone, so that CI's fresh clone on this machine rebuilds only
# outlet and the targets, not every instrumented dependency (minutes).
tdir=${FUZZ_TARGET_DIR:-/var/cache/outlet-test/fuzz-target}
mkdir -p "$tdir"
logs=$PWD/target/fuzz-logs
mkdir -p "$logs"
work=$(mktemp -d /tmp/outlet-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== fuzz: building the targets (${fuzz[*]})"
if ! "${fuzz[@]}" build --target-dir "$tdir" >"$logs/build.log" 2>&1; then
  tail -20 "$logs/build.log"
  echo "fuzz.sh: the fuzz targets did not build (log: $logs/build.log)"
  failed=${#targets[@]}; verdict; exit 1
fi

for t in "${targets[@]}"; do
  seeds=fuzz/corpus/$t
  corpus=$work/$t
  artifacts=$PWD/target/fuzz-artifacts/$t/
  mkdir -p "$corpus" "$artifacts"
  log=$logs/$t.log
  start=$(date +%s)
  # The first corpus dir receives what the fuzzer finds; the seeds are
  # only read. Out-of-memory and timeouts count as failures like crashes.
  "${fuzz[@]}" run --target-dir "$tdir" "$t" "$corpus" "$seeds" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
  nseeds=$(find "$seeds" -type f | wc -l)
  found=$(find "$corpus" -type f | wc -l)
  if ((rc == 0)); then
    passed=$((passed + 1))
    echo "fuzz $t: ok, ${execs:-?} executions in ${took} s, corpus $nseeds seeds + $found new"
  else
    failed=$((failed + 1))
    echo "fuzz $t: FAILED (rc=$rc) after ${execs:-?} executions in ${took} s; log: $log"
    grep -E '^(==[0-9]+==|thread .* panicked|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -8
  fi
done

verdict
