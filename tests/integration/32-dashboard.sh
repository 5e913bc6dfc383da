#!/usr/bin/env bash
# The coordinator dashboard and /metrics, served by the broker on loopback
# with nng's HTTP server: authentication required (bearer token or Basic
# with the token as password), read-only, Prometheus text format with the
# counters of issue 9. Then the page in Debian's headless Chromium: it
# shows a request's member x state matrix filling in live, the receipt
# curve and EXERCISE unmistakably; a screenshot is kept in the build tree
# (tests/dashboard.png). Skips (77) only when Chromium or chromedriver is
# not installed (tools/install-deps.sh installs both).
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"


TOK=$A17_TMP/dashboard.token
openssl rand -hex 32 >"$TOK"
chmod 600 "$TOK"
HPORT=$(free_port)
URL=http://127.0.0.1:$HPORT
pki_init m1 m2 m3
start_broker --keepalive 2000 --dashboard "$URL/" --dashboard-auth "$TOK"
for m in m1 m2 m3; do add_member "$m"; done
for m in m1 m2 m3; do start_agent "$m"; done
for m in m1 m2 m3; do wait_for 30 agent_connected "$m" || fail "agent $m"; done

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
# --- authentication: none, wrong, wrong scheme, then right (both ways)
for p in / /api/state /metrics /dashboard.js; do
	[ "$(code "$URL$p")" = 401 ] || fail "$p served without credentials"
	[ "$(code -H "Authorization: Bearer nottherighttoken0000" "$URL$p")" = 401 ] ||
		fail "$p served with a wrong token"
	[ "$(code -H "Authorization: Bearer $(cat "$TOK")x" "$URL$p")" = 401 ] ||
		fail "$p served with the token plus a byte"
	[ "$(code -H "Authorization: Bearer $(cut -c1-63 "$TOK")" "$URL$p")" = 401 ] ||
		fail "$p served with a prefix of the token"
	[ "$(code -H "Authorization: Bearer $(cat "$TOK")" "$URL$p")" = 200 ] ||
		fail "$p refused the token"
	[ "$(code -u "coordinator:$(cat "$TOK")" "$URL$p")" = 200 ] ||
		fail "$p refused Basic auth with the token"
done
curl -s -i "$URL/" | grep -qi '^WWW-Authenticate: Basic realm="art17 dashboard"' ||
	fail "401 without a Basic challenge"
grep -q "A17-W0901" "$A17_TMP/broker.log" || fail "bad credentials not logged"
grep -qF "$(cat "$TOK")" "$A17_TMP/broker.log" && fail "the token is in the log"
[ "$(code -X POST -H "Authorization: Bearer $(cat "$TOK")" "$URL/api/state")" = 405 ] ||
	fail "POST accepted: the dashboard is read-only"
# loopback only, by refusal at start-up
"$BIN/broker/art17-broker" -d "$A17_TMP/b2" -p "$ART17_PKI" -l tls+tcp://127.0.0.1:1 \
	--dashboard http://0.0.0.0:8080/ --dashboard-auth "$TOK" 2>"$A17_TMP/b2.err"
[ $? = 1 ] || fail "a non-loopback dashboard started"
grep -q "is not on loopback" "$A17_TMP/b2.err" || fail "non-loopback: $(cat "$A17_TMP/b2.err")"
echo "auth ok"

# --- incidents: one real with the flag, one exercise
INC=$(declare_incident "VPN exploitation")
ctl incident flag "$INC" --reason "large-scale attack" --expires 1h >/dev/null || fail flag
XINC=$(declare_incident "Autumn drill" --exercise)
ctl incident flag "$XINC" --reason "drill" --expires 1h >/dev/null || fail xflag
# one request refused by the gate (no ground) feeds the deny counter
INC2=$(declare_incident "no ground")
ctl request issue --kind cooperation --incident "$INC2" --title x --content x \
	--secret no >/dev/null 2>&1 && fail "issue without ground succeeded"

# --- the page, in a real browser
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
	echo "SKIP: chromium or chromedriver not installed (tools/install-deps.sh)"
	exit 77
fi
SHOT=$BIN/tests/dashboard.png
mkdir -p "$BIN/tests"
timeout 240 python3 "$(dirname "$0")/../tools/dashboard_browser.py" "$URL/" "$TOK" \
	"$SHOT" "$BIN/tools/art17ctl" "$INC" "$XINC" ||
	{ cat "$BIN/tests/chromedriver.log" >&2 2>/dev/null; fail "browser test"; }

# --- /metrics after that traffic
M=$A17_TMP/metrics.txt
curl -sf -H "Authorization: Bearer $(cat "$TOK")" "$URL/metrics" >"$M" || fail metrics
metric() { awk -v k="$1" '$1 == k { print $2 }' "$M"; }
[ "$(metric art17_agents_connected)" = 3 ] || fail "agents_connected: $(metric art17_agents_connected)"
[ "$(metric 'art17_copies{state="acked"}')" = 6 ] ||
	fail "acked copies: $(metric 'art17_copies{state="acked"}')"
[ "$(metric 'art17_gate_decisions_total{decision="allow",reason="allow.large-scale"}')" -ge 6 ] ||
	fail "allow decisions not counted"
[ "$(metric 'art17_gate_decisions_total{decision="deny",reason="deny.no-ground"}')" -ge 3 ] ||
	fail "deny decisions not counted"
[ "$(metric art17_commit_batch_size_count)" -gt 0 ] || fail "no commit batches"
[ "$(metric 'art17_commit_batch_size_bucket{le="+Inf"}')" = "$(metric art17_commit_batch_size_count)" ] ||
	fail "batch size histogram: +Inf bucket is not the count"
[ "$(metric 'art17_commit_seconds_bucket{le="+Inf"}')" = "$(metric art17_commit_seconds_count)" ] ||
	fail "latency histogram: +Inf bucket is not the count"
grep -q '^# TYPE art17_commit_seconds histogram$' "$M" || fail "latency is not a histogram"
# buckets never decrease
awk -F'[ ]' '/^art17_commit_(batch_size|seconds)_bucket/ { split($1, a, "{"); if (a[1] == last && $2 < prev) bad = 1; last = a[1]; prev = $2 } END { exit bad }' "$M" ||
	fail "a histogram's buckets decrease"
awk -v s="$(metric art17_commit_seconds_sum)" 'BEGIN { exit !(s > 0) }' ||
	fail "commit latency not measured"
grep -q '^# TYPE art17_gate_decisions_total counter$' "$M" || fail "TYPE lines"
echo "metrics ok"
echo "dashboard: ok"
