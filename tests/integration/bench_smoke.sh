#!/usr/bin/env bash
# bench_smoke.sh DIR: the fan-out benchmark as a smoke test. Runs, for 20
# members and 2 rounds, the bare-nng floor (tcp, TLS), the real broker with
# 20 simulated agents over mutual TLS, Mosquitto and NATS JetStream, plus a
# restart with 2,000 stored deliveries and one real agent. Passes only when
# every system completed every round with exactly one ack per member, the
# restart served every stored copy, and nothing went wrong. It checks that
# the harness works, not how fast anything is.
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

out=$("$bench" fanout -n 20 --rounds 2 --check --restart-deliveries 2000 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
	echo "FAIL: art17-bench exited $rc" >&2
	exit 1
fi
for line in floor-tcp floor-tls 'art17 (tls, fsync)' 'mosquitto (QoS 1)' \
	'nats jetstream (file)'; do
	# name, then p50, p99, max and msgs/s as numbers
	printf '%s\n' "$out" | grep -Eq "^  $(printf '%s' "$line" |
		sed 's/[()]/\\&/g') +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+ " || {
		echo "FAIL: no measured line for $line" >&2
		exit 1
	}
done
for want in 'restart with 2000 stored deliveries (100' \
	'agent: the real art17-agent' 'per connected agent'; do
	printf '%s\n' "$out" | grep -qF "$want" || {
		echo "FAIL: no '$want' in the output" >&2
		exit 1
	}
done
last=$(printf '%s\n' "$out" | tail -n 1)
if [ "$last" != "bench smoke: ok (20 agents, 2 rounds)" ]; then
	echo "FAIL: unexpected last line: $last" >&2
	exit 1
fi
exit 0
