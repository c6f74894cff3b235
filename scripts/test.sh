#!/usr/bin/env bash
# Every test of outlet, as root on Debian 12: unit and integration tests
# (real namespaces, mounts and cgroups on this host), the man page check, the
# cgroup v2 tests in a VM, the real callers (containerd, podman with and
# without a CNI network, buildah, dockerd), and a final
# check that nothing was left behind. Ends with one line
# `tests: N passed, N failed, N skipped` and exits 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) != 0 ]]; then
  echo "test.sh: run as root (the tests create namespaces, mounts and cgroups)" >&2
  exit 1
fi
bash scripts/install-deps.sh || exit 1

passed=0 failed=0 skipped=0
declare -a failures=()

# Add the counts of a "name: N passed, N failed, N skipped" line from $2.
count_plain() {
  local suite=$1 log=$2 line p f s
  line=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [[ -z $line ]]; then
    echo "test.sh: $suite gave no verdict"
    failed=$((failed + 1)); failures+=("$suite (no verdict)")
    return
  fi
  p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
  ((f > 0)) && failures+=("$suite")
}

# Sum cargo's "test result:" lines.
count_cargo() {
  local log=$1 p f i
  while read -r p f i; do
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + i))
  done < <(sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored.*/\1 \2 \3/p' "$log")
}

logs=target/test-logs
mkdir -p "$logs"

echo "== build"
if ! cargo build --release --locked 2>&1 | tail -3; then
  echo "tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
rootfs-fixtures/build.sh >/dev/null || { echo "test.sh: fixture rootfs failed"; exit 1; }

echo "== cargo test (unit, integration, man pages)"
cargo test --locked --no-fail-fast -- --test-threads=2 2>&1 | tee "$logs/cargo.log" | grep -E '^(test |test result|failures:|---- )' | grep -v ' ok$'
rc=${PIPESTATUS[0]}
count_cargo "$logs/cargo.log"
if ((rc != 0)) && ! grep -qE '^test result: FAILED' "$logs/cargo.log"; then
  failed=$((failed + 1)); failures+=("cargo test (did not finish: rc=$rc)")
fi
if grep -qE '^test result: FAILED' "$logs/cargo.log"; then
  failures+=("cargo test")
  # The panic messages, so the CI's record says why (at most 40 lines
  # of each failing test's output), not only which test.
  awk '/^---- .* stdout ----$/ {on=1; n=0}
       /^failures:$/ {on=0}
       on && n++ < 40' "$logs/cargo.log"
fi

run_suite() {
  local name=$1; shift
  echo "== $name"
  "$@" 2>&1 | tee "$logs/$name.log"
  count_plain "$name" "$logs/$name.log"
}

# The parsers of untrusted text under libFuzzer, 20 s per target here.
run_suite fuzz env FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash scripts/fuzz.sh
# CRIU 4.1 (trixie's; bookworm's 3.17 cannot dump on this kernel) for the
# checkpoint tests here and in the VM; fetched once into /var/cache.
criu=$(bash scripts/fetch-criu.sh) || echo "test.sh: fetch-criu.sh failed; the checkpoint tests will fail"
run_suite vm env VM_ACCEL="${VM_ACCEL:-tcg}" VM_CRIU="${criu:-}" RUNTIME="$(scripts/binary-path.sh)" bash tests/vm/run.sh
run_suite node env RUNTIME="$(scripts/binary-path.sh)" bash tests/node/run.sh
for t in tests/callers/{containerd,podman,podman-net,buildah,docker,podman-checkpoint,containerd-checkpoint}.sh; do
  [[ -f $t ]] && run_suite "$(basename "$t" .sh)" env RUNTIME="$(scripts/binary-path.sh)" bash "$t"
done
if [[ -f tests/leftovers.sh ]]; then
  run_suite leftovers bash tests/leftovers.sh
fi

# Nothing a test ran may drop files into the work tree.
echo "== work tree"
stray=$(git status --porcelain --untracked-files=all 2>/dev/null | grep '^??' || true)
if [[ -n $stray ]]; then
  echo "stray files in the work tree:"; echo "$stray"
  failed=$((failed + 1)); failures+=("stray files")
else
  echo "work tree: clean of stray files"
  passed=$((passed + 1))
fi

# Every test here can run on this machine: under CI (or when asked) a
# skipped test is a failure, not a silent gap.
if [[ ${CI:-} == true || ${OUTLET_TEST_REQUIRE_ALL:-} == 1 ]] && ((skipped > 0)); then
  failures+=("$skipped skipped tests (not allowed under CI)")
  failed=$((failed + 1))
fi

echo
# The failing checks of the script suites again, last: the CI's record
# keeps only the tail of this output, and a suite's FAIL line scrolled
# out of it says nothing (session 11's stop CI: "failed suite: vm" and
# no word of which test).
for log in "$logs"/*.log; do
  [[ $log == "$logs/cargo.log" ]] && continue
  grep -E '^(FAIL [^ ]+|[A-Z]+TEST [^ ]+ FAIL)' "$log" 2>/dev/null | head -n 20 |
    cut -c 1-800 | sed "s|^|$(basename "$log" .log): |"
done
((${#failures[@]})) && printf 'failed suite: %s\n' "${failures[@]}"
echo "tests: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
