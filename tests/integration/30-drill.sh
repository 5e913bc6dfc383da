#!/usr/bin/env bash
# A small drill (art17-drill, 100 simulated agents over mutual TLS with the
# real broker), then every number in its report.json is checked against the
# broker's own stored state, read back through art17ctl from the drill's
# LMDB: per request the copies by state, delivered, acked and feedback;
# the totals; the breakdown by member category; the excluded members; the
# refused drill request that named a real incident (deny.exercise-mix in
# the audit log). The must-be-zero counts must be zero, the charts SVG,
# and scenario errors must name the line or the field.
BIN=$(cd "$1" && pwd)
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
DRILL=$BIN/tools/art17-drill
R=$A17_TMP/report

# ---------------------------------------------------------------- errors
printf '{"name": "x",\n "agents": 10,\n "steps": [\n  {"op": "declare" "incident": "a"}\n ]}\n' >"$A17_TMP/bad1.json"
out=$("$DRILL" -s "$A17_TMP/bad1.json" --check 2>&1) && fail "bad JSON accepted"
echo "$out" | grep -q "line 4" || fail "syntax error does not name the line: $out"
cat >"$A17_TMP/bad2.json" <<'J'
{"name": "x", "agents": 10, "steps": [{"op": "declare", "incident": "a"}, {"op": "fly"}]}
J
out=$("$DRILL" -s "$A17_TMP/bad2.json" --check 2>&1)
[ $? = 2 ] || fail "unknown step: exit status not 2"
echo "$out" | grep -q "steps\[1\].op: unknown step 'fly'" || fail "unknown step: $out"
cat >"$A17_TMP/bad3.json" <<'J'
{"name": "x", "agents": 10, "groups": [{"name": "g", "share": 0.5, "ack_ms": {"dist": "uniform", "min": 5}}],
 "steps": [{"op": "issue", "incident": "nope"}]}
J
out=$("$DRILL" -s "$A17_TMP/bad3.json" --check 2>&1) && fail "bad group accepted"
echo "$out" | grep -q "groups\[0\].ack_ms: min and max are required" || fail "bad dist: $out"
cat >"$A17_TMP/bad4.json" <<'J'
{"name": "x", "agents": 10, "steps": [{"op": "issue", "incident": "nope"}]}
J
out=$("$DRILL" -s "$A17_TMP/bad4.json" --check 2>&1) && fail "undeclared incident accepted"
echo "$out" | grep -q "steps\[0\].incident: 'nope' is not declared" || fail "undeclared: $out"

# ---------------------------------------------------------------- the drill
"$DRILL" -s "$HERE/drill-small.json" -o "$R" --keep -q --real-agents 1 >"$A17_TMP/drill.out" 2>"$A17_TMP/drill.log" ||
	{ cat "$A17_TMP/drill.out" "$A17_TMP/drill.log" >&2; fail "art17-drill failed"; }
grep -q "lost 0, duplicated 0, gate violations 0, unmarked 0" "$A17_TMP/drill.out" ||
	fail "drill summary line: $(cat "$A17_TMP/drill.out")"
for f in report.json summary.md charts/receipts.svg charts/latency.svg charts/categories.svg; do
	[ -s "$R/$f" ] || fail "missing $f"
done
for f in receipts latency categories; do
	grep -q "<svg" "$R/charts/$f.svg" || fail "$f.svg is not SVG"
	grep -q "EXERCISE" "$R/charts/$f.svg" || fail "$f.svg not marked EXERCISE"
done
grep -q "^# EXERCISE" "$R/summary.md" || fail "summary.md not marked EXERCISE"

