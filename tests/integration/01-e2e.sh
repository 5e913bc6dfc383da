#!/usr/bin/env bash
# The whole chain over mutual TLS: three agents, one request, every copy
# acked, each agent's inbox holding it once, the statement shown.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"

pki_init m1 m2 m3
start_broker --keepalive 2000
# the broker raises nng's accept backlog of 128 (connection storms,
# docs/reliability.md) to 4096, capped by net.core.somaxconn
want=$(($(cat /proc/sys/net/core/somaxconn) < 4096 ? $(cat /proc/sys/net/core/somaxconn) : 4096))
backlog=$(ss -ltnH "( sport = :$BROKER_PORT )" | awk '{print $3}')
[ "$backlog" = "$want" ] || fail "agent listener backlog $backlog, want $want"
for m in m1 m2 m3; do add_member "$m"; done
for m in m1 m2 m3; do start_agent "$m"; done
for m in m1 m2 m3; do
	wait_for 30 agent_connected "$m" || fail "agent $m did not connect"
done

INC=$(declare_incident "e2e incident")
ctl incident flag "$INC" --reason "large-scale test" --expires 1h >/dev/null ||
	fail "flag"
rid=$(ctl request issue --kind cooperation --incident "$INC" --title t \
	--content "hello members" --secret no | head -n 1)
[ -n "$rid" ] || fail "no request id"
ctl request status "$rid" --wait-acked 30 >/dev/null ||
	fail "not all copies acked"
n=$(ctl request status "$rid" --json |
	jq '[.copies[] | select(.state == "acked")] | length')
[ "$n" = 3 ] || fail "expected 3 acked copies, got $n"

for m in m1 m2 m3; do
	c=$(inbox_count "$m" "$rid")
	[ "$c" = 1 ] || fail "agent $m holds $rid $c times"
	"$BIN/agent/art17-agent" -d "$A17_TMP/agent-$m" show "$rid" |
		grep -q "Article 17(3)" || fail "agent $m view lacks the statement"
done

# unknown request: exit 4 and a clear message
ctl request status R999999-00000000 >/dev/null 2>"$A17_TMP/err.txt"
rc=$?
[ $rc = 4 ] || fail "status of an unknown request exited $rc, want 4"

# an unsigned admin command is refused: a key that is not a coordinator's
"$BIN/tools/art17-pki" coordinator -d "$A17_TMP/otherpki" mallory >/dev/null
ctl -K "$A17_TMP/otherpki/coordinators/mallory/id.key" -u mallory \
	member list >/dev/null 2>"$A17_TMP/err.txt"
rc=$?
[ $rc = 1 ] || fail "unknown coordinator key: exit $rc, want 1"
grep -q "A17-W0301" "$A17_TMP/err.txt" || fail "no A17-W0301 for mallory"
echo "e2e: ok"
