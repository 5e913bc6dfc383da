#!/usr/bin/env bash
# tsan.sh BUILD [CTEST_ARGS...]: runs the integration tests of a
# ThreadSanitizer build (-DA17_TSAN=ON) one by one and says which raced.
# `make tsan` calls it with build-tsan.
#
# Every test runs with its own TSan log directory, BUILD/tsan-logs/TEST/
# (TSAN_OPTIONS log_path): a daemon's stderr goes to its log in the
# test's temporary directory, which is removed when the test passes, and
# a race during the shutdown at the end of a test kills the daemon
# (halt_on_error=1) without failing the test. So a test counts as failed
# when ctest says so or when any report was written for it.
#
# It runs every test whatever fails before (one failure must not hide the
# others), prints one line per test (result, seconds, reports) and a
# summary, and exits 1 when any test failed or raced. Suppressions for
# races inside uninstrumented libraries: tests/tsan.supp (each explained).
set -u
BUILD=$(cd "$1" && pwd) || exit 2
shift
HERE=$(cd "$(dirname "$0")" && pwd)
LOGS=$BUILD/tsan-logs
SUPP=$HERE/tsan.supp
rm -rf "$LOGS"
mkdir -p "$LOGS"

cd "$BUILD" || exit 2
mapfile -t TESTS < <(ctest -N -LE "unit|fuzz|bench" "$@" |
	sed -n 's/^ *Test *#[0-9]*: *//p')
[ ${#TESTS[@]} -gt 0 ] || { echo "tsan: no tests selected" >&2; exit 2; }

bad=()
summary=$LOGS/summary.txt
: >"$summary"
for t in "${TESTS[@]}"; do
	d=$LOGS/$t
	mkdir -p "$d"
	s=$(date +%s)
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$SUPP log_path=$d/tsan ${TSAN_OPTIONS:-}" \
		ctest --output-on-failure --timeout 900 -R "^$t\$" >"$d/ctest.out" 2>&1
	rc=$?
	secs=$(($(date +%s) - s))
	res=$(grep -E "Test +#[0-9]+: $t " "$d/ctest.out" |
		grep -Eo 'Passed|Failed|Timeout|Skipped|Not Run|Exception' | head -n 1)
	[ -n "$res" ] || res="rc $rc"
	reports=$(cat "$d"/tsan.* 2>/dev/null | grep -Ec '(WARNING|ERROR|FATAL): ThreadSanitizer')
	line=$(printf '%-20s %-10s %5s s  %s TSan report(s)' "$t" "$res" "$secs" "$reports")
	echo "$line" | tee -a "$summary"
	if [ "$rc" != 0 ] || [ "$reports" != 0 ]; then
		bad+=("$t")
		[ "$rc" != 0 ] && sed -n '3,60p' "$d/ctest.out"
		for f in "$d"/tsan.*; do
			[ -f "$f" ] || continue
			echo "---- $f"
			grep -E -A 14 '(WARNING|ERROR|FATAL): ThreadSanitizer' "$f" | head -n 45
		done
	fi
done
echo "tsan: ${#TESTS[@]} tests; logs in $LOGS; summary in $summary"
if [ ${#bad[@]} -gt 0 ]; then
	echo "tsan: failed or raced: ${bad[*]}"
	exit 1
fi
echo "tsan: all passed, no reports"
