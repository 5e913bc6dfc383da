/*
 * staff.c: registered staff (RULES Q10-Q14).
 *
 * Each person is one entry with their own X25519 key; a mailing list
 * cannot be registered because keys and e-mail addresses are unique
 * across all entries. Changes arrive as change sets whose entries are
 * marked continue / abolish / new, effective some business days later
 * (or at once when a coordinator says so). Every change is a snapshot
 * keyed by its effective time, so "who could receive at T" is answerable
 * and an abolished person stops receiving from the effective time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "err.h"
#include "log.h"
#include "wire.h"

#define DAY_MS (24LL * 3600 * 1000)

/* now + n business days (Saturdays and Sundays skipped; no holidays). */
static int64_t
business_days_later(int64_t now, int n)
{
	int64_t t = now;

	while (n > 0) {
		time_t s;
		struct tm tm;

		t += DAY_MS;
		s = (time_t)(t / 1000);
		gmtime_r(&s, &tm);
		if (tm.tm_wday != 0 && tm.tm_wday != 6)
			n--;
	}
	return t;
}

typedef struct latest {
	Art17__StaffRecord *r; /* the snapshot in force (or last pending) */
} latest;

/*
 * Calls fn for each staff snapshot of member_no (all members when
 * member_no is UINT32_MAX), in key order: by member, staff id, time.
 */
static int
each_snapshot(store_txn *t, uint32_t member_no,
              int (*fn)(Art17__StaffRecord *, void *), void *arg)
{
	store_iter it;
	store_key p;
	MDB_val k, v;
	int rv;

	store_key_init(&p);
	if (member_no != UINT32_MAX)
		store_key_u32(&p, member_no);
	if ((rv = store_iter_begin(t, DB_STAFF, p.buf, p.len, &it)) != 0)
		return rv;
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__StaffRecord *r;

		r = art17__staff_record__unpack(NULL, v.mv_size, v.mv_data);
		if (r == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		if ((rv = fn(r, arg)) != 0) /* fn takes r */
			break;
	}
	store_iter_end(&it);
	return rv < 0 ? rv : 0;
}

/* ------------------------------------------------------------ eligible */

typedef struct elig {
	int64_t now;
	Art17__StaffRecord *cur; /* latest snapshot <= now of current id */
	staff_key *out;
	size_t n;
	int rv;
} elig;

static void
elig_flush(elig *e)
{
	Art17__StaffRecord *r = e->cur;

	if (r == NULL)
		return;
	if (r->account && !r->abolished && r->x25519_pub.len == 32) {
		staff_key *n = realloc(e->out, (e->n + 1) * sizeof(*n));

		if (n == NULL) {
			e->rv = A17_ENOMEM;
		} else {
			e->out = n;
			snprintf(n[e->n].staff_id, sizeof(n[e->n].staff_id),
			         "%s", r->staff_id);
			memcpy(n[e->n].pub, r->x25519_pub.data, 32);
			e->n++;
		}
	}
	art17__staff_record__free_unpacked(r, NULL);
	e->cur = NULL;
}

static int
elig_fn(Art17__StaffRecord *r, void *arg)
{
	elig *e = arg;

	if (e->cur != NULL && strcmp(e->cur->staff_id, r->staff_id) != 0)
		elig_flush(e);
	if (r->effective_ms > e->now) { /* not yet in force */
		art17__staff_record__free_unpacked(r, NULL);
		return 0;
	}
	if (e->cur != NULL)
		art17__staff_record__free_unpacked(e->cur, NULL);
	e->cur = r;
	return 0;
}

int
staff_eligible(store_txn *t, uint32_t member_no, int64_t now, staff_key **out,
               size_t *n)
{
	elig e;
	int rv;

	memset(&e, 0, sizeof(e));
	e.now = now;
	rv = each_snapshot(t, member_no, elig_fn, &e);
	elig_flush(&e);
	if (rv == 0)
		rv = e.rv;
	if (rv != 0) {
		free(e.out);
		return rv;
	}
	*out = e.out;
	*n = e.n;
	return 0;
}

/* ------------------------------------------------------------ changes */

typedef struct last_all {
	/* the newest snapshot of every staff id, across all members */
	Art17__StaffRecord **v;
	size_t n;
	int rv;
} last_all;

