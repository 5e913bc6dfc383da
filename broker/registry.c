/*
 * registry.c: incidents and the consent register as stored records, and
 * the gate (gate.c) applied to stored copies: at delivery time and when
 * a ground goes away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "err.h"
#include "gate.h"
#include "log.h"
#include "wire.h"

int
reg_incident_get(store_txn *t, const char *id, Art17__IncidentRecord **out)
{
	store_key k;
	MDB_val v;
	int rv;

	*out = NULL;
	if (id == NULL || id[0] == '\0')
		return A17_ENOTFOUND;
	store_key_init(&k);
	store_key_str(&k, id);
	if ((rv = store_get(t, DB_INCIDENTS, &k, &v)) != 0)
		return rv;
	*out = art17__incident_record__unpack(NULL, v.mv_size, v.mv_data);
	return *out ? 0 : A17_ECORRUPT;
}

int
reg_incident_put(store_txn *t, const Art17__IncidentRecord *r)
{
	store_key k;
	uint8_t *buf;
	size_t len;
	int rv;

	len = art17__incident_record__get_packed_size(r);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return t->rv = A17_ENOMEM;
	art17__incident_record__pack(r, buf);
	store_key_init(&k);
	store_key_str(&k, r->incident_id);
	rv = store_put(t, DB_INCIDENTS, &k, buf, len);
	free(buf);
	return rv;
}

int
reg_consent_history(store_txn *t, uint32_t member_no,
                    Art17__ConsentRecord ***hist, size_t *n)
{
	store_iter it;
	store_key p;
	MDB_val k, v;
	int rv;

	*hist = NULL;
	*n = 0;
	store_key_init(&p);
	store_key_u32(&p, member_no);
	if ((rv = store_iter_begin(t, DB_CONSENT, p.buf, p.len, &it)) != 0)
		return rv;
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__ConsentRecord *c, **nh;

		c = art17__consent_record__unpack(NULL, v.mv_size, v.mv_data);
		nh = realloc(*hist, (*n + 1) * sizeof(*nh));
		if (c == NULL || nh == NULL) {
			if (c)
				art17__consent_record__free_unpacked(c, NULL);
			if (nh)
				*hist = nh;
			rv = c ? A17_ENOMEM : A17_ECORRUPT;
			break;
		}
		*hist = nh;
		(*hist)[(*n)++] = c;
	}
	store_iter_end(&it);
	if (rv < 0) {
		reg_consent_free(*hist, *n);
		*hist = NULL;
		*n = 0;
		return rv;
	}
	return 0;
}

void
reg_consent_free(Art17__ConsentRecord **hist, size_t n)
{
	for (size_t i = 0; i < n; i++)
		art17__consent_record__free_unpacked(hist[i], NULL);
	free(hist);
}

int
reg_gate(store_txn *t, Art17__ItemKind kind, const char *incident_id,
         int exercise, uint32_t member_no, int64_t now, reg_verdict *v)
{
	Art17__IncidentRecord *inc = NULL;
	Art17__ConsentRecord **hist = NULL;
	const Art17__ConsentRecord *inforce = NULL;
	size_t n = 0;
	gate_in in;
	gate_out o;
	int rv;

	memset(v, 0, sizeof(*v));
	memset(&in, 0, sizeof(in));
	rv = reg_incident_get(t, incident_id, &inc);
	if (rv != 0 && rv != A17_ENOTFOUND)
		return rv;
	if ((rv = reg_consent_history(t, member_no, &hist, &n)) != 0) {
		if (inc)
			art17__incident_record__free_unpacked(inc, NULL);
		return rv;
	}
	in.kind = kind;
	in.request_exercise = exercise;
	in.incident_known = inc != NULL;
	in.incident_exercise = inc ? inc->exercise : 0;
	in.incident_closed = inc ? inc->closed : 0;
	in.flag = gate_flag_at(inc ? inc->flag : NULL, now);
	in.consent = gate_consent_at(hist, n, now, &inforce);
	o = gate_decide(&in);
	v->allow = o.allow;
	v->reason = o.reason;
	metrics_gate(o.reason);
	v->ground = o.ground;
	if (o.ground == ART17__GROUND_KIND__GROUND_LARGE_SCALE && inc &&
	    inc->flag)
		v->declared_ms = inc->flag->set_ms;
	if (o.ground == ART17__GROUND_KIND__GROUND_CONSENT && inforce)
		snprintf(v->consent_ref, sizeof(v->consent_ref), "%s",
		         inforce->reference);
	reg_consent_free(hist, n);
	if (inc)
		art17__incident_record__free_unpacked(inc, NULL);
	return 0;
}

int
reg_put_delivery(store_txn *t, uint32_t member_no, uint64_t seq,
                 const Art17__DeliveryRecord *d)
{
	store_key k;
	uint8_t *buf;
	size_t len;
	int rv;

	len = art17__delivery_record__get_packed_size(d);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return t->rv = A17_ENOMEM;
	art17__delivery_record__pack(d, buf);
	db_delivery_key(&k, member_no, seq);
	rv = store_put(t, DB_DELIVERIES, &k, buf, len);
	free(buf);
	return rv;
}

/* Re-gates the queued copies of one request. */
static int
regate_request(store_txn *t, const Art17__RequestRecord *rq, uint32_t member_no,
               int64_t now, size_t *n_withdrawn)
{
	store_iter it;
	store_key p;
	MDB_val k, v;
	int rv;

	store_key_init(&p);
	store_key_u64(&p, rq->request_no);
	if (member_no != UINT32_MAX)
		store_key_u32(&p, member_no);
	if ((rv = store_iter_begin(t, DB_BYCOPY, p.buf, p.len, &it)) != 0)
		return rv;
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		uint32_t mno = store_get_u32((const uint8_t *)k.mv_data + 8);
		uint64_t seq = store_get_u64(v.mv_data);
		Art17__DeliveryRecord *d;
		store_key dk;
		MDB_val dv;
		reg_verdict vd;

		db_delivery_key(&dk, mno, seq);
		if (store_get(t, DB_DELIVERIES, &dk, &dv) != 0) {
			rv = A17_ECORRUPT;
			break;
		}
		d = art17__delivery_record__unpack(NULL, dv.mv_size,
		                                   dv.mv_data);
		if (d == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		/* only copies not yet handed over can be withdrawn */
		if (d->state == ART17__DELIVERY_STATE__DS_QUEUED ||
		    (d->state == ART17__DELIVERY_STATE__DS_OVERDUE &&
		     d->delivered_ms == 0)) {
			if ((rv = reg_gate(t, rq->kind, rq->incident_id,
			                   rq->exercise, mno, now, &vd)) != 0) {
				art17__delivery_record__free_unpacked(d, NULL);
				break;
			}
			if (!vd.allow) {
				char *old = d->reason;

				d->state = ART17__DELIVERY_STATE__DS_WITHDRAWN;
				d->reason = (char *)gate_reason_code(vd.reason);
				reg_put_delivery(t, mno, seq, d);
				d->reason = old;
				audit_append(
				    t, "broker", "copy.withdraw", d->member_id,
				    rq->exercise,
				    "request %s seq %llu withdrawn before "
				    "delivery: %s (%s)",
				    rq->request_id, (unsigned long long)seq,
				    gate_reason_code(vd.reason),
				    gate_reason_text(vd.reason));
				(*n_withdrawn)++;
			}
		}
		art17__delivery_record__free_unpacked(d, NULL);
	}
	store_iter_end(&it);
	if (rv < 0)
		return rv;
	return t->rv;
}

int
reg_regate(store_txn *t, broker *b, const char *incident_id, uint32_t member_no,
           int64_t now, size_t *n_withdrawn)
{
	store_iter it;
	MDB_val k, v;
	int rv;

	(void)b;
	*n_withdrawn = 0;
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
		    (incident_id == NULL ||
		     strcmp(rq->incident_id, incident_id) == 0))
			rv = regate_request(t, rq, member_no, now, n_withdrawn);
		art17__request_record__free_unpacked(rq, NULL);
		if (rv < 0)
			break;
	}
	store_iter_end(&it);
	if (rv < 0)
		return rv;
	return t->rv;
}
