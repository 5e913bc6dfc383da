#!/usr/bin/env bash
# make demo: a broker and three agents on loopback over mutual TLS, keys
# made fresh in a temporary directory, one cooperation request issued and
# every member's copy acknowledged. Everything is stopped afterwards.
# Then the default drill: art17-drill with 1,000 simulated member agents
# (tools/scenarios/default.json), which writes a report directory with
# report.json, summary.md and gnuplot charts, and prints where it is.
# DEMO_AGENTS=N changes the drill's size; DEMO_DRILL=0 skips it.
set -euo pipefail
BIN=$(cd "${1:-build}" && pwd)
source "$(dirname "$0")/../tests/integration/lib.sh"

step() { printf '\n== %s\n' "$*"; }

step "Keys: council CA, broker, coordinator alice, agents m1 m2 m3 ($ART17_PKI)"
pki_init m1 m2 m3
"$BIN/tools/art17-pki" show -d "$ART17_PKI" | sed 's/^/   /'

step "Broker on tls+tcp://127.0.0.1 (mutual TLS), data in $ART17_DATA"
start_broker

step "Registering members"
add_member m1 --category national-gov
add_member m2 --category critical-infra
add_member m3 --category edu-research
ctl member list

step "Starting three agents"
for m in m1 m2 m3; do
	start_agent "$m"
done
for m in m1 m2 m3; do
	wait_for 30 agent_connected "$m" || fail "agent $m did not connect"
done
echo "all three agents connected"

step "Declaring an incident; no large-scale flag, no consent yet"
INC=$(declare_incident "Exploitation of VPN gateways")
ctl incident show "$INC"

step "A cooperation request now is refused by the Article 17(3) gate"
ctl request issue --kind cooperation --incident "$INC" --title "too early" \
	--content "-" --secret no || echo "(refused, as the Council Rules require)"

step "m1 has consented in writing; then a large-scale attack is declared"
ctl consent grant m1 --ref "CSC-CONSENT-0001 2026-11-01"
ctl incident flag "$INC" --reason "WannaCry-scale outbreak" --expires 6h

step "Issuing the cooperation request"
out=$(ctl request issue --kind cooperation --incident "$INC" \
	--title "Check VPN gateways for CVE-2026-0001" \
	--content "Please check your VPN gateways for signs of exploitation and report what you find." \
	--secret no --tlp amber --scope members --deadline 4h)
echo "$out"
rid=$(echo "$out" | head -n 1)

step "Per-member status"
ctl request status "$rid" --wait-acked 30 || fail "not every copy was acked"

step "What member m1's staff see (art17-agent show)"
"$BIN/agent/art17-agent" -d "$A17_TMP/agent-m1" show "$rid"

step "The audit log: every decision, hash-chained"
ctl audit show | tail -n 12
ctl audit verify

step "Stopping"
a17_cleanup
trap - EXIT
echo "demo: every agent's copy acked"

[ "${DEMO_DRILL:-1}" = 1 ] || exit 0
REPORT=$BIN/drill-report
step "The default drill: ${DEMO_AGENTS:-1000} simulated member agents, EXERCISE (tools/scenarios/default.json)"
echo "   the real broker, every agent with its own key over mutual TLS; some members"
echo "   have consented, the large-scale flag is set later, a group is offline while"
echo "   it is lifted. Takes about two minutes."
rm -rf "$REPORT"
rc=0
"$BIN/tools/art17-drill" -s "$(dirname "$0")/scenarios/default.json" \
	-n "${DEMO_AGENTS:-1000}" -o "$REPORT" || rc=$?
[ -s "$REPORT/report.json" ] || { echo "demo: the drill wrote no report" >&2; exit 1; }
echo
echo "Must be zero (report.json):"
jq -r '.must_be_zero | to_entries[] | select(.key != "violations") | "   \(.key): \(.value)"' \
	"$REPORT/report.json"
echo
echo "The drill's report is in $REPORT:"
echo "   $REPORT/summary.md"
echo "   $REPORT/report.json"
for c in "$REPORT"/charts/*.svg; do echo "   $c"; done
exit $rc
