/*
 * fuzz_scenario.c: bytes as a drill scenario (JSON), through the parser
 * art17-drill uses (tools/drill_scenario.c, jansson underneath), then,
 * for what it accepts, through what the drill does with it before the
 * first agent starts: the report's copy of the scenario
 * (drill_scenario_json) and the per-agent samples of every distribution.
 *
 * Findings (abort): a refusal without a message; an accepted scenario
 * outside the limits docs/drill.md gives (agents, groups, steps,
 * requests, shares adding up to 1, feedback weights, a step naming an
 * incident or a group that is not there); a distribution whose sample
 * does not fit the drill's uint32_t milliseconds; a scenario the report
 * cannot describe.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "drill.h"

static void
finding(const char *what, int i)
{
	fprintf(stderr, "fuzz_scenario: %s (%d)\n", what, i);
	abort();
}

/* Terminated inside its array, as every name and text must be. */
#define WHOLE(a) (memchr((a), '\0', sizeof(a)) != NULL)

static int
dist_ok(const drill_dist *d)
{
	static const double r[] = {0, 0.5, 0.999999999};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		double v = drill_dist_sample(d, r[i]);

		/* the drill casts it to uint32_t milliseconds */
		if (!(v >= 0 && v < 4294967296.0))
			return 0;
	}
	return 1;
}

static int
has_group(const drill_scenario *sc, const char *name)
{
	for (int i = 0; i < sc->n_groups; i++)
		if (strcmp(sc->groups[i].name, name) == 0)
			return 1;
	return 0;
}

static void
check(const drill_scenario *sc)
{
	double total = 0;
	int issues = 0;

	if (sc->agents < 1 || sc->agents > DRILL_MAX_AGENTS)
		finding("agents out of range", sc->agents);
	if (!WHOLE(sc->name) || !WHOLE(sc->description))
		finding("name or description not terminated", 0);
	if (sc->n_groups < 1 || sc->n_groups > DRILL_MAX_GROUPS)
		finding("groups out of range", sc->n_groups);
	if (sc->n_steps < 1 || sc->n_steps > DRILL_MAX_STEPS)
		finding("steps out of range", sc->n_steps);
	for (int i = 0; i < sc->n_groups; i++) {
		const drill_group *g = &sc->groups[i];
		double w = 0;

		if (!WHOLE(g->name))
			finding("group name not terminated", i);
		if (!(g->share >= 0 && g->share <= 1) ||
		    !(g->consent >= 0 && g->consent <= 1) ||
		    !(g->fb_share >= 0 && g->fb_share <= 1))
			finding("a group's share out of [0, 1]", i);
		total += g->share;
		for (int s = 0; s < DRILL_FB_STATUSES; s++) {
			if (!(g->fb_mix[s] >= 0))
				finding("a negative feedback weight", i);
			w += g->fb_mix[s];
		}
		/* drill.c draws rnd() * w: w must be a positive number */
		if (!(w > 0 && isfinite(w)))
			finding("feedback weights do not add up", i);
		if (!dist_ok(&g->ack) || !dist_ok(&g->fb_delay))
			finding("a distribution out of uint32_t ms", i);
		if (drill_category_parse(drill_category_name(g->category)) !=
		    g->category)
			finding("an unknown category", i);
	}
	if (!(total > 0.999999 && total < 1.000001))
		finding("shares do not add up to 1", 0);
	for (int i = 0; i < sc->n_steps; i++) {
		const drill_step *s = &sc->steps[i];

		if (s->op < OP_DECLARE || s->op > OP_END ||
		    strcmp(drill_op_name(s->op), "?") == 0)
			finding("an unknown op", i);
		if (!WHOLE(s->incident) || !WHOLE(s->raw_incident) ||
		    !WHOLE(s->label) || !WHOLE(s->group) || !WHOLE(s->title) ||
		    !WHOLE(s->text))
			finding("a step's text not terminated", i);
		if (s->group[0] != '\0' && !has_group(sc, s->group))
			finding("a step names a missing group", i);
		if ((s->op == OP_ONLINE || s->op == OP_OFFLINE) &&
		    s->group[0] == '\0')
			finding("online/offline without a group", i);
		if (s->op == OP_ISSUE) {
			issues++;
			if (s->tlp == 0)
				finding("an issue step without a TLP", i);
		}
		if ((s->op == OP_FLAG || s->op == OP_UNFLAG ||
		     (s->op == OP_ISSUE && s->raw_incident[0] == '\0'))) {
			int found = 0;

			/* declared by an earlier step */
			for (int j = 0; j < i && !found; j++)
				found = sc->steps[j].op == OP_DECLARE &&
				        strcmp(sc->steps[j].incident,
				               s->incident) == 0;
			if (!found)
				finding("a step names an undeclared incident",
				        i);
		}
		if (!(s->seconds >= 0 && s->seconds <= 366.0 * 86400))
			finding("a step's seconds out of range", i);
	}
	if (issues > DRILL_MAX_REQUESTS)
		finding("too many issue steps", issues);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static drill_scenario sc; /* about 200 KiB: not on the stack */
	char err[512], *out;
	json_t *j;

	err[0] = '\0';
	if (drill_scenario_parse("fuzz.json", data, size, &sc, err,
	                         sizeof(err)) != 0) {
		if (err[0] == '\0')
			finding("refused without a message", 0);
		return (0);
	}
	check(&sc);
	if ((j = drill_scenario_json(&sc)) == NULL)
		finding("the report cannot describe an accepted scenario", 0);
	if ((out = json_dumps(j, JSON_COMPACT)) == NULL)
		finding("the report's scenario does not serialise", 0);
	free(out);
	json_decref(j);
	return (0);
}
