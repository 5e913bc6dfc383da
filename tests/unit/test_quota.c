/*
 * test_quota.c: the broker's resource limits (broker/quota.c): the
 * descriptor budget for agent connections, requests outstanding per
 * connection, and the rate limit on log lines peers can provoke. The
 * expected values are written out here from the rules in quota.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "quota.h"

static void
test_fd_reserve(void **state)
{
	static const struct {
		uint64_t nofile, reserve;
	} t[] = {
	    {0, 16},       {1, 16},       {64, 16},        {256, 16},
	    {257, 16},     {512, 32},     {1024, 64},      {4096, 256},
	    {16384, 1024}, {65536, 1024}, {1048576, 1024}, {UINT64_MAX, 1024},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (quota_fd_reserve(t[i].nofile) != t[i].reserve)
			fail_msg(
			    "nofile %llu: reserve %llu, want %llu",
			    (unsigned long long)t[i].nofile,
			    (unsigned long long)quota_fd_reserve(t[i].nofile),
			    (unsigned long long)t[i].reserve);
}

static void
test_conn_max(void **state)
{
	static const struct {
		uint64_t nofile, in_use;
		uint32_t max;
	} t[] = {
	    {64, 12, 36},                /* the fd_limit test */
	    {64, 48, 0},                 /* exactly used up */
	    {64, 47, 1},                 /* one left */
	    {64, 60, 0},                 /* over: nothing, not a wrap */
	    {64, 200, 0},                /* more in use than the limit */
	    {64, UINT64_MAX, 0},         /* no wrap around */
	    {0, 0, 0},                   /* no limit at all */
	    {16, 0, 0},                  /* all reserve */
	    {1024, 20, 940},             /* a shell's default */
	    {65536, 30, 64482},          /* the systemd unit's LimitNOFILE */
	    {UINT64_MAX, 0, UINT32_MAX}, /* clamped */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (quota_conn_max(t[i].nofile, t[i].in_use) != t[i].max)
			fail_msg("nofile %llu, in use %llu: %u, want %u",
			         (unsigned long long)t[i].nofile,
			         (unsigned long long)t[i].in_use,
			         quota_conn_max(t[i].nofile, t[i].in_use),
			         t[i].max);
}

static void
test_inflight(void **state)
{
	(void)state;
	assert_int_equal(QUOTA_INFLIGHT_MAX, 8);
	for (uint32_t n = 0; n < QUOTA_INFLIGHT_MAX; n++)
		assert_true(quota_inflight_ok(n));
	assert_false(quota_inflight_ok(QUOTA_INFLIGHT_MAX));
	assert_false(quota_inflight_ok(QUOTA_INFLIGHT_MAX + 1));
	assert_false(quota_inflight_ok(UINT32_MAX));
}

static void
test_ratelim(void **state)
{
	/* events at these times, 10 s interval: logged?, skipped reported */
	static const struct {
		int64_t t;
		int logged;
		uint64_t skipped;
	} t[] = {
	    {1000, 1, 0}, /* the first is always logged */
	    {1001, 0, 0},  {5000, 0, 0}, {10999, 0, 0}, /* held back */
	    {11000, 1, 3}, /* the interval is over: says 3 were held */
	    {11000, 0, 0}, /* same instant */
	    {30000, 1, 1}, /* long after: one held since */
	    {40000, 1, 0}, /* exactly one interval: logged, none held */
	    {39000, 1, 0}, /* the clock went back: logged, not held forever */
	    {39001, 0, 0},
	};
	quota_rate r = {10000, 0, 0};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t skipped = 99;
		int got = quota_rate_allow(&r, t[i].t, &skipped);

		if (got != t[i].logged)
			fail_msg("event %zu at %lld: logged %d, want %d", i,
			         (long long)t[i].t, got, t[i].logged);
		if (got && skipped != t[i].skipped)
			fail_msg("event %zu at %lld: skipped %llu, want %llu",
			         i, (long long)t[i].t,
			         (unsigned long long)skipped,
			         (unsigned long long)t[i].skipped);
	}
}

static void
test_ratelim_time_zero(void **state)
{
	quota_rate r = {1000, 0, 0};
	uint64_t skipped;

	(void)state;
	/* an event at time 0 still starts an interval */
	assert_true(quota_rate_allow(&r, 0, &skipped));
	assert_false(quota_rate_allow(&r, 500, &skipped));
	assert_true(quota_rate_allow(&r, 1001, &skipped));
	assert_int_equal(skipped, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fd_reserve),
	    cmocka_unit_test(test_conn_max),
	    cmocka_unit_test(test_inflight),
	    cmocka_unit_test(test_ratelim),
	    cmocka_unit_test(test_ratelim_time_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
