/*
 * test_drill_scenario.c: the drill's scenario parser (tools/
 * drill_scenario.c), table-driven. Every bad scenario is refused with a
 * message that names the line (JSON syntax) or the field; good ones are
 * read as written; the shipped scenarios parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "art17.pb-c.h"
#include "drill.h"

#define STEPS_OK "\"steps\": [{\"op\": \"declare\", \"incident\": \"a\"}]"

static const struct bad {
	const char *json;
	const char *want; /* a substring of the error */
} bad[] = {
    {"{\"name\": \"x\",\n \"agents\": 5,\n \"steps\": [ {\"op\" \"wait\"} ]}",
     "line 3"},
    {"[]", "top level: must be an object"},
    {"{\"agents\": 5, " STEPS_OK "}", "top level.name: required"},
    {"{\"name\": \"x\", \"agnets\": 5, " STEPS_OK "}",
     "top level.agnets: unknown field"},
    {"{\"name\": \"x\", \"agents\": 0, " STEPS_OK "}",
     "top level.agents: 0 is out of range"},
    {"{\"name\": \"x\", \"agents\": 30000, " STEPS_OK "}",
     "top level.agents: 30000 is out of range"},
    {"{\"name\": \"x\"}", "steps: required"},
    {"{\"name\": \"x\", \"steps\": []}", "steps: required"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"fly\"}]}",
     "steps[0].op: unknown step 'fly'"},
    {"{\"name\": \"x\", \"steps\": [{}]}", "steps[0].op: required"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": 3}]}",
     "steps[0].op: must be a string"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"flag\", \"incident\": "
     "\"a\"}]}",
     "steps[0].incident: 'a' is not declared"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"declare\"}]}",
     "steps[0].incident: required"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"declare\", \"incident\": "
     "\"a\"}, {\"op\": \"declare\", \"incident\": \"a\"}]}",
     "steps[1].incident: 'a' is declared already"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.5, \"category\": "
     "\"army\"}]}",
     "groups[0].category: 'army' is not"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 1.5}]}",
     "groups[0].share: 1.5 is out of range"},
    {"{\"name\": \"x\", " STEPS_OK ", \"groups\": [{\"name\": \"g\"}]}",
     "groups[0].share: required"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.6}, {\"name\": \"h\", "
     "\"share\": 0.6}]}",
     "groups: the shares add up to 1.2"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1}, {\"name\": \"g\", "
     "\"share\": 0.1}]}",
     "groups[1].name: 'g' is used twice"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1, \"ack_ms\": "
     "{\"dist\": \"normal\"}}]}",
     "groups[0].ack_ms.dist: 'normal' is not fixed, uniform or exp"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1, \"ack_ms\": "
     "{\"dist\": \"uniform\", \"min\": 9, \"max\": 3}}]}",
     "groups[0].ack_ms.max: smaller than min"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1, \"ack_ms\": -1}]}",
     "groups[0].ack_ms: out of range"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1, \"feedback\": "
     "{\"mix\": {\"angry\": 1}}}]}",
     "groups[0].feedback.mix.angry: not a feedback status"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1, \"feedback\": "
     "{\"mix\": {\"declined\": 0}}}]}",
     "groups[0].feedback.mix: all weights are zero"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1, \"feedback\": "
     "{\"mix\": {\"declined\": 1e308}}}]}",
     "groups[0].feedback.mix.declined: must be a number in [0, 1000000]"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1, \"flap\": {}}]}",
     "groups[0].flap.every_s: required"},
    {"{\"name\": \"x\", " STEPS_OK
     ", \"groups\": [{\"name\": \"g\", \"share\": 0.1, \"impostor\": "
     "1}]}",
     "groups[0].impostor: must be true or false"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"online\"}]}",
     "steps[0].group: required"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"online\", \"group\": "
     "\"nope\"}]}",
     "steps[0].group: no group named 'nope'"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"wait\"}]}",
     "steps[0]: seconds, or until"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"wait\", \"until\": "
     "\"done\"}]}",
     "steps[0].until: 'done' is not settled"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"consent\", \"action\": "
     "\"maybe\"}]}",
     "steps[0].action: 'maybe' is not grant or revoke"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"declare\", \"incident\": "
     "\"a\"}, {\"op\": \"issue\", \"incident\": \"a\", \"kind\": "
     "\"order\"}]}",
     "steps[1].kind: 'order' is not cooperation or share"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"declare\", \"incident\": "
     "\"a\"}, {\"op\": \"issue\", \"incident\": \"a\", \"tlp\": "
     "\"pink\"}]}",
     "steps[1].tlp: 'pink' is not"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"declare\", \"incident\": "
     "\"a\"}, {\"op\": \"issue\", \"incident\": \"a\", \"incident_id\": "
     "\"INC-1\"}]}",
     "steps[1]: incident and incident_id exclude each other"},
    {"{\"name\": \"x\", \"steps\": [{\"op\": \"kill_broker\", \"sigkill\": "
     "true}]}",
     "steps[0].sigkill: unknown field"},
};

