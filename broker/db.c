/*
 * db.c: the broker's stored records and their in-memory index.
 */
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "broker.h"
#include "err.h"
#include "log.h"
#include "wire.h"

static const char *const db_names[DB_COUNT] = {
    [DB_META] = "meta",
    [DB_MEMBERS] = "members",
    [DB_REQUESTS] = "requests",
    [DB_REQIDS] = "reqids",
    [DB_DELIVERIES] = "deliveries",
    [DB_BYCOPY] = "bycopy",
    [DB_CONSENT] = "consent",
    [DB_INCIDENTS] = "incidents",
    [DB_AUDIT] = "audit",
    [DB_STAFF] = "staff",
    [DB_FEEDBACK] = "feedback",
    [DB_FPRINT] = "fingerprints",
    [DB_CONSULT] = "consultations",
};

static int
cmp_member_id(const void *a, const void *b)
{
	return strcmp(((const member *)a)->id, ((const member *)b)->id);
}

int
db_cmp_keyid(const void *a, const void *b)
{
	return memcmp(((const member *)a)->key_id, ((const member *)b)->key_id,
	              A17_KEYID_LEN);
}

int
db_delivery_key(store_key *k, uint32_t member_no, uint64_t seq)
{
	store_key_init(k);
	store_key_u32(k, member_no);
	store_key_u64(k, seq);
	return 0;
}

