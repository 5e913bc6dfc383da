#!/usr/bin/env bash
# run_fuzz.sh HARNESS CORPUS short|long HAVE_LIBFUZZER
# Runs one fuzz harness over a scratch copy of its seed corpus (the
# committed corpus is never modified). short: the default suite's budget;
# long: A17_FUZZ_TIME seconds (default 600), only when A17_LONG=1.
# A crash leaves its input in the scratch directory, which is kept and named.
set -u
h=$1 corpus=$2 mode=$3 lf=${4:-0}
case "$lf" in 1|ON|TRUE|true|yes) lf=1 ;; *) lf=0 ;; esac
if [ "$mode" = long ] && [ "${A17_LONG:-0}" != 1 ]; then
	echo "skipped: set A17_LONG=1 to run the long fuzz runs"
	exit 77
fi
[ -d "$corpus" ] || { echo "no corpus $corpus"; exit 1; }
work=$(mktemp -d /tmp/art17-fuzz.XXXXXX)
cp -r "$corpus" "$work/corpus"
mkdir -p "$work/new"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1
if [ "$mode" = long ]; then
	secs=${A17_FUZZ_TIME:-600}
	runs=$((secs * 2000))
else
	secs=${A17_FUZZ_SHORT:-10}
	runs=20000
fi
cd "$work"
if [ "$lf" = 1 ]; then
	"$h" -max_total_time="$secs" -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/" "$work/new" "$work/corpus" 2>&1 | tail -n 25
	rc=${PIPESTATUS[0]}
else
	"$h" -runs="$runs" -seed="${A17_FUZZ_SEED:-1}" "$work/corpus"
	rc=$?
fi
if [ "$rc" != 0 ]; then
	echo "FAIL: $(basename "$h") exited $rc; inputs kept in $work"
	exit 1
fi
rm -rf "$work"
echo "$(basename "$h"): ok ($mode, libfuzzer=$lf)"
