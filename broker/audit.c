/*
 * audit.c: the tamper-evident audit log.
 *
 * Entry n carries prev_hash = hash of entry n-1 (32 zero bytes for n = 1)
 * and hash = SHA-256(prev_hash || the entry packed with hash empty).
 * Entries are appended inside the transaction that makes the change they
 * describe, so the log and the state commit together. Verification
 * recomputes every hash in key order and checks the sequence has no gap,
 * so an edit, a deletion or a reordering is found and named.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "err.h"
#include "log.h"
#include "wire.h"

/* hash = SHA-256(prev || packed(r with hash empty)) */
static int
entry_hash(Art17__AuditRecord *r, uint8_t out[A17_SHA256_LEN])
{
	ProtobufCBinaryData saved = r->hash;
	uint8_t *buf;
	size_t len, plen = r->prev_hash.len;
	int rv;

	r->hash.data = NULL;
	r->hash.len = 0;
	len = art17__audit_record__get_packed_size(r);
	if ((buf = malloc(plen + len)) == NULL) {
		r->hash = saved;
		return A17_ENOMEM;
	}
	memcpy(buf, r->prev_hash.data, plen);
	art17__audit_record__pack(r, buf + plen);
	rv = crypto_sha256(buf, plen + len, out);
	free(buf);
	r->hash = saved;
	return rv;
}

int
audit_append(store_txn *t, const char *actor, const char *action,
             const char *subject, int exercise, const char *fmt, ...)
{
	Art17__AuditRecord r = ART17__AUDIT_RECORD__INIT;
	uint8_t prev[A17_SHA256_LEN] = {0}, hash[A17_SHA256_LEN];
	char detail[1024];
	store_key k;
	MDB_val lk, lv;
	uint8_t *buf;
	size_t len;
	va_list ap;
	int rv;

	if (t->rv != 0)
		return t->rv;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);

	r.seq = 1;
	rv = store_last(t, DB_AUDIT, NULL, 0, &lk, &lv);
	if (rv == 0) {
		Art17__AuditRecord *last;

		last =
		    art17__audit_record__unpack(NULL, lv.mv_size, lv.mv_data);
		if (last == NULL || last->hash.len != A17_SHA256_LEN) {
			if (last)
				art17__audit_record__free_unpacked(last, NULL);
			return t->rv = A17_ECORRUPT;
		}
		r.seq = last->seq + 1;
		memcpy(prev, last->hash.data, A17_SHA256_LEN);
		art17__audit_record__free_unpacked(last, NULL);
	} else if (rv != A17_ENOTFOUND) {
		return rv;
	}
	r.time_ms = wire_now_ms();
	r.actor = (char *)(actor ? actor : "broker");
	r.action = (char *)action;
	r.subject = (char *)(subject ? subject : "");
	r.detail = detail;
	r.exercise = exercise ? 1 : 0;
	r.prev_hash.data = prev;
	r.prev_hash.len = A17_SHA256_LEN;
	if ((rv = entry_hash(&r, hash)) != 0)
		return t->rv = rv;
	r.hash.data = hash;
	r.hash.len = A17_SHA256_LEN;
	len = art17__audit_record__get_packed_size(&r);
	if ((buf = malloc(len)) == NULL)
		return t->rv = A17_ENOMEM;
	art17__audit_record__pack(&r, buf);
	store_key_init(&k);
	store_key_u64(&k, r.seq);
	rv = store_put(t, DB_AUDIT, &k, buf, len);
	free(buf);
	if (rv == 0) {
		/* the head: catches a log cut short at its end */
		uint8_t head[8 + A17_SHA256_LEN];

		for (int i = 0; i < 8; i++)
			head[i] = (uint8_t)(r.seq >> (56 - 8 * i));
		memcpy(head + 8, hash, A17_SHA256_LEN);
		store_key_init(&k);
		store_key_str(&k, "audit.head");
		rv = store_put(t, DB_META, &k, head, sizeof(head));
	}
	return rv;
}