int
db_open(broker *b)
{
	char path[4096];
	store_opts o;

	memset(&o, 0, sizeof(o));
	o.map_size = 64u << 20;
	o.nosync = b->cfg.nosync;
	snprintf(path, sizeof(path), "%s/db", b->cfg.datadir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return a17_err_errno(errno);
	return store_open(path, db_names, DB_COUNT, &o, &b->st);
}

member *
db_member_by_id(broker *b, const char *id)
{
	member q, **r;

	q.id = (char *)id;
	r = tfind(&q, &b->by_id, cmp_member_id);
	return r ? *r : NULL;
}

member *
db_member_by_keyid(broker *b, const uint8_t *kid)
{
	member q, **r;

	memcpy(q.key_id, kid, A17_KEYID_LEN);
	r = tfind(&q, &b->by_keyid, db_cmp_keyid);
	return r ? *r : NULL;
}

/* Adds m to the in-memory tables. Caller holds b->mtx (or is single). */
/*
 * Makes b->members hold slot no (new slots NULL). Every reader loops up to
 * b->n_members, so the array must cover a number as soon as it is
 * reserved, not only once the member is indexed. Caller holds b->mtx.
 */
static int
members_grow(broker *b, uint32_t no)
{
	if (no >= b->cap_members) {
		uint32_t ncap = b->cap_members ? b->cap_members * 2 : 256;
		member **n;

		while (ncap <= no)
			ncap *= 2;
		n = realloc(b->members, ncap * sizeof(*n));
		if (n == NULL)
			return A17_ENOMEM;
		memset(n + b->cap_members, 0,
		       (ncap - b->cap_members) * sizeof(*n));
		b->members = n;
		b->cap_members = ncap;
	}
	return 0;
}

static int
index_member(broker *b, member *m)
{
	if (members_grow(b, m->no) != 0)
		return A17_ENOMEM;
	b->members[m->no] = m;
	if (m->no + 1 > b->n_members)
		b->n_members = m->no + 1;
	if (tsearch(m, &b->by_id, cmp_member_id) == NULL ||
	    tsearch(m, &b->by_keyid, db_cmp_keyid) == NULL)
		return A17_ENOMEM;
	return 0;
}

static member *
member_from_record(const Art17__MemberRecord *r)
{
	member *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((m->id = strdup(r->member_id)) == NULL ||
	    crypto_key_from_raw(r->id_pub.data, r->id_pub.len, &m->key) != 0) {
		free(m->id);
		free(m);
		return NULL;
	}
	memcpy(m->key_id, crypto_key_id(m->key), A17_KEYID_LEN);
	m->no = r->member_no;
	m->reporter = r->reporter;
	m->next_seq = 1;
	return m;
}

/* Derives the next sequence of member no from the last delivery key. */
static int
derive_next_seq(store_txn *t, member *m)
{
	store_key p;
	MDB_val k;
	int rv;

	store_key_init(&p);
	store_key_u32(&p, m->no);
	if ((rv = store_last_key(t, DB_DELIVERIES, p.buf, p.len, &k)) == 0 &&
	    k.mv_size == 12) {
		m->last_seq = store_get_u64((const uint8_t *)k.mv_data + 4);
		m->next_seq = m->last_seq + 1;
	}
	if (rv == A17_ENOTFOUND)
		rv = 0;
	return rv < 0 ? rv : 0;
}

int
db_load(broker *b)
{
	store_txn t;
	store_iter it;
	MDB_val k, v;
	int rv;

	if ((rv = store_txn_begin(b->st, &t, 1)) != 0)
		return rv;
	if ((rv = store_iter_begin(&t, DB_MEMBERS, NULL, 0, &it)) != 0)
		goto out;
	while ((rv = store_iter_next(&it, &k, &v)) == 1) {
		Art17__MemberRecord *r;
		member *m;

		r = art17__member_record__unpack(NULL, v.mv_size, v.mv_data);
		if (r == NULL) {
			rv = A17_ECORRUPT;
			break;
		}
		m = member_from_record(r);
		art17__member_record__free_unpacked(r, NULL);
		if (m == NULL) {
			rv = A17_ENOMEM;
			break;
		}
		if ((rv = index_member(b, m)) != 0)
			break;
		if ((rv = derive_next_seq(&t, m)) != 0)
			break;
	}
	store_iter_end(&it);
	if (rv < 0)
		goto out;
	rv = 0;
	/* next request number: one past the last key */
	b->next_request_no = 1;
	if (store_last_key(&t, DB_REQUESTS, NULL, 0, &k) == 0 && k.mv_size == 8)
		b->next_request_no =
		    store_get_u64((const uint8_t *)k.mv_data) + 1;
out:
	store_txn_abort(&t);
	return rv;
}

struct member_add_op {
	Art17__MemberRecord *rec;
	const char *by;
	char *err;
	size_t errlen;
};

static int
apply_member_add(store_txn *t, void *arg)
{
	struct member_add_op *op = arg;
	uint8_t *buf;
	size_t len;
	store_key k;
	int rv;

	/* RULES Q5: one department of an organisation at most */
	if (op->rec->entity == ART17__ENTITY__ENTITY_DEPARTMENT) {
		store_iter it;
		MDB_val ik, iv;

		if ((rv = store_iter_begin(t, DB_MEMBERS, NULL, 0, &it)) != 0)
			return rv;
		while ((rv = store_iter_next(&it, &ik, &iv)) == 1) {
			Art17__MemberRecord *o;
			int clash;

			o = art17__member_record__unpack(NULL, iv.mv_size,
			                                 iv.mv_data);
			if (o == NULL)
				continue;
			clash = o->parent_org != NULL &&
			        strcmp(o->parent_org, op->rec->parent_org) == 0;
			if (clash)
				snprintf(
				    op->err, op->errlen,
				    "member %s: organisation \"%s\" already "
				    "has "
				    "a department registered (member %s); only "
				    "one department of an organisation may be "
				    "a "
				    "member (RULES Q5)",
				    op->rec->member_id, op->rec->parent_org,
				    o->member_id);
			art17__member_record__free_unpacked(o, NULL);
			if (clash) {
				store_iter_end(&it);
				return A17_EEXIST;
			}
		}
		store_iter_end(&it);
		if (rv < 0)
			return rv;
	}
	len = art17__member_record__get_packed_size(op->rec);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return A17_ENOMEM;
	art17__member_record__pack(op->rec, buf);
	store_key_init(&k);
	store_key_u32(&k, op->rec->member_no);
	rv = store_put(t, DB_MEMBERS, &k, buf, len);
	free(buf);
	audit_append(
	    t, op->by, "member.add", op->rec->member_id, 0,
	    "member %s \"%s\" registered (class %d, category %d, entity %d, "
	    "parent \"%s\", mutual-aid %s, POC \"%s\")",
	    op->rec->member_id, op->rec->name, op->rec->member_class,
	    op->rec->category, op->rec->entity, op->rec->parent_org,
	    op->rec->mutual_aid ? "yes" : "no", op->rec->poc);
	return t->rv;
}

static int
valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '.' || s[0] == '-')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return 0;
	return 1;
}

