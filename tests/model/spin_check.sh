#!/usr/bin/env bash
# spin_check.sh: checks the delivery model (tests/model/delivery.pml) with
# SPIN, exhaustively, and proves the check can fail.
#
#   1. the model as the broker implements it, with the two-person rule and
#      without it (-DQUORUM=1): each must give "errors: 0" over the full
#      state space;
#   2. the same model built with -DBROKEN (no gate check at the moment of
#      delivery): SPIN must find a violation.
#
# A17_SPIN_N=3 checks three members instead of two (about 35 s, 700 MB).
# Exit 0 on success, 1 on failure, 77 (ctest: skipped) without spin.
# Run through ctest: ctest -L gate. See docs/gate.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
model="$here/delivery.pml"
CC=${CC:-cc}
nmem=${A17_SPIN_N:-2}
case $nmem in
2 | 3) ;;
*) echo "spin_check: A17_SPIN_N must be 2 or 3"; exit 1 ;;
esac

if ! command -v spin >/dev/null 2>&1; then
	echo "spin_check: spin is not installed (Debian: apt-get install spin); skipped"
	exit 77
fi
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "spin_check: no C compiler ($CC); skipped"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/a17-spin-XXXXXX")
trap 'rm -rf "$work"' EXIT

# run_model NAME [spin -D options...]: verifies into $work/NAME/pan.out and
# prints the figures; sets $errors.
run_model() {
	local name=$1
	shift
	local dir="$work/$name"

	mkdir -p "$dir"
	cp "$model" "$dir/delivery.pml"
	(
		cd "$dir"
		spin "$@" -a delivery.pml >spin.out 2>&1 ||
			{ cat spin.out; exit 1; }
		# pan.c is generated code: its warnings are not ours.
		"$CC" -O2 -w -DSAFETY -o pan pan.c >cc.out 2>&1 ||
			{ cat cc.out; exit 1; }
		# pan exits non-zero when it finds an error; the count decides.
		./pan -m100000 >pan.out 2>&1 || true
	) || { echo "spin_check: $name: could not build the verifier"; exit 1; }

	if ! errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' \
		"$dir/pan.out" | tail -n 1) || [ -z "$errors" ]; then
		echo "spin_check: $name: no result from pan:"
		cat "$dir/pan.out"
		exit 1
	fi
	echo "== $name (spin ${*:-(no options)} -a; cc -O2 -DSAFETY; ./pan -m100000)"
	grep -E 'violated|errors:|states, stored|states, matched|transitions \(|depth reached|elapsed time|total actual memory' \
		"$dir/pan.out" | sed 's/^[[:space:]]*/  /' | cut -c1-200 || true
}

# check_clean NAME: the run found no error and searched everything.
check_clean() {
	local out="$work/$1/pan.out"

	if [ "$errors" != 0 ]; then
		echo "spin_check: FAIL: $1: $errors error(s):"
		cat "$out"
		(cd "$work/$1" && spin -t -p delivery.pml 2>&1 | tail -n 60) ||
			true
		exit 1
	fi
	if grep -qE 'max search depth too small|Search not completed|out of memory' \
		"$out"; then
		echo "spin_check: FAIL: $1: the search was not exhaustive:"
		cat "$out"
		exit 1
	fi
	grep -q 'Full statespace search' "$out" || {
		echo "spin_check: FAIL: $1: not a full state-space search"
		cat "$out"
		exit 1
	}
}

# 1. The model as implemented: exhaustive, no error.
run_model model -DN="$nmem"
check_clean model
run_model quorum1 -DN="$nmem" -DQUORUM=1
check_clean quorum1

# 2. The broken variant must be caught: the property can fail.
run_model broken -DN="$nmem" -DBROKEN
out="$work/broken/pan.out"
if [ "$errors" -lt 1 ]; then
	echo "spin_check: FAIL: -DBROKEN (no gate check at delivery) was" \
		"not caught; the property is vacuous"
	cat "$out"
	exit 1
fi
grep -q 'assertion violated' "$out" || {
	echo "spin_check: FAIL: -DBROKEN failed, but not on an assertion"
	cat "$out"
	exit 1
}

echo "spin_check: OK: delivery model with $nmem members verified" \
	"(errors: 0, with and without the two-person rule);" \
	"-DBROKEN caught ($errors error)"