# ---------------------------------------------------------------- broker state
# the drill's broker data and PKI, read back with art17ctl
export ART17_DATA=$R/work/data ART17_PKI=$R/work/pki ART17_COORDINATOR=drill
# a random port may be taken (a big drill nearby uses thousands of
# ephemeral ports on loopback): try a few
for try in 1 2 3 4 5; do
	BROKER_PORT=$(free_port)
	"$BIN/broker/art17-broker" -d "$ART17_DATA" -p "$ART17_PKI" \
		-l "tls+tcp://127.0.0.1:$BROKER_PORT" >"$A17_TMP/broker.log" 2>&1 &
	BROKER_PID=$!
	A17_PIDS+=("$BROKER_PID")
	wait_for 60 grep -q "ready:\|start-up failed" "$A17_TMP/broker.log"
	grep -q "ready:" "$A17_TMP/broker.log" && break
	wait "$BROKER_PID" 2>/dev/null
done
grep -q "ready:" "$A17_TMP/broker.log" || fail "broker on the drill's data did not start"
ctl member list --json >"$A17_TMP/members.json" || fail "member list"
for rid in $(jq -r '.requests[] | select(.refused | not) | .request_id' "$R/report.json"); do
	ctl request status "$rid" --json >"$A17_TMP/status-$rid.json" || fail "status $rid"
	ctl feedback list "$rid" --json >"$A17_TMP/feedback-$rid.json" || fail "feedback $rid"
done
ctl audit show >"$A17_TMP/audit.txt" || fail "audit show"
ctl audit verify >/dev/null || fail "audit verify"
v=$("$BIN/agent/art17-agent" -d "$R/work/agent-real-01" list) || fail "real agent list"
echo "$v" | grep -q EXERCISE || fail "the real agent's list does not show EXERCISE"

python3 - "$R/report.json" "$A17_TMP" <<'PY' || fail "report.json does not match the broker's state"
import json, sys, collections
rep = json.load(open(sys.argv[1])); d = sys.argv[2]
allm = {m["id"]: m for m in json.load(open(d + "/members.json"))}
members = {k: v for k, v in allm.items() if k.startswith("drill-")}
real = {k for k in allm if k.startswith("real-")}
n_members = len(allm)
assert rep["marking"] == "EXERCISE"
assert rep["run"]["agents"] == len(members) == 100, (rep["run"]["agents"], len(members))
assert real == {"real-01"} and n_members == 101, sorted(allm)
# the real art17-agent took part, and shows every copy marked EXERCISE
ra = rep["real_agents"]
assert len(ra) == 1 and ra[0]["member"] == "real-01" and ra[0]["listed"], ra
assert ra[0]["copies_held"] >= 2 and ra[0]["copies_held"] == ra[0]["marked_exercise"], ra
z = rep["must_be_zero"]
assert z == {"lost": 0, "duplicated": 0, "gate_violations": 0, "unmarked": 0, "violations": []} or \
    all(z[k] == 0 for k in ("lost", "duplicated", "gate_violations", "unmarked")), z