static int
last_fn(Art17__StaffRecord *r, void *arg)
{
	last_all *l = arg;

	if (l->n > 0 && strcmp(l->v[l->n - 1]->staff_id, r->staff_id) == 0 &&
	    strcmp(l->v[l->n - 1]->member_id, r->member_id) == 0) {
		art17__staff_record__free_unpacked(l->v[l->n - 1], NULL);
		l->v[l->n - 1] = r;
		return 0;
	}
	{
		Art17__StaffRecord **nv =
		    realloc(l->v, (l->n + 1) * sizeof(*nv));

		if (nv == NULL) {
			art17__staff_record__free_unpacked(r, NULL);
			return A17_ENOMEM;
		}
		l->v = nv;
		l->v[l->n++] = r;
	}
	return 0;
}

static void
last_free(last_all *l)
{
	for (size_t i = 0; i < l->n; i++)
		art17__staff_record__free_unpacked(l->v[i], NULL);
	free(l->v);
}

typedef struct change_op {
	const char *coord;
	Art17__StaffChangeSet *cs;
	uint32_t member_no;
	int64_t now, effective;
	char err[512];
	int refuse;
	size_t n_new, n_cont, n_abol;
} change_op;

/* The newest snapshot of (mid, id); entries added later win. */
static Art17__StaffRecord *
find_last(last_all *l, const char *mid, const char *id)
{
	for (size_t i = l->n; i > 0; i--)
		if (strcmp(l->v[i - 1]->staff_id, id) == 0 &&
		    strcmp(l->v[i - 1]->member_id, mid) == 0)
			return l->v[i - 1];
	return NULL;
}

static int
put_snapshot(store_txn *t, uint32_t member_no, const Art17__StaffRecord *r)
{
	store_key k;
	uint8_t *buf;
	size_t len;
	int rv;

	len = art17__staff_record__get_packed_size(r);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return t->rv = A17_ENOMEM;
	art17__staff_record__pack(r, buf);
	store_key_init(&k);
	store_key_u32(&k, member_no);
	store_key_str(&k, r->staff_id);
	store_key_u64(&k, (uint64_t)r->effective_ms);
	rv = store_put(t, DB_STAFF, &k, buf, len);
	free(buf);
	return rv;
}

static int
valid_staff_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return 0;
	return 1;
}

/* Is key or e-mail held by an entry other than (member, id)? */
static const Art17__StaffRecord *
clash(last_all *l, const char *mid, const char *id, const char *email,
      const ProtobufCBinaryData *key)
{
	for (size_t i = 0; i < l->n; i++) {
		const Art17__StaffRecord *o = l->v[i];

		if (o->abolished)
			continue;
		if (strcmp(o->staff_id, id) == 0 &&
		    strcmp(o->member_id, mid) == 0)
			continue;
		if ((email && email[0] && strcasecmp(o->email, email) == 0) ||
		    (key && key->len == 32 && o->x25519_pub.len == 32 &&
		     memcmp(o->x25519_pub.data, key->data, 32) == 0))
			return o;
	}
	return NULL;
}