int
db_member_add(broker *b, Art17__MemberRecord *rec, const char *by, char *err,
              size_t errlen)
{
	struct member_add_op op;
	a17_key *k = NULL;
	member *m;
	int rv;

	if (rec->member_id == NULL || !valid_id(rec->member_id)) {
		snprintf(
		    err, errlen,
		    "member id must be 1-64 characters of A-Z a-z 0-9 . _ -");
		return A17_EINVAL;
	}
	if (rec->name == NULL || rec->name[0] == '\0') {
		snprintf(err, errlen, "member %s: a name is required",
		         rec->member_id);
		return A17_EINVAL;
	}
	if (rec->entity == ART17__ENTITY__ENTITY_INDIVIDUAL) {
		snprintf(
		    err, errlen,
		    "member %s: an individual cannot be a member; members are "
		    "organisations, unincorporated groups, or one department "
		    "of an organisation (RULES Q4)",
		    rec->member_id);
		return A17_EDENIED;
	}
	if (rec->entity == ART17__ENTITY__ENTITY_DEPARTMENT &&
	    (rec->parent_org == NULL || rec->parent_org[0] == '\0')) {
		snprintf(err, errlen,
		         "member %s: a department must name its organisation "
		         "(--parent)",
		         rec->member_id);
		return A17_EINVAL;
	}
	if (rec->id_pub.len != A17_PUBKEY_LEN ||
	    crypto_key_from_raw(rec->id_pub.data, rec->id_pub.len, &k) != 0) {
		snprintf(
		    err, errlen,
		    "member %s: identity key must be a 32-byte Ed25519 key",
		    rec->member_id);
		return A17_EINVAL;
	}
	pthread_mutex_lock(&b->mtx);
	if (db_member_by_id(b, rec->member_id) != NULL) {
		snprintf(err, errlen, "member %s already exists",
		         rec->member_id);
		rv = A17_EEXIST;
	} else if (db_member_by_keyid(b, crypto_key_id(k)) != NULL) {
		snprintf(
		    err, errlen,
		    "member %s: this identity key is already registered to "
		    "member %s",
		    rec->member_id,
		    db_member_by_keyid(b, crypto_key_id(k))->id);
		rv = A17_EEXIST;
	} else if ((rv = members_grow(b, b->n_members)) == 0) {
		rec->member_no = b->n_members;
		b->n_members++; /* reserve the number; its slot stays NULL */
	} else {
		rv = A17_ENOMEM;
		snprintf(err, errlen, "member %s: out of memory",
		         rec->member_id);
	}
	pthread_mutex_unlock(&b->mtx);
	crypto_key_free(k);
	if (rv != 0)
		return rv;

	rec->created_ms = wire_now_ms();
	op.rec = rec;
	op.by = by;
	op.err = err;
	op.errlen = errlen;
	err[0] = '\0';
	if ((rv = store_writer_run(b->wr, apply_member_add, &op)) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "member %s: store: %s",
			         rec->member_id, a17_strerror(rv));
		return rv;
	}
	if ((m = member_from_record(rec)) == NULL)
		return A17_ENOMEM;
	pthread_mutex_lock(&b->mtx);
	rv = index_member(b, m);
	pthread_mutex_unlock(&b->mtx);
	log_info("member %s added (no %u)", m->id, m->no);
	return rv;
}

/* ------------------------------------------------------------ rekey */

struct rekey_op {
	uint32_t no;
	const char *by;
	const ProtobufCBinaryData *pub;
};