static char tmpl[] = "/tmp/a17-scenario-XXXXXX";

static const char *
write_tmp(const char *json)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s", tmpl);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(json, f);
	fclose(f);
	return path;
}

static void
test_bad(void **state)
{
	static drill_scenario sc;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *p = write_tmp(bad[i].json);

		err[0] = '\0';
		if (drill_scenario_load(p, &sc, err, sizeof(err)) == 0)
			fail_msg("case %zu accepted: %s", i, bad[i].json);
		if (strstr(err, bad[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err,
			         bad[i].want);
		unlink(p);
	}
}

static void
test_good(void **state)
{
	static drill_scenario sc;
	const char *p = write_tmp(
	    "{\"name\": \"ok\", \"agents\": 40, \"groups\": ["
	    " {\"name\": \"g\", \"share\": 0.25, \"category\": \"local-gov\","
	    "  \"ack_ms\": {\"dist\": \"exp\", \"mean\": 50, \"max\": 400},"
	    "  \"consent\": 0.5, \"offline\": true, \"impostor\": false,"
	    "  \"feedback\": {\"share\": 0.5, \"delay_ms\": 10,"
	    "   \"mix\": {\"declined\": 1, \"affected\": 3}},"
	    "  \"flap\": {\"every_s\": 2, \"down_ms\": 100},"
	    "  \"crash\": {\"at_s\": 3, \"down_s\": 1}}],"
	    " \"steps\": [{\"op\": \"declare\", \"incident\": \"a\"},"
	    "  {\"op\": \"flag\", \"incident\": \"a\", \"expires_s\": 60},"
	    "  {\"op\": \"consent\", \"action\": \"revoke\", \"group\": \"g\"},"
	    "  {\"op\": \"issue\", \"incident\": \"a\", \"kind\": \"share\","
	    "   \"tlp\": \"amber+strict\", \"label\": \"s\"},"
	    "  {\"op\": \"issue\", \"incident_id\": \"INC-000009\","
	    "   \"expect\": \"refused\"},"
	    "  {\"op\": \"wait\", \"until\": \"settled\", \"timeout_s\": 9},"
	    "  {\"op\": \"kill_broker\"}, {\"op\": \"restart_broker\"},"
	    "  {\"op\": \"end\", \"comment\": \"done\"}]}");
	char err[512] = "";
	const drill_group *g;
	const drill_step *s;

	(void)state;
	if (drill_scenario_load(p, &sc, err, sizeof(err)) != 0)
		fail_msg("refused: %s", err);
	unlink(p);
	assert_int_equal(sc.agents, 40);
	assert_int_equal(sc.n_groups, 2); /* g and the rest */
	g = &sc.groups[0];
	assert_string_equal(g->name, "g");
	assert_int_equal(g->category, ART17__CATEGORY__CAT_LOCAL_GOV);
	assert_int_equal(g->ack.kind, DIST_EXP);
	assert_true(g->offline && !g->impostor);
	assert_true(g->fb_mix[4] == 1 && g->fb_mix[2] == 3 &&
	            g->fb_mix[0] == 0);
	assert_int_equal(g->flap_down_ms, 100);
	assert_string_equal(sc.groups[1].name, "rest");
	assert_true(sc.groups[1].share > 0.74 && sc.groups[1].share < 0.76);
	assert_int_equal(sc.n_steps, 9);
	s = &sc.steps[2];
	assert_int_equal(s->op, OP_CONSENT);
	assert_false(s->grant);
	s = &sc.steps[3];
	assert_int_equal(s->op, OP_ISSUE);
	assert_false(s->cooperation);
	assert_int_equal(s->tlp, ART17__TLP__TLP_AMBER_STRICT);
	s = &sc.steps[4];
	assert_true(s->expect_refused);
	assert_string_equal(s->raw_incident, "INC-000009");
	assert_true(sc.steps[5].until_settled && sc.steps[5].seconds == 9);
}

static void
test_shipped(void **state)
{
	static drill_scenario sc;
	const char *files[] = {A17_SOURCE_DIR "/tools/scenarios/default.json",
	                       A17_SOURCE_DIR
	                       "/tests/integration/drill-small.json"};
	char err[512];

	(void)state;
	for (size_t i = 0; i < 2; i++)
		if (drill_scenario_load(files[i], &sc, err, sizeof(err)) != 0)
			fail_msg("%s: %s", files[i], err);
}

static void
test_dist(void **state)
{
	drill_dist f = {DIST_FIXED, 7, 0}, u = {DIST_UNIFORM, 10, 20},
	           e = {DIST_EXP, 100, 300};

	(void)state;
	assert_true(drill_dist_sample(&f, 0.9) == 7);
	assert_true(drill_dist_sample(&u, 0) == 10);
	assert_true(drill_dist_sample(&u, 0.5) == 15);
	assert_true(drill_dist_sample(&e, 0) == 0);
	assert_true(drill_dist_sample(&e, 0.999999) == 300); /* capped */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_shipped),
	    cmocka_unit_test(test_dist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