static int
apply_change(store_txn *t, void *arg)
{
	change_op *op = arg;
	Art17__StaffChangeSet *cs = op->cs;
	last_all l;
	int rv;

	memset(&l, 0, sizeof(l));
	op->refuse = 0;
	op->err[0] = '\0';
	op->n_new = op->n_cont = op->n_abol = 0;
	if ((rv = each_snapshot(t, UINT32_MAX, last_fn, &l)) != 0) {
		last_free(&l);
		return rv;
	}
	for (size_t i = 0; i < cs->n_entries && !op->refuse; i++) {
		Art17__StaffEntry *e = cs->entries[i];
		Art17__StaffRecord *prev =
		    find_last(&l, cs->member_id, e->staff_id);
		const Art17__StaffRecord *o;
		Art17__StaffRecord r = ART17__STAFF_RECORD__INIT;

		if (!valid_staff_id(e->staff_id)) {
			snprintf(op->err, sizeof(op->err),
			         "entry %zu: a staff id is 1-64 characters of "
			         "A-Z a-z 0-9 . _ -",
			         i + 1);
			op->refuse = A17_EINVAL;
			break;
		}
		switch (e->action) {
		case ART17__STAFF_ACTION__STAFF_NEW:
			if (prev != NULL && !prev->abolished) {
				snprintf(op->err, sizeof(op->err),
				         "entry %zu: staff %s already exists; "
				         "mark it "
				         "continue to correct it",
				         i + 1, e->staff_id);
				op->refuse = A17_EEXIST;
				break;
			}
			if (e->name[0] == '\0' ||
			    strchr(e->email, '@') == NULL ||
			    e->x25519_pub.len != 32) {
				snprintf(op->err, sizeof(op->err),
				         "entry %zu (%s): a new entry needs a "
				         "name, an "
				         "e-mail address and the person's own "
				         "X25519 "
				         "public key",
				         i + 1, e->staff_id);
				op->refuse = A17_EINVAL;
				break;
			}
			r.name = e->name;
			r.email = e->email;
			r.x25519_pub = e->x25519_pub;
			r.account = e->account;
			op->n_new++;
			break;
		case ART17__STAFF_ACTION__STAFF_CONTINUE:
		case ART17__STAFF_ACTION__STAFF_ABOLISH:
			if (prev == NULL || prev->abolished) {
				snprintf(op->err, sizeof(op->err),
				         "entry %zu: no registered staff %s at "
				         "member "
				         "%s",
				         i + 1, e->staff_id, cs->member_id);
				op->refuse = A17_ENOTFOUND;
				break;
			}
			/* continue: corrections replace, blanks keep */
			r.name = e->name[0] ? e->name : prev->name;
			r.email = e->email[0] ? e->email : prev->email;
			r.x25519_pub = e->x25519_pub.len == 32
			                   ? e->x25519_pub
			                   : prev->x25519_pub;
			r.account =
			    e->action == ART17__STAFF_ACTION__STAFF_CONTINUE
			        ? e->account
			        : prev->account;
			r.abolished =
			    e->action == ART17__STAFF_ACTION__STAFF_ABOLISH;
			if (r.abolished)
				op->n_abol++;
			else
				op->n_cont++;
			break;
		default:
			snprintf(
			    op->err, sizeof(op->err),
			    "entry %zu (%s): mark it continue, abolish or new",
			    i + 1, e->staff_id);
			op->refuse = A17_EINVAL;
			break;
		}
		if (op->refuse)
			break;
		if (!r.abolished &&
		    (o = clash(&l, cs->member_id, e->staff_id, r.email,
		               &r.x25519_pub)) != NULL) {
			snprintf(
			    op->err, sizeof(op->err),
			    "entry %zu (%s): that %s is already held by staff "
			    "%s of member %s: one person, one key, one address "
			    "(no mailing lists)",
			    i + 1, e->staff_id,
			    strcasecmp(o->email, r.email) == 0
			        ? "e-mail address"
			        : "key",
			    o->staff_id, o->member_id);
			op->refuse = A17_EEXIST;
			break;
		}
		r.staff_id = e->staff_id;
		r.member_id = cs->member_id;
		r.effective_ms = op->effective;
		r.changed_by = (char *)op->coord;
		r.entered_ms = op->now;
		put_snapshot(t, op->member_no, &r);
		audit_append(
		    t, op->coord,
		    e->action == ART17__STAFF_ACTION__STAFF_NEW ? "staff.new"
		    : r.abolished ? "staff.abolish"
		                  : "staff.continue",
		    cs->member_id, 0,
		    "staff %s (%s, %s) of member %s, system account %s, "
		    "effective %lld",
		    e->staff_id, r.name, r.email, cs->member_id,
		    r.account ? "yes" : "no", (long long)op->effective);
		/* later entries in the same set see this one */
		{
			uint8_t *buf;
			size_t len = art17__staff_record__get_packed_size(&r);

			if ((buf = malloc(len ? len : 1)) != NULL) {
				art17__staff_record__pack(&r, buf);
				last_fn(
				    art17__staff_record__unpack(NULL, len, buf),
				    &l);
				free(buf);
			}
		}
	}
	last_free(&l);
	if (op->refuse)
		return op->refuse; /* nothing of this set is kept */
	return t->rv;
}

