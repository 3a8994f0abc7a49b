#!/usr/bin/env bash
# Runs every fuzz target of the given packages for a short, fixed time.
#   scripts/fuzz.sh FUZZ_TIME MINIMIZE_TIME PKG...
# A real finding always makes Go write "Failing input written to ..." (and a
# file under testdata/fuzz/): that fails the run at once. A bare "context
# deadline exceeded" with no such line is the known race in Go's fuzzing
# coordinator at the end of a duration -fuzztime (golang/go#75804, #51484):
# nothing crashed. That target is run again, at most twice, and fails only if
# the race repeats every time.
set -uo pipefail
fuzz_time=$1 minimize_time=$2
shift 2
GO=${GO:-go}
log=$(mktemp "${TMPDIR:-/tmp}/vimconvert-fuzz-XXXXXX.log")
trap 'rm -f "$log"' EXIT

run_target() { # PKG TARGET
	local tries=0
	while :; do
		tries=$((tries + 1))
		echo "fuzz ./$1 $2 ($fuzz_time, try $tries)"
		if "$GO" test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzz_time" \
			-fuzzminimizetime="$minimize_time" "./$1" 2>&1 | tee "$log"; then
			return 0 # pipefail: the status of go test
		fi
		if grep -q 'Failing input written to' "$log" ||
			! grep -q '^    context deadline exceeded$' "$log" ||
			[ "$(grep -c '^--- FAIL' "$log")" -ne 1 ]; then
			echo "fuzz ./$1 $2: FAILED"
			return 1
		fi
		if [ "$tries" -ge 3 ]; then
			echo "fuzz ./$1 $2: the coordinator's deadline race repeated $tries times"
			return 1
		fi
		echo "fuzz ./$1 $2: Go's fuzzing coordinator reported its end-of-time race (no failing input); running it again"
	done
}

for pkg in "$@"; do
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$pkg"/*_test.go 2>/dev/null | cut -c6-); do
		run_target "$pkg" "$target" || exit 1
	done
done
