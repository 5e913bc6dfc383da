#!/usr/bin/env bash
# Broker crash torture: a17-torture kills the broker with SIGKILL at random
# points of a fan-out (timed kills and crash points), restarts it, and
# checks after every trial that every receipt it confirmed is stored, no
# member holds a request twice, the gate held and the audit log verifies.
#   short (default suite): A17_TORTURE_AGENTS (100) agents, 3 trials
#   long (label torture, A17_LONG=1): 1,000 agents, 50 trials
# A17_SEED repeats a run.
BIN=$(cd "$1" && pwd)
mode=${2:-short}
if [ "$mode" = long ]; then
	if [ "${A17_LONG:-0}" != 1 ]; then
		echo "skipped: set A17_LONG=1 to run the long torture"
		exit 77
	fi
	n=${A17_TORTURE_AGENTS:-1000} trials=${A17_TORTURE_TRIALS:-50}
else
	n=${A17_TORTURE_AGENTS:-100} trials=${A17_TORTURE_TRIALS:-3}
fi
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
exec "$BIN/tests/integration/a17-torture" --bin "$BIN" -n "$n" \
	--trials "$trials" --seed "${A17_SEED:-$RANDOM$RANDOM}"
