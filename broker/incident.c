/*
 * incident.c: incidents and the large-scale flag (with the optional
 * two-person rule), the consent register, and the audit log's admin
 * views. Every change is one writer op that also appends to the audit
 * log and withdraws queued copies whose ground went away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "err.h"
#include "gate.h"
#include "log.h"
#include "wire.h"

static int
valid_ref(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= 200;
}

/* ------------------------------------------------------------ consent */

int
inc_apply_consent(store_txn *t, void *arg)
{
	consent_op *op = arg;
	Art17__ConsentRecord c = ART17__CONSENT_RECORD__INIT;
	store_key p, k;
	MDB_val lk;
	uint8_t *buf;
	size_t len;
	uint64_t next = 1;
	int rv;

	op->withdrawn = 0;
	store_key_init(&p);
	store_key_u32(&p, op->no);
	rv = store_last_key(t, DB_CONSENT, p.buf, p.len, &lk);
	if (rv == 0 && lk.mv_size == 12)
		next = store_get_u64((const uint8_t *)lk.mv_data + 4) + 1;
	else if (rv != 0 && rv != A17_ENOTFOUND)
		return rv;
	c.member_id = (char *)op->member_id;
	c.grant = op->grant;
	c.reference = (char *)op->ref;
	c.by = (char *)op->by;
	c.via = op->via;
	c.time_ms = op->now;
	c.no = next;
	len = art17__consent_record__get_packed_size(&c);
	if ((buf = malloc(len)) == NULL)
		return A17_ENOMEM;
	art17__consent_record__pack(&c, buf);
	store_key_init(&k);
	store_key_u32(&k, op->no);
	store_key_u64(&k, next);
	store_put(t, DB_CONSENT, &k, buf, len);
	free(buf);
	audit_append(t, op->by, op->grant ? "consent.grant" : "consent.revoke",
	             op->member_id, 0,
	             "consent %s, reference \"%s\", entered by %s via %s",
	             op->grant ? "granted" : "revoked", op->ref, op->by,
	             op->via == ART17__CONSENT_VIA__VIA_AGENT
	                 ? "the member's agent (signed with the member's key)"
	                 : "a coordinator");
	if (!op->grant && (rv = reg_regate(t, &a17b, NULL, op->no, op->now,
	                                   &op->withdrawn)) != 0)
		return rv;
	return t->rv;
}

int
inc_consent_change(broker *b, const char *member_id, int grant, const char *ref,
                   const char *by, Art17__ConsentVia via, char *info,
                   size_t ilen)
{
	consent_op op;
	member *m;
	int rv;

	memset(&op, 0, sizeof(op));
	if (!valid_ref(ref)) {
		snprintf(info, ilen,
		         "a consent reference is required (the "
		         "written consent's id and date)");
		return A17_EINVAL;
	}
	pthread_mutex_lock(&b->mtx);
	m = member_id ? db_member_by_id(b, member_id) : NULL;
	if (m != NULL)
		op.no = m->no;
	pthread_mutex_unlock(&b->mtx);
	if (m == NULL) {
		snprintf(info, ilen, "no member '%s'",
		         member_id ? member_id : "");
		return A17_ENOTFOUND;
	}
	op.member_id = member_id;
	op.grant = grant;
	op.ref = ref;
	op.by = by;
	op.via = via;
	op.now = wire_now_ms();
	if ((rv = store_writer_run(b->wr, inc_apply_consent, &op)) != 0) {
		snprintf(info, ilen, "consent for %s: %s", member_id,
		         a17_strerror(rv));
		return rv;
	}
	snprintf(info, ilen, "consent %s for %s (reference \"%s\")%s%zu%s",
	         grant ? "granted" : "revoked", member_id, ref,
	         grant ? "" : "; ", op.withdrawn,
	         grant ? "" : " queued copies withdrawn");
	if (grant) /* drop the count from the message */
		snprintf(info, ilen,
		         "consent granted for %s (reference \"%s\")", member_id,
		         ref);
	log_info("%s", info);
	return 0;
}

