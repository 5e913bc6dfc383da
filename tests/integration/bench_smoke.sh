#!/usr/bin/env bash
# bench_smoke.sh DIR: the fan-out benchmark as a smoke test. Runs the real
# broker and 20 simulated agents over mutual TLS for 2 rounds (plus the
# bare-nng floor) and passes only when every agent got exactly one copy
# per round, every receipt was confirmed, and nothing went wrong.
#
# DIR is the directory holding art17-bench (build/tools), or the build
# directory itself. See docs/benchmarks.md.
set -u

dir=${1:?usage: bench_smoke.sh DIR}
if [ -x "$dir/art17-bench" ]; then
	bench=$dir/art17-bench
elif [ -x "$dir/tools/art17-bench" ]; then
	bench=$dir/tools/art17-bench
else
	echo "FAIL: no art17-bench in $dir or $dir/tools" >&2
	exit 1
fi

out=$("$bench" fanout -n 20 --rounds 2 --check 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
	echo "FAIL: art17-bench exited $rc" >&2
	exit 1
fi
last=$(printf '%s\n' "$out" | tail -n 1)
if [ "$last" != "bench smoke: ok (20 agents, 2 rounds)" ]; then
	echo "FAIL: unexpected last line: $last" >&2
	exit 1
fi
exit 0
