#!/usr/bin/env bash
# Broker crash torture: a17-torture kills the broker with SIGKILL at random
# points of a fan-out (timed kills and crash points), restarts it, and
# checks after every trial that every receipt it confirmed is stored, no
# member holds a request twice, the gate held and the audit log verifies.
#   short (default suite): A17_TORTURE_AGENTS (100) agents, 3 trials
#   long (label torture, A17_LONG=1): 1,000 agents, 50 trials
# A17_SEED repeats a run.
# If the simulated agents' own nng jams (nng 1.5.2's reaper thread,
# docs/reliability.md), a17-torture saves their inboxes and goes on in a
# fresh image of itself (--resume); the short run does that once on
# purpose (A17_TORTURE_JAM=2:kill) and must say so. After 100 resumes it exits
# 3 after the trials it completed and checked; this script then starts a
# fresh run (new data, new seed) for the trials still owed, at most 5
# runs in all, and says so.
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
	# the resume after a jammed nng in the harness, every time: the
	# reaper is jammed on purpose once trial 2's kill was checked, so the
	# resumed process finishes trial 2
	export A17_TORTURE_JAM=${A17_TORTURE_JAM:-2:kill}
	export A17_TORTURE_STALL_S=${A17_TORTURE_STALL_S:-30}
fi
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
seed=${A17_SEED:-$RANDOM$RANDOM}
done_trials=0 runs=0 stalls=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
while [ "$done_trials" -lt "$trials" ]; do
	runs=$((runs + 1))
	[ "$runs" -le 5 ] || {
		echo "FAIL: $stalls stalls of the simulated agents; $done_trials of $trials trials done"
		exit 1
	}
	"$BIN/tests/integration/a17-torture" --bin "$BIN" -n "$n" \
		--trials $((trials - done_trials)) --seed "$seed" | tee "$out"
	rc=${PIPESTATUS[0]}
	case $rc in
	0)
		done_trials=$trials
		;;
	3)
		k=$(sed -n 's/^a17-torture: stalled after \([0-9]*\) trials.*/\1/p' "$out")
		stalls=$((stalls + 1))
		done_trials=$((done_trials + ${k:-0}))
		echo "run $runs (seed $seed): the simulated agents stalled after ${k:-0} checked trials; $done_trials of $trials done, starting a fresh run"
		seed=$((seed + 7919))
		;;
	*)
		exit "$rc"
		;;
	esac
done
if [ -n "${A17_TORTURE_JAM:-}" ] && [ "${A17_TORTURE_JAM%%:*}" -le "$trials" ] &&
	! grep -q "[1-9][0-9]* resumed in a fresh process" "$out"; then
	echo "FAIL: the harness's nng was jammed at trial $A17_TORTURE_JAM, and the run did not resume"
	exit 1
fi
echo "broker torture: $trials trials of $n agents in $runs run(s), $stalls stall(s) of the simulated agents' nng; every trial checked"
