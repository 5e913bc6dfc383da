/*
 * metrics.c: the Prometheus text exposition served at /metrics.
 *
 * Gate decisions are counted where they are made (reg_gate); everything
 * else is read when scraped: the session count under the broker's mutex,
 * the writer's commit statistics, and copies by state from a read-only
 * LMDB transaction, which never waits for the writer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "err.h"
#include "gate.h"

#define N_REASONS (GATE_DENY_BAD_KIND + 1)

static unsigned long long gate_count[N_REASONS];

void
metrics_gate(int reason)
{
	if (reason >= 0 && reason < N_REASONS)
		__atomic_fetch_add(&gate_count[reason], 1, __ATOMIC_RELAXED);
}

typedef struct sbuf {
	char *p;
	size_t len, cap;
	int err;
} sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sb_printf(sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->p + s->len, s->cap - s->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			s->err = A17_EINVAL;
			return;
		}
		if ((size_t)n < s->cap - s->len) {
			s->len += (size_t)n;
			return;
		}
		char *np = realloc(s->p, s->cap * 2 + (size_t)n);
		if (np == NULL) {
			s->err = A17_ENOMEM;
			return;
		}
		s->p = np;
		s->cap = s->cap * 2 + (size_t)n;
	}
}

static const char *state_names[] = {
    "unspecified", "queued",   "delivered", "acked",
    "accepted",    "answered", "withdrawn", "overdue",
};

/* Counts stored copies by state. */
static int
count_copies(broker *b, unsigned long long n[8])
{
	store_txn t;
	store_iter it;
	MDB_val k, v;
	int rv;

	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, DB_DELIVERIES, NULL, 0, &it)) == 0) {
		while ((rv = store_iter_next(&it, &k, &v)) == 1) {
			Art17__DeliveryRecord *d;

			d = art17__delivery_record__unpack(NULL, v.mv_size,
			                                   v.mv_data);
			if (d == NULL)
				continue;
			if (d->state >= 0 && d->state < 8)
				n[d->state]++;
			art17__delivery_record__free_unpacked(d, NULL);
		}
		store_iter_end(&it);
		if (rv > 0)
			rv = 0;
	}
	store_txn_abort(&t);
	return rv;
}

int
metrics_render(broker *b, char **out, size_t *outlen)
{
	unsigned long long copies[8];
	store_writer_stats ws;
	uint64_t connected, cum;
	uint32_t members;
	sbuf s = {NULL, 0, 4096, 0};

	if ((s.p = malloc(s.cap)) == NULL)
		return A17_ENOMEM;
	memset(copies, 0, sizeof(copies));
	pthread_mutex_lock(&b->mtx);
	connected = b->n_connected;
	members = b->n_members;
	pthread_mutex_unlock(&b->mtx);
	memset(&ws, 0, sizeof(ws));
	store_writer_get_stats(b->wr, &ws);

	sb_printf(&s,
	          "# HELP art17_agents_connected Agents with a bound, "
	          "authenticated session.\n"
	          "# TYPE art17_agents_connected gauge\n"
	          "art17_agents_connected %llu\n",
	          (unsigned long long)connected);
	sb_printf(&s,
	          "# HELP art17_members Registered members.\n"
	          "# TYPE art17_members gauge\n"
	          "art17_members %u\n",
	          members);
	if (count_copies(b, copies) == 0) {
		sb_printf(&s, "# HELP art17_copies Stored copies of requests "
		              "by delivery state.\n"
		              "# TYPE art17_copies gauge\n");
		for (int i = 1; i < 8; i++)
			sb_printf(&s, "art17_copies{state=\"%s\"} %llu\n",
			          state_names[i], copies[i]);
	}
	/* histograms: cumulative buckets, then +Inf, _sum and _count */
	sb_printf(&s, "# HELP art17_commit_batch_size Records per group "
	              "commit.\n"
	              "# TYPE art17_commit_batch_size histogram\n");
	cum = 0;
	for (int i = 0; i < STORE_BATCH_BUCKETS; i++) {
		cum += ws.batch_hist[i];
		sb_printf(&s,
		          "art17_commit_batch_size_bucket{le=\"%u\"} %llu\n",
		          1u << i, (unsigned long long)cum);
	}
	sb_printf(&s,
	          "art17_commit_batch_size_bucket{le=\"+Inf\"} %llu\n"
	          "art17_commit_batch_size_sum %llu\n"
	          "art17_commit_batch_size_count %llu\n",
	          (unsigned long long)ws.commits, (unsigned long long)ws.ops,
	          (unsigned long long)ws.commits);
	sb_printf(&s,
	          "# HELP art17_commit_batch_size_max Largest group "
	          "commit.\n"
	          "# TYPE art17_commit_batch_size_max gauge\n"
	          "art17_commit_batch_size_max %llu\n",
	          (unsigned long long)ws.max_batch);
	sb_printf(&s, "# HELP art17_commit_seconds Time a group commit "
	              "takes.\n"
	              "# TYPE art17_commit_seconds histogram\n");
	cum = 0;
	for (int i = 0; i < STORE_LAT_BUCKETS; i++) {
		cum += ws.lat_hist[i];
		sb_printf(&s, "art17_commit_seconds_bucket{le=\"%g\"} %llu\n",
		          (double)store_lat_bounds_us[i] / 1e6,
		          (unsigned long long)cum);
	}
	sb_printf(&s,
	          "art17_commit_seconds_bucket{le=\"+Inf\"} %llu\n"
	          "art17_commit_seconds_sum %.6f\n"
	          "art17_commit_seconds_count %llu\n"
	          "# HELP art17_store_map_grows_total LMDB map growths.\n"
	          "# TYPE art17_store_map_grows_total counter\n"
	          "art17_store_map_grows_total %llu\n",
	          (unsigned long long)ws.commits,
	          (double)ws.commit_us_total / 1e6,
	          (unsigned long long)ws.commits, (unsigned long long)ws.grows);
	sb_printf(&s, "# HELP art17_gate_decisions_total Article 17(3) gate "
	              "decisions by outcome and reason.\n"
	              "# TYPE art17_gate_decisions_total counter\n");
	for (int r = 0; r < N_REASONS; r++) {
		const char *code = gate_reason_code((gate_reason)r);

		sb_printf(&s,
		          "art17_gate_decisions_total{decision=\"%s\","
		          "reason=\"%s\"} %llu\n",
		          strncmp(code, "allow", 5) == 0 ? "allow" : "deny",
		          code,
		          __atomic_load_n(&gate_count[r], __ATOMIC_RELAXED));
	}
	if (s.err) {
		free(s.p);
		return s.err;
	}
	*out = s.p;
	*outlen = s.len;
	return 0;
}