assert rep["step_failures"] == 0
tot = collections.Counter()
cat = collections.defaultdict(collections.Counter)
checked = 0
for r in rep["requests"]:
    if r["refused"]:
        # the drill request naming a real incident: refused for everyone
        assert r["label"] == "mix" and "nobody is eligible" in r["refusal"], r
        continue
    st = json.load(open(d + "/status-%s.json" % r["request_id"]))
    fb = json.load(open(d + "/feedback-%s.json" % r["request_id"]))
    copies = st["copies"]
    b = r["broker"]
    assert st["request"]["exercise"] is True and r["exercise"] is True and r["marking"] == "EXERCISE"
    assert b["copies"] == st["n_copies"] == len(copies), (b["copies"], st["n_copies"])
    states = collections.Counter(c["state"] for c in copies)
    for s, n in b["states"].items():
        assert states.get(s, 0) == n, (r["label"], s, states.get(s, 0), n)
    assert sum(b["states"].values()) == len(copies)
    assert b["delivered"] == sum(1 for c in copies if c["delivered"]), r["label"]
    assert b["acked"] == sum(1 for c in copies if c["acked"]), r["label"]
    assert b["feedback"] == len(fb["feedback"]), (b["feedback"], len(fb["feedback"]))
    assert all(f["version"] == 1 for f in fb["feedback"])
    assert len({f["member_id"] for f in fb["feedback"]}) == len(fb["feedback"]), "feedback twice"
    # every member is either a recipient or excluded, with a reason
    ex = r["excluded_members"]
    assert b["excluded"] == len(ex)
    assert len(copies) + len(ex) == n_members, (r["label"], len(copies), len(ex))
    assert not ({c["member_id"] for c in copies} & {e["member_id"] for e in ex})
    assert all(e["reason"] for e in ex)
    # the agents' side (simulated plus the real one) agrees with the broker
    a = r["agents"]
    rc = [c for c in copies if c["member_id"] in real]
    ra_ = r["real_agents"]
    assert ra_["copies"] == len(rc) and ra_["delivered"] == sum(1 for c in rc if c["delivered"]) \
        and ra_["acked"] == sum(1 for c in rc if c["acked"]), (r["label"], ra_)
    assert a["receipts_confirmed"] + ra_["acked"] == b["acked"], (r["label"], a, b["acked"])
    assert a["feedback_confirmed"] == b["feedback"], (r["label"], a, b["feedback"])
    assert a["received"] + ra_["delivered"] == b["delivered"], (r["label"], a, b["delivered"])
    for k, n in (("copies", len(copies)), ("delivered", b["delivered"]), ("acked", b["acked"]),
                 ("answered", states["answered"]), ("withdrawn", states["withdrawn"]),
                 ("queued", states["queued"]), ("overdue", states["overdue"]),
                 ("excluded", len(ex)), ("feedback_stored", len(fb["feedback"])),
                 ("agents_received", a["received"]),
                 ("agents_receipts_confirmed", a["receipts_confirmed"]),
                 ("agents_feedback_confirmed", a["feedback_confirmed"])):
        tot[k] += n
    fbm = {f["member_id"] for f in fb["feedback"]}
    for c in copies:
        if c["member_id"] in real:
            continue
        k = members[c["member_id"]]["category"]
        cat[k]["copies"] += 1
        cat[k]["delivered"] += bool(c["delivered"])
        cat[k]["acked"] += bool(c["acked"])
        cat[k]["answered"] += c["state"] == "answered"
        cat[k]["withdrawn"] += c["state"] == "withdrawn"
        cat[k]["feedback_confirmed"] += c["member_id"] in fbm
    for e in ex:
        if e["member_id"] not in real:
            cat[members[e["member_id"]]["category"]]["excluded"] += 1
    checked += 1
assert checked == 4, checked
for k, n in tot.items():
    assert rep["totals"][k] == n, ("totals", k, rep["totals"][k], n)
mc = collections.Counter(m["category"] for m in members.values())
assert set(rep["by_category"]) == set(mc), (set(rep["by_category"]), set(mc))
for k, row in rep["by_category"].items():
    assert row["members"] == mc[k], (k, row["members"], mc[k])
    for f in ("copies", "delivered", "acked", "answered", "withdrawn", "excluded", "feedback_confirmed"):
        assert row[f] == cat[k][f], (k, f, row[f], cat[k][f])
# the behaviours happened
ag = rep["agents"]
assert ag["impostors"] == 5 and ag["impostors_refused"] == 5, ag
assert ag["taken_down"] >= 10, ag          # flapping and crashing agents
assert rep["totals"]["withdrawn"] >= 20    # offline while the flag was lifted
assert rep["totals"]["answered"] > 0 and rep["totals"]["acked"] > 0
print("report.json matches the broker: %d requests, %d copies" % (checked, tot["copies"]))
PY
grep -q "deny.exercise-mix" "$A17_TMP/audit.txt" ||
	fail "the refused drill request on a real incident is not audited as deny.exercise-mix"
stop_broker
echo "PASS: drill report cross-checked against the broker"