static int
apply_rekey(store_txn *t, void *arg)
{
	struct rekey_op *op = arg;
	Art17__MemberRecord *r;
	ProtobufCBinaryData *nk, saved_pub;
	store_key k;
	MDB_val v;
	uint8_t *buf;
	size_t len, n_saved;
	char oh[2 * A17_KEYID_LEN + 1], nh[2 * A17_KEYID_LEN + 1];
	uint8_t id[A17_SHA256_LEN];
	int rv;

	store_key_init(&k);
	store_key_u32(&k, op->no);
	if ((rv = store_get(t, DB_MEMBERS, &k, &v)) != 0)
		return rv;
	if ((r = art17__member_record__unpack(NULL, v.mv_size, v.mv_data)) ==
	    NULL)
		return A17_ECORRUPT;
	/* the old key stays, for receipts it signed */
	nk = malloc((r->n_old_keys + 1) * sizeof(*nk));
	if (nk == NULL) {
		art17__member_record__free_unpacked(r, NULL);
		return A17_ENOMEM;
	}
	if (r->n_old_keys > 0)
		memcpy(nk, r->old_keys, r->n_old_keys * sizeof(*nk));
	nk[r->n_old_keys] = r->id_pub;
	crypto_sha256(r->id_pub.data, r->id_pub.len, id);
	crypto_hex(id, A17_KEYID_LEN, oh);
	crypto_sha256(op->pub->data, op->pub->len, id);
	crypto_hex(id, A17_KEYID_LEN, nh);
	{
		ProtobufCBinaryData *saved_old = r->old_keys;

		n_saved = r->n_old_keys;
		saved_pub = r->id_pub;
		r->old_keys = nk;
		r->n_old_keys = n_saved + 1;
		r->id_pub = *op->pub;
		len = art17__member_record__get_packed_size(r);
		if ((buf = malloc(len)) != NULL) {
			art17__member_record__pack(r, buf);
			store_put(t, DB_MEMBERS, &k, buf, len);
			free(buf);
		} else {
			t->rv = A17_ENOMEM;
		}
		r->old_keys = saved_old;
		r->n_old_keys = n_saved;
		r->id_pub = saved_pub;
	}
	free(nk);
	audit_append(t, op->by, "member.rekey", r->member_id, 0,
	             "identity key of %s rotated: %s -> %s (the old key is "
	             "kept to verify what it signed)",
	             r->member_id, oh, nh);
	art17__member_record__free_unpacked(r, NULL);
	return t->rv;
}

int
db_member_rekey(broker *b, const char *member_id,
                const ProtobufCBinaryData *pub, const char *by, char *err,
                size_t errlen)
{
	struct rekey_op op;
	a17_key *k = NULL;
	member *m, *other;
	int rv;

	if (pub->len != A17_PUBKEY_LEN ||
	    crypto_key_from_raw(pub->data, pub->len, &k) != 0) {
		snprintf(err, errlen,
		         "the new key must be a 32-byte Ed25519 key");
		return A17_EINVAL;
	}
	pthread_mutex_lock(&b->mtx);
	m = member_id ? db_member_by_id(b, member_id) : NULL;
	other = db_member_by_keyid(b, crypto_key_id(k));
	pthread_mutex_unlock(&b->mtx);
	if (m == NULL) {
		snprintf(err, errlen, "no member '%s'",
		         member_id ? member_id : "");
		crypto_key_free(k);
		return A17_ENOTFOUND;
	}
	if (other != NULL) {
		snprintf(err, errlen,
		         "that key is already registered to member %s",
		         other->id);
		crypto_key_free(k);
		return A17_EEXIST;
	}
	op.no = m->no;
	op.by = by;
	op.pub = pub;
	if ((rv = store_writer_run(b->wr, apply_rekey, &op)) != 0) {
		snprintf(err, errlen, "rekey %s: %s", member_id,
		         a17_strerror(rv));
		crypto_key_free(k);
		return rv;
	}
	/* switch the live key; the old object is kept, not freed: a verify
	 * running on another thread may still hold it */
	pthread_mutex_lock(&b->mtx);
	tdelete(m, &b->by_keyid, db_cmp_keyid);
	m->retired = m->key;
	m->key = k;
	memcpy(m->key_id, crypto_key_id(k), A17_KEYID_LEN);
	tsearch(m, &b->by_keyid, db_cmp_keyid);
	pthread_mutex_unlock(&b->mtx);
	snprintf(err, errlen,
	         "identity key of %s rotated; the old key is kept "
	         "to verify old receipts",
	         member_id);
	log_info("%s (by %s)", err, by);
	return 0;
}