int
staff_apply(broker *b, const char *coord, Art17__StaffChangeSet *cs, char *info,
            size_t ilen)
{
	change_op op;
	member *m;
	char when[32];
	time_t s;
	struct tm tm;
	int rv;

	memset(&op, 0, sizeof(op));
	pthread_mutex_lock(&b->mtx);
	m = cs->member_id ? db_member_by_id(b, cs->member_id) : NULL;
	if (m != NULL)
		op.member_no = m->no;
	pthread_mutex_unlock(&b->mtx);
	if (m == NULL) {
		snprintf(info, ilen, "no member '%s'",
		         cs->member_id ? cs->member_id : "");
		return A17_ENOTFOUND;
	}
	if (cs->n_entries == 0) {
		snprintf(info, ilen, "a change set needs at least one entry");
		return A17_EINVAL;
	}
	op.coord = coord;
	op.cs = cs;
	op.now = wire_now_ms();
	op.effective =
	    cs->immediate ? op.now
	    : cs->effective_ms
	        ? cs->effective_ms
	        : business_days_later(op.now, b->cfg.staff_delay_days);
	rv = store_writer_run(b->wr, apply_change, &op);
	if (rv != 0) {
		snprintf(info, ilen, "%s",
		         op.err[0] ? op.err : a17_strerror(rv));
		return rv;
	}
	s = (time_t)(op.effective / 1000);
	gmtime_r(&s, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(
	    info, ilen,
	    "staff of %s: %zu new, %zu continued, %zu abolished, effective "
	    "%s%s",
	    cs->member_id, op.n_new, op.n_cont, op.n_abol, when,
	    cs->immediate ? " (immediate)" : "");
	log_info("%s (by %s)", info, coord);
	return 0;
}

typedef struct list_op {
	Art17__AdminReply *r;
	int rv;
} list_op;

static int
list_fn(Art17__StaffRecord *rec, void *arg)
{
	list_op *l = arg;
	Art17__StaffRecord **n;

	n = realloc(l->r->staff, (l->r->n_staff + 1) * sizeof(*n));
	if (n == NULL) {
		art17__staff_record__free_unpacked(rec, NULL);
		return A17_ENOMEM;
	}
	l->r->staff = n;
	l->r->staff[l->r->n_staff++] = rec;
	return 0;
}

int
staff_list(broker *b, const char *member_id, Art17__AdminReply *r, char *err,
           size_t errlen)
{
	store_txn t;
	list_op l;
	member *m;
	uint32_t no;
	int rv;

	pthread_mutex_lock(&b->mtx);
	m = member_id ? db_member_by_id(b, member_id) : NULL;
	no = m ? m->no : 0;
	pthread_mutex_unlock(&b->mtx);
	if (m == NULL) {
		snprintf(err, errlen, "no member '%s'",
		         member_id ? member_id : "");
		return A17_ENOTFOUND;
	}
	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	l.r = r;
	l.rv = 0;
	rv = each_snapshot(&t, no, list_fn, &l);
	store_txn_abort(&t);
	return rv;
}

typedef struct reg_q {
	const char *id;
	int64_t now;
	Art17__StaffRecord *cur;
} reg_q;

static int
reg_fn(Art17__StaffRecord *r, void *arg)
{
	reg_q *q = arg;

	if (strcmp(r->staff_id, q->id) != 0 || r->effective_ms > q->now) {
		art17__staff_record__free_unpacked(r, NULL);
		return 0;
	}
	if (q->cur != NULL)
		art17__staff_record__free_unpacked(q->cur, NULL);
	q->cur = r;
	return 0;
}

int
staff_registered(store_txn *t, uint32_t member_no, const char *staff_id,
                 int64_t now)
{
	reg_q q = {staff_id, now, NULL};
	int yes;

	if (staff_id == NULL || each_snapshot(t, member_no, reg_fn, &q) != 0) {
		if (q.cur)
			art17__staff_record__free_unpacked(q.cur, NULL);
		return 0;
	}
	yes = q.cur != NULL && !q.cur->abolished;
	if (q.cur)
		art17__staff_record__free_unpacked(q.cur, NULL);
	return yes;
}
