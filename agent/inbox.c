/*
 * inbox.c: the agent's own LMDB. A request is in the inbox, with its
 * receipt queued in the outbox, in the same commit; only then is the
 * receipt sent. The inbox is keyed by request id, so a request is never
 * handed to the member's staff twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "seal.h"
#include "err.h"
#include "log.h"
#include "wire.h"

static const char *const adb_names[ADB_COUNT] = {
    [ADB_META] = "meta",
    [ADB_INBOX] = "inbox",
    [ADB_BYSEQ] = "byseq",
    [ADB_OUTBOX] = "outbox",
};

int
inbox_open(const char *datadir, int nosync, store **sp)
{
	char path[4096];
	store_opts o;

	memset(&o, 0, sizeof(o));
	o.map_size = 16u << 20;
	o.nosync = nosync;
	if (mkdir(datadir, 0700) != 0 && errno != EEXIST)
		return a17_err_errno(errno);
	snprintf(path, sizeof(path), "%s/inbox", datadir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return a17_err_errno(errno);
	return store_open(path, adb_names, ADB_COUNT, &o, sp);
}

static void
cursor_key(store_key *k)
{
	store_key_init(k);
	store_key_str(k, "cursor");
}

int
inbox_cursor(store *s, uint64_t *cursor)
{
	store_txn t;
	store_key k;
	MDB_val v;
	int rv;

	*cursor = 0;
	if ((rv = store_txn_begin(s, &t, 1)) != 0)
		return rv;
	cursor_key(&k);
	if (store_get(&t, ADB_META, &k, &v) == 0 && v.mv_size == 8)
		*cursor = store_get_u64(v.mv_data);
	store_txn_abort(&t);
	return 0;
}

static void
be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

int
inbox_store(store *s, Art17__Copy **copies, Art17__Request **reqs,
            const uint8_t (*hashes)[A17_SHA256_LEN], size_t n, uint64_t cursor,
            size_t *n_new)
{
	store_txn t;
	store_key k;
	MDB_val v;
	uint8_t cb[8];
	int64_t now = wire_now_ms();
	int rv;

	*n_new = 0;
	if ((rv = store_txn_begin(s, &t, 0)) != 0)
		return rv;
	for (size_t i = 0; copies != NULL && i < n; i++) {
		Art17__Copy *c = copies[i];
		Art17__ReceiptItem ri = ART17__RECEIPT_ITEM__INIT;
		uint8_t *buf;
		size_t len;

		if (c->seq > cursor)
			cursor = c->seq;
		if (reqs[i] == NULL)
			continue;
		store_key_init(&k);
		store_key_str(&k, reqs[i]->request_id);
		if (store_get(&t, ADB_INBOX, &k, &v) == A17_ENOTFOUND) {
			Art17__InboxRecord r = ART17__INBOX_RECORD__INIT;

			r.request_id = reqs[i]->request_id;
			r.seq = c->seq;
			r.request_env = c->request_env;
			r.stored_ms = now;
			if (c->info != NULL) {
				r.ground = c->info->ground;
				r.member_id = c->info->member_id;
				r.sealed = c->info->sealed; /* sealed only */
			}
			len = art17__inbox_record__get_packed_size(&r);
			if ((buf = malloc(len)) == NULL) {
				store_txn_abort(&t);
				return A17_ENOMEM;
			}
			art17__inbox_record__pack(&r, buf);
			store_put(&t, ADB_INBOX, &k, buf, len);
			free(buf);
			(*n_new)++;
			{
				store_key sk;

				store_key_init(&sk);
				store_key_u64(&sk, c->seq);
				store_put(&t, ADB_BYSEQ, &sk,
				          reqs[i]->request_id,
				          strlen(reqs[i]->request_id));
			}
		}
		/* a receipt either way: the broker may have missed ours */
		ri.seq = c->seq;
		ri.request_id = reqs[i]->request_id;
		ri.request_hash.data = (uint8_t *)hashes[i];
		ri.request_hash.len = A17_SHA256_LEN;
		ri.stored_ms = now;
		len = art17__receipt_item__get_packed_size(&ri);
		if ((buf = malloc(len)) == NULL) {
			store_txn_abort(&t);
			return A17_ENOMEM;
		}
		art17__receipt_item__pack(&ri, buf);
		store_key_init(&k);
		store_key_u8(&k, OUT_RECEIPT);
		store_key_u64(&k, c->seq);
		store_put(&t, ADB_OUTBOX, &k, buf, len);
		free(buf);
	}
	cursor_key(&k);
	be64(cb, cursor);
	store_put(&t, ADB_META, &k, cb, 8);
	return store_txn_commit(&t);
}

