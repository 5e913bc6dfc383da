/*
 * test_marking.c: the onward-sharing rule (RULES Q21) for every sharing
 * scope x constituent category pair, with secret and TLP overrides. The
 * expected table is written out here, independently of marking.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "marking.h"

#define NSCOPE 5

static const Art17__Scope scopes[NSCOPE] = {
    ART17__SCOPE__SCOPE_TF1_ONLY, ART17__SCOPE__SCOPE_TASKFORCE,
    ART17__SCOPE__SCOPE_MEMBERS,  ART17__SCOPE__SCOPE_MEMBERS_CONSTITUENTS,
    ART17__SCOPE__SCOPE_PUBLIC,
};

/* allowed[scope][category] for a non-secret TLP:GREEN item */
static const int allowed[NSCOPE][MK_NCATEGORY] = {
    /* nat loc ci edu assoc vendor other */
    {0, 0, 0, 0, 0, 0, 0}, /* tf1 only */
    {0, 0, 0, 0, 0, 0, 0}, /* task-force members */
    {0, 0, 0, 0, 0, 0, 0}, /* council members */
    {1, 1, 1, 1, 1, 0, 0}, /* members + constituents */
    {1, 1, 1, 1, 1, 1, 1}, /* public */
};

static void
test_every_scope_and_category(void **state)
{
	(void)state;
	for (int s = 0; s < NSCOPE; s++)
		for (int c = 0; c < MK_NCATEGORY; c++) {
			Art17__Marking m = ART17__MARKING__INIT;
			mk_verdict v;

			m.tlp = ART17__TLP__TLP_GREEN;
			m.secret = ART17__SECRET__SECRET_NO;
			m.scope = scopes[s];
			v = mk_reshare(&m, (mk_category)c);
			if (v.allowed != allowed[s][c])
				fail_msg(
				    "scope %s, category %s: got %d want %d",
				    mk_scope_name(scopes[s]),
				    mk_category_name((mk_category)c), v.allowed,
				    allowed[s][c]);
			assert_non_null(v.rule);
			if (scopes[s] != ART17__SCOPE__SCOPE_PUBLIC)
				assert_non_null(strstr(v.rule, "Q21"));
		}
}

static void
test_overrides(void **state)
{
	static const Art17__Tlp closed[] = {ART17__TLP__TLP_RED,
	                                    ART17__TLP__TLP_AMBER_STRICT};
	(void)state;
	for (int s = 0; s < NSCOPE; s++)
		for (int c = 0; c < MK_NCATEGORY; c++) {
			Art17__Marking m = ART17__MARKING__INIT;

			/* secret: never passed on, whatever the scope */
			m.tlp = ART17__TLP__TLP_CLEAR;
			m.secret = ART17__SECRET__SECRET_YES;
			m.scope = scopes[s];
			assert_false(mk_reshare(&m, (mk_category)c).allowed);
			/* TLP:RED and AMBER+STRICT: never */
			m.secret = ART17__SECRET__SECRET_NO;
			for (size_t t = 0; t < 2; t++) {
				m.tlp = closed[t];
				assert_false(
				    mk_reshare(&m, (mk_category)c).allowed);
			}
			/* unspecified secrecy: refused, explicit is required */
			m.tlp = ART17__TLP__TLP_CLEAR;
			m.secret = ART17__SECRET__SECRET_UNSPECIFIED;
			assert_false(mk_reshare(&m, (mk_category)c).allowed);
		}
}

static void
test_names(void **state)
{
	mk_category c;

	(void)state;
	for (int i = 0; i < MK_NCATEGORY; i++) {
		assert_int_equal(
		    mk_category_parse(mk_category_name((mk_category)i), &c), 0);
		assert_int_equal(c, i);
	}
	assert_int_equal(mk_category_parse("individual", &c), -1);
	assert_null(mk_category_name(MK_NCATEGORY));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_scope_and_category),
	    cmocka_unit_test(test_overrides),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