static int
consent_show(broker *b, Art17__ConsentQuery *q, Art17__AdminReply *r, char *err,
             size_t errlen)
{
	Art17__ConsentRecord **hist = NULL;
	const Art17__ConsentRecord *inforce = NULL;
	store_txn t;
	member *m;
	size_t n = 0;
	int64_t at = q->at_ms ? q->at_ms : wire_now_ms();
	int rv;

	pthread_mutex_lock(&b->mtx);
	m = q->member_id ? db_member_by_id(b, q->member_id) : NULL;
	pthread_mutex_unlock(&b->mtx);
	if (m == NULL) {
		snprintf(err, errlen, "no member '%s'",
		         q->member_id ? q->member_id : "");
		return A17_ENOTFOUND;
	}
	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	rv = reg_consent_history(&t, m->no, &hist, &n);
	store_txn_abort(&t);
	if (rv != 0)
		return rv;
	gate_consent_at(hist, n, at, &inforce);
	r->consents = hist;
	r->n_consents = n;
	if (inforce != NULL) {
		/* a copy, so reply_fini can free both independently */
		uint8_t buf[1024];
		size_t len = art17__consent_record__get_packed_size(inforce);

		if (len <= sizeof(buf)) {
			art17__consent_record__pack(inforce, buf);
			r->consent_in_force =
			    art17__consent_record__unpack(NULL, len, buf);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ incidents */

typedef enum {
	INC_DECLARE,
	INC_FLAG,
	INC_CONFIRM,
	INC_UNFLAG,
	INC_CLOSE,
	INC_EXPIRE,
} inc_verb;

typedef struct inc_op {
	inc_verb verb;
	const char *coord;
	char id[128];
	const char *title, *description, *reason;
	int exercise;
	int64_t expires_ms;
	int64_t now;
	int quorum;
	int window_ms;
	/* out */
	char info[512];
	int refuse; /* A17_E* to refuse with, info says why */
	size_t withdrawn;
} inc_op;

static void
fmt_ms(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
apply_incident(store_txn *t, void *arg)
{
	inc_op *op = arg;
	Art17__IncidentRecord *inc = NULL;
	Art17__IncidentRecord nr = ART17__INCIDENT_RECORD__INIT;
	Art17__FlagState fl = ART17__FLAG_STATE__INIT;
	Art17__FlagState *saved_flag = NULL;
	char *saved_closed_by = NULL;
	char tb[32];
	int rv, ex;

	op->refuse = 0;
	op->withdrawn = 0;
	op->info[0] = '\0';
	if (op->verb == INC_DECLARE) {
		size_t n = 0;

		if (op->id[0] == '\0') {
			store_count(t, DB_INCIDENTS, &n);
			snprintf(op->id, sizeof(op->id), "%s%06zu",
			         op->exercise ? "EX-INC-" : "INC-", n + 1);
		}
		rv = reg_incident_get(t, op->id, &inc);
		if (rv == 0) {
			art17__incident_record__free_unpacked(inc, NULL);
			snprintf(op->info, sizeof(op->info),
			         "incident %s already exists", op->id);
			op->refuse = A17_EEXIST;
			return 0;
		}
		nr.incident_id = op->id;
		nr.title = (char *)op->title;
		nr.description =
		    (char *)(op->description ? op->description : "");
		nr.exercise = op->exercise;
		nr.declared_ms = op->now;
		nr.declared_by = (char *)op->coord;
		reg_incident_put(t, &nr);
		audit_append(t, op->coord, "incident.declare", op->id,
		             op->exercise, "incident %s declared%s: %s", op->id,
		             op->exercise ? " (EXERCISE)" : "", op->title);
		snprintf(op->info, sizeof(op->info), "incident %s declared%s",
		         op->id, op->exercise ? " (EXERCISE)" : "");
		return t->rv;
	}

	if ((rv = reg_incident_get(t, op->id, &inc)) != 0) {
		if (rv != A17_ENOTFOUND)
			return rv;
		snprintf(op->info, sizeof(op->info), "no incident '%s'",
		         op->id);
		op->refuse = A17_ENOTFOUND;
		return 0;
	}
	ex = inc->exercise;
	/* Work on a copy of the flag whose strings may point into op; the
	 * unpacked record keeps owning its own strings. */
	if (inc->flag != NULL)
		fl = *inc->flag;
	saved_flag = inc->flag;
	saved_closed_by = inc->closed_by;
	inc->flag = &fl;
	if (inc->closed && op->verb != INC_EXPIRE) {
		snprintf(op->info, sizeof(op->info), "incident %s is closed",
		         op->id);
		op->refuse = A17_EDENIED;
		goto out;
	}
	switch (op->verb) {
	case INC_FLAG: {
		Art17__FlagState *f = inc->flag;
		int renew = f->active && !f->expired &&
		            gate_flag_at(f, op->now) == GATE_FLAG_ACTIVE;

		if (op->expires_ms <= op->now) {
			snprintf(op->info, sizeof(op->info),
			         "the flag needs an expiry in the future");
			op->refuse = A17_EINVAL;
			goto out;
		}
		/* strings point into op; the record is packed before op ends */
		f->ever_set = 1;
		f->expires_ms = op->expires_ms;
		f->expired = 0;
		f->reason = (char *)op->reason;
		if (renew) {
			fmt_ms(op->expires_ms, tb, sizeof(tb));
			audit_append(t, op->coord, "flag.renew", op->id, ex,
			             "large-scale flag renewed until %s: %s",
			             tb, op->reason);
			snprintf(op->info, sizeof(op->info),
			         "large-scale flag on %s renewed until %s",
			         op->id, tb);
		} else if (op->quorum >= 2) {
			f->pending = 1;
			f->active = 0;
			f->set_by = (char *)op->coord;
			f->confirmed_by = (char *)"";
			f->pending_until_ms = op->now + op->window_ms;
			fmt_ms(f->pending_until_ms, tb, sizeof(tb));
			audit_append(
			    t, op->coord, "flag.propose", op->id, ex,
			    "large-scale flag proposed (two-person rule: needs "
			    "a second coordinator by %s): %s",
			    tb, op->reason);
			snprintf(op->info, sizeof(op->info),
			         "large-scale flag on %s is PENDING: a second, "
			         "different coordinator must confirm it by %s",
			         op->id, tb);
		} else {
			f->pending = 0;
			f->active = 1;
			f->set_ms = op->now;
			f->set_by = (char *)op->coord;
			f->lifted_ms = 0;
			f->lifted_by = (char *)"";
			fmt_ms(op->expires_ms, tb, sizeof(tb));
			audit_append(
			    t, op->coord, "flag.set", op->id, ex,
			    "large-scale attack declared, flag active until "
			    "%s: %s",
			    tb, op->reason);
			snprintf(op->info, sizeof(op->info),
			         "large-scale flag on %s ACTIVE until %s",
			         op->id, tb);
		}
		break;
	}
	case INC_CONFIRM: {
		Art17__FlagState *f = inc->flag;

		if (!f->pending) {
			snprintf(
			    op->info, sizeof(op->info),
			    "the flag on %s is not waiting for confirmation",
			    op->id);
			op->refuse = A17_EDENIED;
			goto out;
		}
		if (strcmp(f->set_by, op->coord) == 0) {
			snprintf(op->info, sizeof(op->info),
			         "the two-person rule needs a different "
			         "coordinator: %s proposed this flag",
			         op->coord);
			op->refuse = A17_EDENIED;
			goto out;
		}
		if (op->now > f->pending_until_ms) {
			snprintf(
			    op->info, sizeof(op->info),
			    "the confirmation window for the flag on %s has "
			    "passed; set it again",
			    op->id);
			op->refuse = A17_EDENIED;
			goto out;
		}
		f->pending = 0;
		f->active = 1;
		f->set_ms = op->now;
		f->confirmed_by = (char *)op->coord;
		f->lifted_ms = 0;
		fmt_ms(f->expires_ms, tb, sizeof(tb));
		audit_append(
		    t, op->coord, "flag.confirm", op->id, ex,
		    "large-scale flag confirmed (proposed by %s), active until "
		    "%s",
		    f->set_by, tb);
		snprintf(op->info, sizeof(op->info),
		         "large-scale flag on %s ACTIVE until %s (confirmed)",
		         op->id, tb);
		break;
	}
	case INC_UNFLAG:
	case INC_EXPIRE: {
		Art17__FlagState *f = inc->flag;

		if (op->verb == INC_EXPIRE) {
			if (!f->active || f->expired ||
			    f->expires_ms > op->now) {
				op->refuse = A17_EINVAL; /* nothing to do */
				goto out;
			}
			f->expired = 1;
			f->active = 0;
			fmt_ms(f->expires_ms, tb, sizeof(tb));
			audit_append(
			    t, "broker", "flag.expire", op->id, ex,
			    "large-scale flag expired at %s without renewal",
			    tb);
		} else {
			if (!f->active && !f->pending) {
				snprintf(op->info, sizeof(op->info),
				         "the flag on %s is not set", op->id);
				op->refuse = A17_EDENIED;
				goto out;
			}
			f->active = 0;
			f->pending = 0;
			f->lifted_ms = op->now;
			f->lifted_by = (char *)op->coord;
			audit_append(t, op->coord, "flag.lift", op->id, ex,
			             "large-scale flag lifted%s%s",
			             op->reason && op->reason[0] ? ": " : "",
			             op->reason ? op->reason : "");
		}
		break;
	}
	case INC_CLOSE:
		inc->closed = 1;
		inc->closed_ms = op->now;
		inc->closed_by = (char *)op->coord;
		audit_append(t, op->coord, "incident.close", op->id, ex,
		             "incident %s closed", op->id);
		break;
	default:
		break;
	}
	/* pack now: some strings above point into op */
	reg_incident_put(t, inc);
	if (op->verb == INC_UNFLAG || op->verb == INC_EXPIRE ||
	    op->verb == INC_CLOSE) {
		if ((rv = reg_regate(t, &a17b, op->id, UINT32_MAX, op->now,
		                     &op->withdrawn)) != 0)
			goto out;
		snprintf(op->info, sizeof(op->info),
		         "%s %s %s; %zu queued copies withdrawn",
		         op->verb == INC_CLOSE ? "incident"
		                               : "large-scale flag on",
		         op->id,
		         op->verb == INC_CLOSE    ? "closed"
		         : op->verb == INC_EXPIRE ? "expired"
		                                  : "lifted",
		         op->withdrawn);
	}
	rv = t->rv;
out:
	/* detach strings we pointed at op before freeing */
	if (inc != NULL) {
		if (inc->flag == &fl) {
			inc->flag = saved_flag;
			inc->closed_by = saved_closed_by;
		}
		art17__incident_record__free_unpacked(inc, NULL);
	}
	return rv;
}

static int
run_incident(broker *b, inc_op *op, char *err, size_t errlen)
{
	int rv;

	op->now = wire_now_ms();
	op->quorum = b->cfg.flag_quorum;
	op->window_ms = b->cfg.confirm_window_ms;
	if ((rv = store_writer_run(b->wr, apply_incident, op)) != 0) {
		snprintf(err, errlen, "incident %s: %s", op->id,
		         a17_strerror(rv));
		return rv;
	}
	if (op->refuse != 0) {
		snprintf(err, errlen, "%s", op->info);
		return op->refuse;
	}
	log_info("%s (by %s)", op->info, op->coord);
	return 0;
}

static int
incidents_read(broker *b, const char *only, Art17__AdminReply *r)
{
	store_txn t;
	store_iter it;
	MDB_val k, v;
	int rv;

	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, DB_INCIDENTS, NULL, 0, &it)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__IncidentRecord *i, **n;

		i = art17__incident_record__unpack(NULL, v.mv_size, v.mv_data);
		if (i == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		if (only != NULL && strcmp(only, i->incident_id) != 0) {
			art17__incident_record__free_unpacked(i, NULL);
			continue;
		}
		n = realloc(r->incidents, (r->n_incidents + 1) * sizeof(*n));
		if (n == NULL) {
			art17__incident_record__free_unpacked(i, NULL);
			rv = A17_ENOMEM;
			break;
		}
		r->incidents = n;
		r->incidents[r->n_incidents++] = i;
	}
	store_iter_end(&it);
	store_txn_abort(&t);
	if (rv < 0)
		return rv;
	return (only != NULL && r->n_incidents == 0) ? A17_ENOTFOUND : 0;
}

static int
audit_read(broker *b, const Art17__AuditQuery *q, Art17__AdminReply *r)
{
	store_txn t;
	store_iter it;
	store_key from;
	MDB_val k, v;
	int rv;

	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	store_key_init(&from);
	store_key_u64(&from, q->from_seq);
	if ((rv = store_iter_from(&t, DB_AUDIT, NULL, 0, from.buf, from.len,
	                          &it)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	while ((q->limit == 0 || r->n_audit < q->limit) &&
	       (rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__AuditRecord *a, **n;

		a = art17__audit_record__unpack(NULL, v.mv_size, v.mv_data);
		if (a == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		n = realloc(r->audit, (r->n_audit + 1) * sizeof(*n));
		if (n == NULL) {
			art17__audit_record__free_unpacked(a, NULL);
			rv = A17_ENOMEM;
			break;
		}
		r->audit = n;
		r->audit[r->n_audit++] = a;
	}
	store_iter_end(&it);
	store_txn_abort(&t);
	return rv < 0 ? rv : 0;
}

int
inc_admin(broker *b, const char *coord, Art17__AdminRequest *a,
          Art17__AdminReply *r, char *err, size_t errlen)
{
	inc_op op;
	char info[512] = "";
	int rv = 0;

	memset(&op, 0, sizeof(op));
	op.coord = coord;
	switch (a->op_case) {
	case ART17__ADMIN_REQUEST__OP_CONSENT_GRANT:
	case ART17__ADMIN_REQUEST__OP_CONSENT_REVOKE: {
		Art17__ConsentChange *c =
		    a->op_case == ART17__ADMIN_REQUEST__OP_CONSENT_GRANT
		        ? a->consent_grant
		        : a->consent_revoke;

		rv = inc_consent_change(
		    b, c->member_id,
		    a->op_case == ART17__ADMIN_REQUEST__OP_CONSENT_GRANT,
		    c->reference, coord, ART17__CONSENT_VIA__VIA_COORDINATOR,
		    info, sizeof(info));
		if (rv != 0)
			snprintf(err, errlen, "%s", info);
		else
			r->info = strdup(info);
		return rv;
	}
	case ART17__ADMIN_REQUEST__OP_CONSENT_SHOW:
		return consent_show(b, a->consent_show, r, err, errlen);
	case ART17__ADMIN_REQUEST__OP_INCIDENT_DECLARE: {
		Art17__IncidentDeclare *d = a->incident_declare;

		if (d->title == NULL || d->title[0] == '\0') {
			snprintf(err, errlen, "an incident needs a title");
			return A17_EINVAL;
		}
		if (d->incident_id && d->incident_id[0] &&
		    strlen(d->incident_id) >= sizeof(op.id)) {
			snprintf(err, errlen, "incident id too long");
			return A17_EINVAL;
		}
		op.verb = INC_DECLARE;
		snprintf(op.id, sizeof(op.id), "%s",
		         d->incident_id ? d->incident_id : "");
		op.title = d->title;
		op.description = d->description;
		op.exercise = d->exercise;
		if ((rv = run_incident(b, &op, err, errlen)) != 0)
			return rv;
		r->info = strdup(op.info);
		return incidents_read(b, op.id, r);
	}
	case ART17__ADMIN_REQUEST__OP_INCIDENT_FLAG:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_CONFIRM:
	case ART17__ADMIN_REQUEST__OP_INCIDENT_UNFLAG: {
		Art17__FlagChange *f =
		    a->op_case == ART17__ADMIN_REQUEST__OP_INCIDENT_FLAG
		        ? a->incident_flag
		    : a->op_case == ART17__ADMIN_REQUEST__OP_INCIDENT_CONFIRM
		        ? a->incident_confirm
		        : a->incident_unflag;

		op.verb =
		    a->op_case == ART17__ADMIN_REQUEST__OP_INCIDENT_FLAG
		        ? INC_FLAG
		    : a->op_case == ART17__ADMIN_REQUEST__OP_INCIDENT_CONFIRM
		        ? INC_CONFIRM
		        : INC_UNFLAG;
		snprintf(op.id, sizeof(op.id), "%s",
		         f->incident_id ? f->incident_id : "");
		op.reason = f->reason ? f->reason : "";
		op.expires_ms = f->expires_ms;
		if (op.verb == INC_FLAG && op.reason[0] == '\0') {
			snprintf(err, errlen,
			         "setting the large-scale flag "
			         "needs a reason");
			return A17_EINVAL;
		}
		if ((rv = run_incident(b, &op, err, errlen)) != 0)
			return rv;
		r->info = strdup(op.info);
		return incidents_read(b, op.id, r);
	}
	case ART17__ADMIN_REQUEST__OP_INCIDENT_CLOSE:
		op.verb = INC_CLOSE;
		snprintf(op.id, sizeof(op.id), "%s",
		         a->incident_close->incident_id
		             ? a->incident_close->incident_id
		             : "");
		if ((rv = run_incident(b, &op, err, errlen)) != 0)
			return rv;
		r->info = strdup(op.info);
		return incidents_read(b, op.id, r);
	case ART17__ADMIN_REQUEST__OP_INCIDENT_LIST:
		return incidents_read(b, NULL, r);
	case ART17__ADMIN_REQUEST__OP_INCIDENT_SHOW:
		rv = incidents_read(b, a->incident_show->incident_id, r);
		if (rv == A17_ENOTFOUND)
			snprintf(err, errlen, "no incident '%s'",
			         a->incident_show->incident_id);
		return rv;
	case ART17__ADMIN_REQUEST__OP_AUDIT_VERIFY: {
		uint64_t count, bad;

		if ((rv = audit_verify(b->st, &count, &bad, info,
		                       sizeof(info))) != 0) {
			snprintf(err, errlen, "audit verify: %s",
			         a17_strerror(rv));
			return rv;
		}
		r->audit_count = count;
		r->audit_bad_seq = bad;
		if (bad == 0) {
			uint64_t rok = 0;

			rv = audit_verify_receipts(b->st, &rok, info,
			                           sizeof(info));
			r->receipts_verified = rok;
			if (rv == A17_EBADSIG) {
				snprintf(err, errlen, "%s", info);
				log_warnx("receipt check: %s", info);
				return rv;
			}
			if (rv != 0) {
				snprintf(err, errlen, "receipt check: %s",
				         a17_strerror(rv));
				return rv;
			}
			snprintf(info, sizeof(info),
			         "intact; %llu signed receipts verified",
			         (unsigned long long)rok);
		}
		r->info = strdup(info);
		if (bad)
			log_warnx("audit log broken at entry %llu: %s",
			          (unsigned long long)bad, info);
		return 0;
	}
	case ART17__ADMIN_REQUEST__OP_AUDIT_SHOW:
		return audit_read(b, a->audit_show, r);
	default:
		snprintf(err, errlen, "unknown command");
		return A17_EINVAL;
	}
}

/* ---------------------------------------------------------- deadlines */

typedef struct overdue_op {
	int64_t now;
	uint32_t *nos; /* members to remind, with what */
	reminder *rems;
	size_t n, cap;
} overdue_op;

static int
remind_add(overdue_op *op, uint32_t no, const char *rid, uint64_t seq,
           int64_t deadline)
{
	if (op->n == op->cap) {
		size_t nc = op->cap ? op->cap * 2 : 64;
		uint32_t *nn = realloc(op->nos, nc * sizeof(*nn));
		reminder *nr;

		if (nn == NULL)
			return A17_ENOMEM;
		op->nos = nn;
		if ((nr = realloc(op->rems, nc * sizeof(*nr))) == NULL)
			return A17_ENOMEM;
		op->rems = nr;
		op->cap = nc;
	}
	op->nos[op->n] = no;
	snprintf(op->rems[op->n].request_id, sizeof(op->rems[op->n].request_id),
	         "%s", rid);
	op->rems[op->n].seq = seq;
	op->rems[op->n].deadline_ms = deadline;
	op->n++;
	return 0;
}

static const char *
member_poc(store_txn *t, uint32_t no, char *buf, size_t len)
{
	Art17__MemberRecord *m;
	store_key k;
	MDB_val v;

	snprintf(buf, len, "(no POC registered)");
	store_key_init(&k);
	store_key_u32(&k, no);
	if (store_get(t, DB_MEMBERS, &k, &v) == 0 &&
	    (m = art17__member_record__unpack(NULL, v.mv_size, v.mv_data)) !=
	        NULL) {
		if (m->poc && m->poc[0])
			snprintf(buf, len, "%s", m->poc);
		art17__member_record__free_unpacked(m, NULL);
	}
	return buf;
}

/* Rewrites a request record with overdue_swept set. */
static void
mark_swept(store_txn *t, Art17__RequestRecord *rq)
{
	size_t len;
	uint8_t *buf;
	store_key rk;

	rq->overdue_swept = 1;
	len = art17__request_record__get_packed_size(rq);
	if ((buf = malloc(len)) == NULL) {
		t->rv = A17_ENOMEM;
		return;
	}
	art17__request_record__pack(rq, buf);
	store_key_init(&rk);
	store_key_u64(&rk, rq->request_no);
	store_put(t, DB_REQUESTS, &rk, buf, len);
	free(buf);
}

/* One request past its deadline: its unacknowledged copies go overdue. */
static int
overdue_request(store_txn *t, overdue_op *op, const Art17__RequestRecord *rq)
{
	store_iter ci;
	store_key p;
	MDB_val ck, cv;
	int rv;

	store_key_init(&p);
	store_key_u64(&p, rq->request_no);
	if ((rv = store_iter_begin(t, DB_BYCOPY, p.buf, p.len, &ci)) != 0)
		return rv;
	while ((rv = store_iter_next(&ci, &ck, &cv)) == 1) {
		uint32_t mno = store_get_u32((const uint8_t *)ck.mv_data + 8);
		uint64_t seq = store_get_u64(cv.mv_data);
		Art17__DeliveryRecord *d;
		store_key dk;
		MDB_val dv;
		char poc[256];

		db_delivery_key(&dk, mno, seq);
		if (store_get(t, DB_DELIVERIES, &dk, &dv) != 0)
			continue;
		d = art17__delivery_record__unpack(NULL, dv.mv_size,
		                                   dv.mv_data);
		if (d == NULL)
			continue;
		if (d->state == ART17__DELIVERY_STATE__DS_QUEUED ||
		    d->state == ART17__DELIVERY_STATE__DS_DELIVERED) {
			d->state = ART17__DELIVERY_STATE__DS_OVERDUE;
			reg_put_delivery(t, mno, seq, d);
			audit_append(t, "broker", "copy.overdue", d->member_id,
			             rq->exercise,
			             "request %s seq %llu past its deadline "
			             "without a receipt",
			             rq->request_id, (unsigned long long)seq);
			audit_append(
			    t, "broker", "copy.escalate", d->member_id,
			    rq->exercise,
			    "request %s overdue at member %s: escalated "
			    "to its POC %s",
			    rq->request_id, d->member_id,
			    member_poc(t, mno, poc, sizeof(poc)));
			if (d->delivered_ms != 0)
				remind_add(op, mno, rq->request_id, seq,
				           rq->deadline_ms);
		}
		art17__delivery_record__free_unpacked(d, NULL);
	}
	store_iter_end(&ci);
	return rv < 0 ? rv : 0;
}

/*
 * Cooperation requests past their response deadline: every copy not yet
 * acknowledged becomes overdue, with an escalation entry naming the
 * member's POC; members that hold the copy get a reminder.
 */
static int
apply_overdue(store_txn *t, void *arg)
{
	overdue_op *op = arg;
	store_iter it;
	MDB_val k, v;
	int rv;

	op->n = 0;
	if ((rv = store_iter_begin(t, DB_REQUESTS, NULL, 0, &it)) != 0)
		return rv;
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__RequestRecord *rq;

		rq = art17__request_record__unpack(NULL, v.mv_size, v.mv_data);
		if (rq == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		if (rq->kind == ART17__ITEM_KIND__KIND_COOPERATION_REQUEST &&
		    rq->deadline_ms != 0 && rq->deadline_ms <= op->now &&
		    !rq->overdue_swept) {
			rv = overdue_request(t, op, rq);
			if (rv == 0)
				mark_swept(t, rq);
		}
		art17__request_record__free_unpacked(rq, NULL);
		if (rv < 0)
			break;
	}
	store_iter_end(&it);
	if (rv < 0)
		return rv;
	return t->rv;
}

static void
overdue_sweep(broker *b)
{
	overdue_op op;

	memset(&op, 0, sizeof(op));
	op.now = wire_now_ms();
	if (store_writer_run(b->wr, apply_overdue, &op) == 0 && op.n > 0) {
		pthread_mutex_lock(&b->mtx);
		for (size_t i = 0; i < op.n; i++) {
			member *m = op.nos[i] < b->n_members
			                ? b->members[op.nos[i]]
			                : NULL;
			reminder *nr;

			if (m == NULL)
				continue;
			nr = realloc(m->rem, (m->n_rem + 1) * sizeof(*nr));
			if (nr == NULL)
				continue;
			m->rem = nr;
			m->rem[m->n_rem++] = op.rems[i];
		}
		pthread_mutex_unlock(&b->mtx);
		net_kick_members(b, op.nos, op.n);
		log_info("%zu overdue copies: reminders queued", op.n);
	}
	free(op.nos);
	free(op.rems);
}

void
inc_sweep(broker *b)
{
	Art17__AdminReply r = ART17__ADMIN_REPLY__INIT;
	int64_t now = wire_now_ms();

	if (incidents_read(b, NULL, &r) != 0)
		goto out;
	for (size_t i = 0; i < r.n_incidents; i++) {
		Art17__IncidentRecord *inc = r.incidents[i];
		char err[256];
		inc_op op;

		if (inc->flag == NULL || !inc->flag->active ||
		    inc->flag->expired || inc->flag->expires_ms == 0 ||
		    inc->flag->expires_ms > now)
			continue;
		memset(&op, 0, sizeof(op));
		op.verb = INC_EXPIRE;
		op.coord = "broker";
		snprintf(op.id, sizeof(op.id), "%s", inc->incident_id);
		run_incident(b, &op, err, sizeof(err));
	}
out:
	for (size_t i = 0; i < r.n_incidents; i++)
		art17__incident_record__free_unpacked(r.incidents[i], NULL);
	free(r.incidents);
	overdue_sweep(b);
}