int
outbox_receipts(store *s, Art17__ReceiptItem ***items, size_t *n, size_t max)
{
	store_txn t;
	store_iter it;
	uint8_t pfx = OUT_RECEIPT;
	MDB_val k, v;
	int rv;

	*items = NULL;
	*n = 0;
	if ((rv = store_txn_begin(s, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, ADB_OUTBOX, &pfx, 1, &it)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	*items = calloc(max, sizeof(**items));
	while (*items != NULL && *n < max &&
	       (rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__ReceiptItem *ri;

		ri = art17__receipt_item__unpack(NULL, v.mv_size, v.mv_data);
		if (ri == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		(*items)[(*n)++] = ri;
	}
	store_iter_end(&it);
	store_txn_abort(&t);
	if (*items == NULL)
		return A17_ENOMEM;
	return rv < 0 ? rv : 0;
}

void
outbox_items_free(Art17__ReceiptItem **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		art17__receipt_item__free_unpacked(items[i], NULL);
	free(items);
}

int
outbox_remove_receipts(store *s, const uint64_t *seqs, size_t n)
{
	store_txn t;
	store_key k;
	int rv;

	if ((rv = store_txn_begin(s, &t, 0)) != 0)
		return rv;
	for (size_t i = 0; i < n; i++) {
		store_key_init(&k);
		store_key_u8(&k, OUT_RECEIPT);
		store_key_u64(&k, seqs[i]);
		store_del(&t, ADB_OUTBOX, &k);
	}
	return store_txn_commit(&t);
}

static int
outbox_put(store_txn *t, uint8_t kind, uint64_t id, const uint8_t *buf,
           size_t len)
{
	store_key k;

	store_key_init(&k);
	store_key_u8(&k, kind);
	store_key_u64(&k, id);
	return store_put(t, ADB_OUTBOX, &k, buf, len);
}

int
inbox_accept(store *s, const char *id, const char *person, const char **prev)
{
	static char who[256];
	Art17__InboxRecord *r;
	Art17__Accept ac = ART17__ACCEPT__INIT;
	store_txn t;
	store_key k;
	MDB_val v;
	uint8_t *buf;
	size_t len;
	int rv;

	*prev = NULL;
	if ((rv = store_txn_begin(s, &t, 0)) != 0)
		return rv;
	store_key_init(&k);
	store_key_str(&k, id);
	if ((rv = store_get(&t, ADB_INBOX, &k, &v)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	r = art17__inbox_record__unpack(NULL, v.mv_size, v.mv_data);
	if (r == NULL) {
		store_txn_abort(&t);
		return A17_ECORRUPT;
	}
	if (r->accepted) {
		snprintf(who, sizeof(who), "%s", r->accepted_by);
		*prev = who;
		art17__inbox_record__free_unpacked(r, NULL);
		store_txn_abort(&t);
		return A17_EEXIST;
	}
	{
		char *old = r->accepted_by;

		r->accepted = 1;
		r->accepted_by = (char *)person;
		r->accepted_ms = wire_now_ms();
		len = art17__inbox_record__get_packed_size(r);
		buf = malloc(len);
		if (buf != NULL) {
			art17__inbox_record__pack(r, buf);
			store_put(&t, ADB_INBOX, &k, buf, len);
			free(buf);
		}
		r->accepted_by = old;
	}
	ac.request_id = (char *)id;
	ac.seq = r->seq;
	ac.person = (char *)person;
	ac.accepted_ms = r->accepted_ms;
	len = art17__accept__get_packed_size(&ac);
	if ((buf = malloc(len)) != NULL) {
		art17__accept__pack(&ac, buf);
		outbox_put(&t, OUT_ACCEPT, r->seq, buf, len);
		free(buf);
	} else {
		t.rv = A17_ENOMEM;
	}
	art17__inbox_record__free_unpacked(r, NULL);
	return store_txn_commit(&t);
}

int
inbox_read_sealed(store *s, const char *id, const char *staff_id,
                  const char *keypath, uint8_t **pt, size_t *len)
{
	Art17__InboxRecord *r;
	Art17__ReadReceipt rr = ART17__READ_RECEIPT__INIT;
	Art17__ReadReceipt **reads, **old;
	seal_key *key = NULL;
	store_txn t;
	store_key k;
	MDB_val v;
	uint8_t *buf;
	size_t blen, oldn;
	int rv;

	*pt = NULL;
	*len = 0;
	if ((rv = seal_key_load(keypath, &key)) != 0)
		return rv;
	if ((rv = store_txn_begin(s, &t, 0)) != 0) {
		seal_key_free(key);
		return rv;
	}
	store_key_init(&k);
	store_key_str(&k, id);
	if ((rv = store_get(&t, ADB_INBOX, &k, &v)) != 0) {
		store_txn_abort(&t);
		seal_key_free(key);
		return rv;
	}
	r = art17__inbox_record__unpack(NULL, v.mv_size, v.mv_data);
	if (r == NULL || r->sealed == NULL) {
		if (r)
			art17__inbox_record__free_unpacked(r, NULL);
		store_txn_abort(&t);
		seal_key_free(key);
		return r ? A17_EINVAL : A17_ECORRUPT;
	}
	rv = seal_open(r->sealed, staff_id, key, (const uint8_t *)id,
	               strlen(id), pt, len);
	seal_key_free(key);
	if (rv != 0) {
		art17__inbox_record__free_unpacked(r, NULL);
		store_txn_abort(&t);
		return rv;
	}
	/* each opening, per person, is kept and reported */
	rr.request_id = (char *)id;
	rr.staff_id = (char *)staff_id;
	rr.read_ms = wire_now_ms();
	reads = malloc((r->n_reads + 1) * sizeof(*reads));
	if (reads != NULL) {
		if (r->n_reads > 0)
			memcpy(reads, r->reads, r->n_reads * sizeof(*reads));
		reads[r->n_reads] = &rr;
		old = r->reads;
		oldn = r->n_reads;
		r->reads = reads;
		r->n_reads = oldn + 1;
		blen = art17__inbox_record__get_packed_size(r);
		if ((buf = malloc(blen)) != NULL) {
			art17__inbox_record__pack(r, buf);
			store_put(&t, ADB_INBOX, &k, buf, blen);
			free(buf);
		}
		r->reads = old;
		r->n_reads = oldn;
		free(reads);
	}
	blen = art17__read_receipt__get_packed_size(&rr);
	if ((buf = malloc(blen)) != NULL) {
		art17__read_receipt__pack(&rr, buf);
		outbox_put(&t, OUT_READ, (uint64_t)rr.read_ms, buf, blen);
		free(buf);
	}
	art17__inbox_record__free_unpacked(r, NULL);
	if ((rv = store_txn_commit(&t)) != 0) {
		seal_plaintext_free(*pt, *len);
		*pt = NULL;
		*len = 0;
	}
	return rv;
}

int
outbox_feedback(store *s, Art17__Feedback *f)
{
	Art17__InboxRecord *r;
	store_txn t;
	store_key k;
	MDB_val v;
	uint8_t *buf;
	size_t len;
	int rv;

	if ((rv = store_txn_begin(s, &t, 0)) != 0)
		return rv;
	store_key_init(&k);
	store_key_str(&k, f->request_id);
	if ((rv = store_get(&t, ADB_INBOX, &k, &v)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	if ((r = art17__inbox_record__unpack(NULL, v.mv_size, v.mv_data)) ==
	    NULL) {
		store_txn_abort(&t);
		return A17_ECORRUPT;
	}
	/* versions count up per request: 1, 2, ... */
	r->feedback_sent++;
	f->version = r->feedback_sent;
	len = art17__inbox_record__get_packed_size(r);
	if ((buf = malloc(len)) != NULL) {
		art17__inbox_record__pack(r, buf);
		store_put(&t, ADB_INBOX, &k, buf, len);
		free(buf);
	} else {
		t.rv = A17_ENOMEM;
	}
	len = art17__feedback__get_packed_size(f);
	if ((buf = malloc(len)) != NULL) {
		art17__feedback__pack(f, buf);
		outbox_put(&t, OUT_FEEDBACK,
		           (r->seq << 16) | (f->version & 0xffff), buf, len);
		free(buf);
	} else {
		t.rv = A17_ENOMEM;
	}
	art17__inbox_record__free_unpacked(r, NULL);
	return store_txn_commit(&t);
}

int
outbox_consent(store *s, const char *member, int grant, const char *ref)
{
	Art17__ConsentChange cc = ART17__CONSENT_CHANGE__INIT;
	store_txn t;
	uint8_t *buf;
	size_t len;
	int rv;

	cc.member_id = (char *)member;
	cc.grant = grant;
	cc.reference = (char *)ref;
	len = art17__consent_change__get_packed_size(&cc);
	if ((buf = malloc(len)) == NULL)
		return A17_ENOMEM;
	art17__consent_change__pack(&cc, buf);
	if ((rv = store_txn_begin(s, &t, 0)) != 0) {
		free(buf);
		return rv;
	}
	outbox_put(&t, OUT_CONSENT, (uint64_t)wire_now_ms(), buf, len);
	free(buf);
	return store_txn_commit(&t);
}

int
outbox_next_other(store *s, uint8_t *kind, uint64_t *id, uint8_t **buf,
                  size_t *len)
{
	store_txn t;
	store_iter it;
	uint8_t from = OUT_ACCEPT;
	MDB_val k, v;
	int rv;

	*buf = NULL;
	if ((rv = store_txn_begin(s, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_from(&t, ADB_OUTBOX, NULL, 0, &from, 1, &it)) !=
	    0) {
		store_txn_abort(&t);
		return rv;
	}
	rv = store_iter_next(&it, &k, &v);
	if (rv == 1 && k.mv_size == 9) {
		*kind = ((const uint8_t *)k.mv_data)[0];
		*id = store_get_u64((const uint8_t *)k.mv_data + 1);
		*len = v.mv_size;
		if ((*buf = malloc(v.mv_size ? v.mv_size : 1)) == NULL)
			rv = A17_ENOMEM;
		else {
			memcpy(*buf, v.mv_data, v.mv_size);
			rv = 0;
		}
	} else if (rv >= 0) {
		rv = A17_ENOTFOUND;
	}
	store_iter_end(&it);
	store_txn_abort(&t);
	return rv;
}

int
outbox_remove(store *s, uint8_t kind, uint64_t id)
{
	store_txn t;
	store_key k;
	int rv;

	if ((rv = store_txn_begin(s, &t, 0)) != 0)
		return rv;
	store_key_init(&k);
	store_key_u8(&k, kind);
	store_key_u64(&k, id);
	store_del(&t, ADB_OUTBOX, &k);
	return store_txn_commit(&t);
}

int
inbox_set_marking(store *s, const char *id, const Art17__Marking *mk)
{
	Art17__InboxRecord *r;
	Art17__Marking *saved;
	store_txn t;
	store_key k;
	MDB_val v;
	uint8_t *buf;
	size_t len;
	int rv;

	if ((rv = store_txn_begin(s, &t, 0)) != 0)
		return rv;
	store_key_init(&k);
	store_key_str(&k, id);
	if ((rv = store_get(&t, ADB_INBOX, &k, &v)) != 0) {
		store_txn_abort(&t);
		return rv;
	}
	if ((r = art17__inbox_record__unpack(NULL, v.mv_size, v.mv_data)) ==
	    NULL) {
		store_txn_abort(&t);
		return A17_ECORRUPT;
	}
	if (r->marking != NULL && r->marking->revision >= mk->revision) {
		/* an older or repeated revision: keep what we have */
		art17__inbox_record__free_unpacked(r, NULL);
		store_txn_abort(&t);
		return 0;
	}
	saved = r->marking;
	r->marking = (Art17__Marking *)mk;
	len = art17__inbox_record__get_packed_size(r);
	if ((buf = malloc(len)) != NULL) {
		art17__inbox_record__pack(r, buf);
		store_put(&t, ADB_INBOX, &k, buf, len);
		free(buf);
	} else {
		t.rv = A17_ENOMEM;
	}
	r->marking = saved;
	art17__inbox_record__free_unpacked(r, NULL);
	return store_txn_commit(&t);
}

int
outbox_consult(store *s, const Art17__Consultation *c)
{
	store_txn t;
	uint8_t *buf;
	size_t len;
	int rv;

	len = art17__consultation__get_packed_size(c);
	if ((buf = malloc(len)) == NULL)
		return A17_ENOMEM;
	art17__consultation__pack(c, buf);
	if ((rv = store_txn_begin(s, &t, 0)) != 0) {
		free(buf);
		return rv;
	}
	outbox_put(&t, OUT_CONSULT, (uint64_t)wire_now_ms(), buf, len);
	free(buf);
	return store_txn_commit(&t);
}

int
inbox_has(store *s, const char *id)
{
	store_txn t;
	store_key k;
	MDB_val v;
	int found;

	if (store_txn_begin(s, &t, 1) != 0)
		return 0;
	store_key_init(&k);
	store_key_str(&k, id);
	found = store_get(&t, ADB_INBOX, &k, &v) == 0;
	store_txn_abort(&t);
	return found;
}