int
audit_verify(store *s, uint64_t *count, uint64_t *bad, char *detail,
             size_t dlen)
{
	uint8_t prev[A17_SHA256_LEN] = {0}, h[A17_SHA256_LEN];
	store_txn t;
	store_iter it;
	MDB_val k, v;
	uint64_t expect = 1;
	int rv;

	*count = 0;
	*bad = 0;
	detail[0] = '\0';
	if ((rv = store_txn_begin(s, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, DB_AUDIT, NULL, 0, &it)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__AuditRecord *r;
		uint64_t key = k.mv_size == 8 ? store_get_u64(k.mv_data) : 0;

		r = art17__audit_record__unpack(NULL, v.mv_size, v.mv_data);
		if (r == NULL) {
			*bad = key ? key : expect;
			snprintf(detail, dlen, "entry %llu does not decode",
			         (unsigned long long)*bad);
			break;
		}
		if (key != expect || r->seq != key) {
			*bad = expect;
			snprintf(
			    detail, dlen,
			    "entry %llu is missing or out of order (found key "
			    "%llu, seq %llu)",
			    (unsigned long long)expect, (unsigned long long)key,
			    (unsigned long long)r->seq);
			art17__audit_record__free_unpacked(r, NULL);
			break;
		}
		if (r->prev_hash.len != A17_SHA256_LEN ||
		    memcmp(r->prev_hash.data, prev, A17_SHA256_LEN) != 0) {
			*bad = key;
			snprintf(detail, dlen,
			         "entry %llu does not chain to entry %llu",
			         (unsigned long long)key,
			         (unsigned long long)(key - 1));
			art17__audit_record__free_unpacked(r, NULL);
			break;
		}
		if (entry_hash(r, h) != 0 || r->hash.len != A17_SHA256_LEN ||
		    memcmp(r->hash.data, h, A17_SHA256_LEN) != 0) {
			*bad = key;
			snprintf(
			    detail, dlen,
			    "entry %llu was altered: its hash does not match "
			    "its content",
			    (unsigned long long)key);
			art17__audit_record__free_unpacked(r, NULL);
			break;
		}
		memcpy(prev, h, A17_SHA256_LEN);
		art17__audit_record__free_unpacked(r, NULL);
		(*count)++;
		expect++;
	}
	if (rv == A17_ECORRUPT) {
		/* The store refused the entry: its bytes changed in the file.
		 */
		uint64_t key = k.mv_size == 8 ? store_get_u64(k.mv_data) : 0;

		*bad = key ? key : expect;
		snprintf(
		    detail, dlen,
		    "entry %llu was altered: it failed its stored checksum",
		    (unsigned long long)*bad);
		rv = 0;
	}
	store_iter_end(&it);
	if (rv >= 0 && *bad == 0) {
		store_key hk;
		MDB_val hv;
		uint64_t hseq = 0;

		store_key_init(&hk);
		store_key_str(&hk, "audit.head");
		if (store_get(&t, DB_META, &hk, &hv) == 0 &&
		    hv.mv_size == 8 + A17_SHA256_LEN)
			hseq = store_get_u64(hv.mv_data);
		if (hseq != *count ||
		    (hseq != 0 && memcmp((const uint8_t *)hv.mv_data + 8, prev,
		                         A17_SHA256_LEN) != 0)) {
			*bad = *count + 1;
			snprintf(
			    detail, dlen,
			    "the log ends at entry %llu but its head records "
			    "entry %llu: entries were removed or altered at "
			    "the end",
			    (unsigned long long)*count,
			    (unsigned long long)hseq);
		}
	}
	store_txn_abort(&t);
	return rv < 0 ? rv : 0;
}

/* ------------------------------------------------------------ receipts */

typedef struct keyset {
	a17_key **k;
	size_t n;
} keyset;

static int
keyset_fn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	keyset *ks = arg;

	(void)len;
	for (size_t i = 0; i < ks->n; i++)
		if (memcmp(crypto_key_id(ks->k[i]), kid, A17_KEYID_LEN) == 0) {
			*k = ks->k[i];
			return 0;
		}
	return A17_EUNKNOWNKEY;
}

static void
keyset_free(keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		crypto_key_free(ks->k[i]);
	free(ks->k);
	ks->k = NULL;
	ks->n = 0;
}

/* The member's current key and every key it had before a rekey. */
static int
keyset_of(const Art17__MemberRecord *m, keyset *ks)
{
	ks->n = 0;
	if ((ks->k = calloc(m->n_old_keys + 1, sizeof(*ks->k))) == NULL)
		return A17_ENOMEM;
	if (crypto_key_from_raw(m->id_pub.data, m->id_pub.len, &ks->k[0]) == 0)
		ks->n++;
	for (size_t i = 0; i < m->n_old_keys; i++)
		if (crypto_key_from_raw(m->old_keys[i].data, m->old_keys[i].len,
		                        &ks->k[ks->n]) == 0)
			ks->n++;
	return 0;
}

int
audit_verify_receipts(store *s, uint64_t *ok, char *detail, size_t dlen)
{
	store_txn t;
	store_iter mi;
	MDB_val mk, mv;
	int rv, bad = 0;

	*ok = 0;
	if ((rv = store_txn_begin(s, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, DB_MEMBERS, NULL, 0, &mi)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	while (!bad && (rv = store_iter_next(&mi, &mk, &mv)) == 1) {
		Art17__MemberRecord *m;
		store_iter di;
		store_key p;
		MDB_val dk, dv;
		keyset ks;

		m = art17__member_record__unpack(NULL, mv.mv_size, mv.mv_data);
		if (m == NULL || keyset_of(m, &ks) != 0) {
			if (m)
				art17__member_record__free_unpacked(m, NULL);
			rv = A17_ECORRUPT;
			break;
		}
		store_key_init(&p);
		store_key_u32(&p, m->member_no);
		if (store_iter_begin(&t, DB_DELIVERIES, p.buf, p.len, &di) ==
		    0) {
			while (!bad && store_iter_next(&di, &dk, &dv) == 1) {
				Art17__DeliveryRecord *d;
				wire_msg w;

				d = art17__delivery_record__unpack(
				    NULL, dv.mv_size, dv.mv_data);
				if (d == NULL || d->receipt_env.len == 0) {
					if (d)
						art17__delivery_record__free_unpacked(
						    d, NULL);
					continue;
				}
				if (wire_open(d->receipt_env.data,
				              d->receipt_env.len, WIRE_MAX_MSG,
				              keyset_fn, &ks, 0, &w) == 0) {
					(*ok)++;
				} else {
					snprintf(
					    detail, dlen,
					    "the signed receipt of %s for "
					    "request %s does not verify with "
					    "any key the member has had",
					    m->member_id, d->request_id);
					bad = 1;
				}
				wire_msg_fini(&w);
				art17__delivery_record__free_unpacked(d, NULL);
			}
			store_iter_end(&di);
		}
		keyset_free(&ks);
		art17__member_record__free_unpacked(m, NULL);
	}
	store_iter_end(&mi);
	store_txn_abort(&t);
	if (rv < 0)
		return rv;
	return bad ? A17_EBADSIG : 0;
}
