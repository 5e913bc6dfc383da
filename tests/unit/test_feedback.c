/*
 * test_feedback.c: structured feedback validation, one case per field:
 * each bad value is refused with an error that names the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "err.h"
#include "feedback.h"

static Art17__Indicator ind[2];
static Art17__Indicator *indp[2] = {&ind[0], &ind[1]};

static void
good(Art17__Feedback *f)
{
	art17__feedback__init(f);
	art17__indicator__init(&ind[0]);
	art17__indicator__init(&ind[1]);
	f->request_id = "R000001-00000000";
	f->version = 1;
	f->status = ART17__FEEDBACK_STATUS__FB_AFFECTED;
	ind[0].type = ART17__INDICATOR_TYPE__IND_IPV4;
	ind[0].value = "192.0.2.7";
	ind[1].type = ART17__INDICATOR_TYPE__IND_DOMAIN;
	ind[1].value = "evil.example";
	f->n_indicators = 2;
	f->indicators = indp;
	f->first_seen_ms = 1000;
	f->last_seen_ms = 2000;
	f->contact = "s1";
	f->secrecy_wish = ART17__SECRET__SECRET_NO;
	f->sharing_wish = ART17__SCOPE__SCOPE_MEMBERS;
}

/* Asserts f is refused and the error starts with field. */
static void
refused(const Art17__Feedback *f, const char *field)
{
	char err[512];

	assert_int_equal(fb_validate(f, err, sizeof(err)), A17_EINVAL);
	if (strncmp(err, field, strlen(field)) != 0)
		fail_msg("error '%s' does not name '%s'", err, field);
}

static void
test_good(void **state)
{
	Art17__Feedback f;
	char err[512];

	(void)state;
	good(&f);
	assert_int_equal(fb_validate(&f, err, sizeof(err)), 0);
}

static void
test_request_id(void **state)
{
	Art17__Feedback f;

	(void)state;
	good(&f);
	f.request_id = "";
	refused(&f, "request_id");
}

static void
test_status(void **state)
{
	Art17__Feedback f;

	(void)state;
	good(&f);
	f.status = ART17__FEEDBACK_STATUS__FB_UNSPECIFIED;
	refused(&f, "status");
}

static void
test_decline_reason(void **state)
{
	Art17__Feedback f;
	char err[512];

	(void)state;
	good(&f);
	f.status = ART17__FEEDBACK_STATUS__FB_DECLINED;
	refused(&f, "decline_reason");
	f.decline_reason = "under a contractual secrecy duty";
	assert_int_equal(fb_validate(&f, err, sizeof(err)), 0);
}

static void
test_indicators(void **state)
{
	static const struct {
		Art17__IndicatorType t;
		const char *ok, *bad;
	} cases[] = {
	    {ART17__INDICATOR_TYPE__IND_IPV4, "198.51.100.1", "256.1.1.1"},
	    {ART17__INDICATOR_TYPE__IND_IPV6, "2001:db8::1", "2001:db8:::1"},
	    {ART17__INDICATOR_TYPE__IND_DOMAIN, "c2.evil.example",
	     "-bad-.example"},
	    {ART17__INDICATOR_TYPE__IND_URL, "https://evil.example/x?a=1",
	     "ftp://evil.example/"},
	    {ART17__INDICATOR_TYPE__IND_SHA256,
	     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	     "e3b0c442"},
	    {ART17__INDICATOR_TYPE__IND_SHA1,
	     "da39a3ee5e6b4b0d3255bfef95601890afd80709", "da39"},
	    {ART17__INDICATOR_TYPE__IND_MD5, "d41d8cd98f00b204e9800998ecf8427e",
	     "zz1d8cd98f00b204e9800998ecf8427e"},
	    {ART17__INDICATOR_TYPE__IND_EMAIL, "phish@evil.example",
	     "phish@@evil.example"},
	    {ART17__INDICATOR_TYPE__IND_CVE, "CVE-2026-12345", "CVE-26-1"},
	};
	Art17__Feedback f;
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		good(&f);
		ind[1].type = cases[i].t;
		ind[1].value = (char *)cases[i].ok;
		if (fb_validate(&f, err, sizeof(err)) != 0)
			fail_msg("%s '%s' refused: %s",
			         fb_indicator_name(cases[i].t), cases[i].ok,
			         err);
		ind[1].value = (char *)cases[i].bad;
		refused(&f, "indicators[1].value");
		ind[1].value = "has space.example";
		refused(&f, "indicators[1].value");
	}
	good(&f);
	ind[0].type = ART17__INDICATOR_TYPE__IND_UNSPECIFIED;
	refused(&f, "indicators[0].type");
}

static void
test_seen_times(void **state)
{
	Art17__Feedback f;

	(void)state;
	good(&f);
	f.last_seen_ms = 500; /* before first_seen */
	refused(&f, "last_seen");
	good(&f);
	f.first_seen_ms = -1;
	refused(&f, "first_seen");
}

static void
test_contact(void **state)
{
	Art17__Feedback f;

	(void)state;
	good(&f);
	f.contact = "";
	refused(&f, "contact");
}

static void
test_wishes(void **state)
{
	Art17__Feedback f;

	(void)state;
	good(&f);
	f.secrecy_wish = ART17__SECRET__SECRET_UNSPECIFIED;
	refused(&f, "secrecy_wish");
	good(&f);
	f.sharing_wish = ART17__SCOPE__SCOPE_UNSPECIFIED;
	refused(&f, "sharing_wish");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_request_id),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_decline_reason),
	    cmocka_unit_test(test_indicators),
	    cmocka_unit_test(test_seen_times),
	    cmocka_unit_test(test_contact),
	    cmocka_unit_test(test_wishes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
