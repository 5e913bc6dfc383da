/*
 * test_conf.c: lib/conf.c, the INI reader behind both daemons' files.
 * Values land where the table says, in every accepted spelling and at the
 * edges of their ranges; what is wrong is counted, every time, and
 * leaves the destination alone. (The exact messages, with file and line,
 * are checked against the real binaries in tests/integration/30-config.sh.)
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

#include "conf.h"

typedef struct vals {
	const char *s;
	int b, i;
} vals;

enum { K_S, K_B, K_I, K_N };

static char path[64];

/* Writes len bytes of text to a file and reads it against sec's keys. */
static int
loadn(const char *text, size_t len, vals *v, int line_of[K_N])
{
	const conf_key keys[] = {
	    {"sec", "str", CONF_STR, 0, 0, &v->s},
	    {"sec", "flag", CONF_BOOL, 0, 0, &v->b},
	    {"sec", "num", CONF_INT, -5, 100, &v->i},
	    {NULL, NULL, CONF_STR, 0, 0, NULL},
	};
	conf_file *cf = NULL;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/tmp/a17-conf-XXXXXX");
	close(mkstemp(path));
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	memset(line_of, 0, K_N * sizeof(int));
	/* keep the strings: the caller looks at them, then frees */
	n = conf_load(path, keys, line_of, &cf);
	if (v->s != NULL)
		v->s = strdup(v->s);
	conf_free(cf);
	unlink(path);
	return n;
}

static int
load(const char *text, vals *v, int line_of[K_N])
{
	return loadn(text, strlen(text), v, line_of);
}

static void
test_values(void **state)
{
	vals v = {NULL, 0, 0};
	int line[K_N];

	(void)state;
	assert_int_equal(load("; comment\n# also\n\n[sec]\nstr = hello "
	                      "world\nflag = yes\nnum = 100\n",
	                      &v, line),
	                 0);
	assert_string_equal(v.s, "hello world");
	assert_int_equal(v.b, 1);
	assert_int_equal(v.i, 100);
	assert_int_equal(line[K_S], 5);
	assert_int_equal(line[K_B], 6);
	assert_int_equal(line[K_I], 7);
	free((char *)v.s);
}

static void
test_bool_spellings(void **state)
{
	static const char *yes[] = {"yes", "YES", "true", "on", "1"};
	static const char *no[] = {"no", "False", "off", "0"};
	char buf[64];
	int line[K_N];

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		vals v = {NULL, 0, 0};

		snprintf(buf, sizeof(buf), "[sec]\nflag = %s\n", yes[i]);
		assert_int_equal(load(buf, &v, line), 0);
		assert_int_equal(v.b, 1);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++) {
		vals v = {NULL, 1, 0};

		snprintf(buf, sizeof(buf), "[sec]\nflag = %s\n", no[i]);
		assert_int_equal(load(buf, &v, line), 0);
		assert_int_equal(v.b, 0);
	}
}

static void
test_int_edges(void **state)
{
	static const struct {
		const char *text;
		int errors, want;
	} c[] = {
	    {"-5", 0, -5},   {"100", 0, 100}, {"0", 0, 0},
	    {"-6", 1, 7},    {"101", 1, 7},   {"1e2", 1, 7},
	    {"12abc", 1, 7}, {"", 1, 7},      {"99999999999999999999", 1, 7},
	    {" 42", 0, 42},  {"0x10", 1, 7},
	};
	char buf[128];
	int line[K_N];

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		vals v = {NULL, 0, 7};

		snprintf(buf, sizeof(buf), "[sec]\nnum = %s\n", c[i].text);
		assert_int_equal(load(buf, &v, line), c[i].errors);
		assert_int_equal(v.i, c[i].want);
	}
}

static void
test_every_error_counted(void **state)
{
	vals v = {NULL, 0, 3};
	int line[K_N];

	(void)state;
	/*
	 * seven problems, one a line; nothing bad is applied, and keys after
	 * an unknown section (inih keeps the last good one) are skipped
	 */
	assert_int_equal(load("x = 1\n"
	                      "[sec]\n"
	                      "flag = maybe\n"
	                      "num = 500\n"
	                      "nope = 1\n"
	                      "just words\n"
	                      "[other]\n"
	                      "[sec\n"
	                      "str = kept\n"
	                      "str = again\n",
	                      &v, line),
	                 7);
	assert_int_equal(v.i, 3);
	assert_int_equal(v.b, 0);
	assert_null(v.s);
}

static void
test_empty_string_is_unset(void **state)
{
	vals v = {"preset", 0, 0};
	int line[K_N];

	(void)state;
	assert_int_equal(load("[sec]\nstr =\n", &v, line), 0);
	assert_null(v.s);
	assert_int_equal(line[K_S], 2);
}

static void
test_read_as_inih_reads(void **state)
{
	static const char nul[] = "[sec]\nnum = 1\0x\nflag = maybe\n";
	vals v = {NULL, 0, 0};
	int line[K_N];

	(void)state;
	/* a byte-order mark, an inline comment: as inih reads them */
	assert_int_equal(load("\xEF\xBB\xBF[sec]\nnum = 4 ; four\n", &v, line),
	                 0);
	assert_int_equal(v.i, 4);
	/* inih takes "; =" for a comment: the line has no '=' for it */
	assert_int_equal(load("[sec]\nnum ;= 4\n", &v, line), 1);
	/* an indented line continues the key above: refused, not applied */
	v.i = 0;
	assert_int_equal(load("[sec]\nnum = 4\n  5\n", &v, line), 1);
	assert_int_equal(v.i, 4);
	/* a NUL byte: that line refused, the next one still counted */
	assert_int_equal(loadn(nul, sizeof(nul) - 1, &v, line), 2);
	assert_int_equal(line[K_B], 3);
}

static void
test_mem(void **state)
{
	static const char text[] = "[sec]\nstr = from memory\nnum = 9";
	const char *s = NULL;
	int b = 0, i = 0, line[K_N] = {0};
	const conf_key keys[] = {
	    {"sec", "str", CONF_STR, 0, 0, &s},
	    {"sec", "flag", CONF_BOOL, 0, 0, &b},
	    {"sec", "num", CONF_INT, -5, 100, &i},
	    {NULL, NULL, CONF_STR, 0, 0, NULL},
	};
	conf_file *cf = NULL;

	(void)state;
	/* no NUL at the end of the bytes, none needed */
	assert_int_equal(
	    conf_load_mem("mem", text, sizeof(text) - 1, keys, line, &cf), 0);
	assert_string_equal(s, "from memory");
	assert_int_equal(i, 9);
	assert_int_equal(line[2], 3);
	conf_free(cf);
	cf = NULL;
	assert_int_equal(conf_load_mem("mem", NULL, 0, keys, NULL, &cf), 0);
	conf_free(cf);
}

static void
test_missing_file(void **state)
{
	const conf_key keys[] = {{NULL, NULL, CONF_STR, 0, 0, NULL}};
	conf_file *cf = NULL;

	(void)state;
	assert_int_equal(conf_load("/nonexistent/a17.conf", keys, NULL, &cf),
	                 1);
	conf_free(cf);
	conf_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_bool_spellings),
	    cmocka_unit_test(test_int_edges),
	    cmocka_unit_test(test_every_error_counted),
	    cmocka_unit_test(test_empty_string_is_unset),
	    cmocka_unit_test(test_read_as_inih_reads),
	    cmocka_unit_test(test_mem),
	    cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
