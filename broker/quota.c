/*
 * quota.c: descriptor budget, outstanding requests per connection, and
 * log rate limits; pure functions (quota.h).
 */
#include "quota.h"

#define RESERVE_MIN 16
#define RESERVE_MAX 1024

uint64_t
quota_fd_reserve(uint64_t nofile)
{
	uint64_t r = nofile / 16;

	if (r < RESERVE_MIN)
		r = RESERVE_MIN;
	if (r > RESERVE_MAX)
		r = RESERVE_MAX;
	return r;
}

uint32_t
quota_conn_max(uint64_t nofile, uint64_t in_use)
{
	uint64_t taken;

	if (in_use >= nofile)
		return 0;
	taken = in_use + quota_fd_reserve(nofile);
	if (nofile <= taken)
		return 0;
	if (nofile - taken > UINT32_MAX)
		return UINT32_MAX;
	return (uint32_t)(nofile - taken);
}

int
quota_inflight_ok(uint32_t inflight)
{
	return inflight < QUOTA_INFLIGHT_MAX;
}

int
quota_rate_allow(quota_rate *r, int64_t now_ms, uint64_t *skipped)
{
	if (r->last_ms != 0 && now_ms - r->last_ms < r->interval_ms &&
	    now_ms >= r->last_ms) {
		r->skipped++;
		return 0;
	}
	*skipped = r->skipped;
	r->skipped = 0;
	r->last_ms = now_ms != 0 ? now_ms : 1;
	return 1;
}
