# lib.sh: helpers for art17's integration tests and the demo. Sourced by
# bash scripts; they start the real binaries on loopback in a temporary
# directory and clean everything up on exit.
#
# Needs: BIN (the build directory: BIN/broker/art17-broker, ...).

set -u

A17_PIDS=()
A17_TMP=${A17_TMP:-$(mktemp -d /tmp/art17-test.XXXXXX)}
BROKER_PID=
BROKER_PORT=
BROKER_PREFIX=
export ART17_PKI=$A17_TMP/pki
export ART17_DATA=$A17_TMP/broker
export ART17_COORDINATOR=alice

a17_cleanup() {
	local p i
	for p in "${A17_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	# every daemon must stop on SIGTERM within 15 s; say so if one did not
	for i in $(seq 1 150); do
		local alive=0
		for p in "${A17_PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null && alive=1
		done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${A17_PIDS[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			echo "WARNING: pid $p ($(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | cut -c1-80)) ignored SIGTERM for 15 s; killing it" >&2
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	if [ "${A17_KEEP:-0}" = 1 ]; then
		echo "kept $A17_TMP"
	else
		rm -rf "$A17_TMP"
	fi
}
trap a17_cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	if [ -n "${A17_TMP:-}" ]; then
		for f in "$A17_TMP"/*.log; do
			[ -f "$f" ] || continue
			echo "---- $f (last 30 lines)" >&2
			tail -n 30 "$f" >&2
		done
	fi
	exit 1
}

# A free TCP port on loopback (tries random ones), below Linux's
# ephemeral range (32768-60999): there, a busy machine's outgoing
# connections (or their TIME_WAIT) can hold the port when it is bound.
free_port() {
	local p i
	for i in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds.
wait_for() {
	local t=$1 i
	shift
	for i in $(seq 1 $((t * 10))); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

ctl() {
	timeout 60 "$BIN/tools/art17ctl" "$@"
}

# pki_init [agents...]
pki_init() {
	"$BIN/tools/art17-pki" init -d "$ART17_PKI" >/dev/null || fail "pki init"
	"$BIN/tools/art17-pki" coordinator -d "$ART17_PKI" alice >/dev/null ||
		fail "pki coordinator"
	local m
	for m in "$@"; do
		"$BIN/tools/art17-pki" agent -d "$ART17_PKI" "$m" >/dev/null ||
			fail "pki agent $m"
	done
}

# start_broker [extra args]: starts the broker on a free port, waits ready.
# BROKER_PREFIX, if set, is a command that execs it (e.g. "prlimit
# --nofile=64:64"), so that BROKER_PID is still the broker's.
start_broker() {
	[ -n "$BROKER_PORT" ] || BROKER_PORT=$(free_port)
	# the log is appended to across restarts: wait for one more "ready:"
	local ready
	ready=$(grep -c "ready:" "$A17_TMP/broker.log" 2>/dev/null) || ready=0
	${BROKER_PREFIX:-} "$BIN/broker/art17-broker" -d "$ART17_DATA" -p "$ART17_PKI" \
		-l "tls+tcp://127.0.0.1:$BROKER_PORT" "$@" \
		>>"$A17_TMP/broker.log" 2>&1 &
	BROKER_PID=$!
	A17_PIDS+=("$BROKER_PID")
	wait_for 20 test -S "$ART17_DATA/admin.sock" ||
		fail "broker did not start"
	wait_for 20 broker_ready_after "$ready" ||
		fail "broker not ready"
}

broker_ready_after() { # N: the log holds more than N "ready:" lines
	[ "$(grep -c "ready:" "$A17_TMP/broker.log")" -gt "$1" ]
}

stop_broker() {
	kill -TERM "$BROKER_PID" 2>/dev/null || true
	wait "$BROKER_PID" 2>/dev/null || true
}

add_member() {
	ctl member add --id "$1" --name "Member $1" \
		--key "$ART17_PKI/agents/$1/id.pub" "${@:2}" >/dev/null ||
		fail "member add $1"
}

# start_agent MEMBER [extra args]; its pid is in AGENT_PID[MEMBER]
declare -A AGENT_PID
start_agent() {
	local m=$1
	shift
	"$BIN/agent/art17-agent" -d "$A17_TMP/agent-$m" run \
		-k "$ART17_PKI/agents/$m" \
		-c "tls+tcp://localhost:$BROKER_PORT" "$@" \
		>>"$A17_TMP/agent-$m.log" 2>&1 &
	AGENT_PID[$m]=$!
	A17_PIDS+=("${AGENT_PID[$m]}")
}

# declare_incident TITLE [--exercise]: prints the new incident's id
declare_incident() {
	ctl incident declare --title "$@" | head -n 1
}

agent_connected() {
	grep -q "connected as $1" "$A17_TMP/agent-$1.log"
}

# how many times request $2 is in member $1's inbox
inbox_count() {
	agent_list_json "$1" | jq --arg r "$2" '[.[] | select(.request_id == $r)] | length'
}

agent_list_json() {
	"$BIN/agent/art17-agent" -d "$A17_TMP/agent-$1" list --json
}

# once_each "MEMBER..." REQUEST...: each request is in each named inbox
# exactly once
once_each() {
	local ms=$1 m r
	shift
	for r in "$@"; do
		for m in $ms; do
			[ "$(inbox_count "$m" "$r")" = 1 ] ||
				fail "$m holds $r $(inbox_count "$m" "$r") times"
		done
	done
}

# acked REQUEST MEMBER...: every named member's copy of REQUEST is acked
acked() {
	local st
	st=$(ctl request status "$1" --json) || return 1
	shift
	for m in "$@"; do
		[ "$(jq -r --arg m "$m" \
			'.copies[] | select(.member_id == $m) | .state' <<<"$st")" = acked ] ||
			return 1
	done
}
