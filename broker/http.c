/*
 * http.c: the coordinator dashboard and /metrics, on nng's HTTP server.
 *
 * Read-only. Every path needs the bearer token from the auth file (also
 * accepted as the password of HTTP Basic auth, so a browser can prompt
 * for it); the token is compared through SHA-256 and CRYPTO_memcmp so
 * neither its bytes nor its length leak through timing. Serves on
 * loopback only: put a TLS reverse proxy in front for anything else.
 *
 * Handlers run on nng's threads and read LMDB in read-only transactions,
 * which never wait for, nor hold up, the single writer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "broker.h"
#include "err.h"
#include "gate.h"
#include "log.h"

extern const unsigned char a17_dashboard_html[];
extern const unsigned long a17_dashboard_html_len;
extern const unsigned char a17_dashboard_js[];
extern const unsigned long a17_dashboard_js_len;

#define MAX_REQUESTS 12 /* newest requests shown */

static nng_http_server *server;
static uint8_t token_hash[A17_SHA256_LEN];

/* Constant-time: both sides are hashed first, then CRYPTO_memcmp. */
static int
token_ok(const char *cand, size_t len)
{
	uint8_t h[A17_SHA256_LEN];
	int ok;

	if (crypto_sha256((const uint8_t *)cand, len, h) != 0)
		return 0;
	ok = CRYPTO_memcmp(h, token_hash, sizeof(h)) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return ok;
}

static int
authorised(nng_http_req *req)
{
	const char *a = nng_http_req_get_header(req, "Authorization");
	unsigned char dec[3 * 128];
	const char *colon;
	size_t alen;
	int n, ok;

	if (a == NULL)
		return 0;
	if (strncasecmp(a, "Bearer ", 7) == 0)
		return token_ok(a + 7, strlen(a + 7));
	if (strncasecmp(a, "Basic ", 6) != 0)
		return 0;
	a += 6;
	alen = strlen(a);
	if (alen == 0 || alen > 4 * 128 || alen % 4 != 0)
		return 0;
	n = EVP_DecodeBlock(dec, (const unsigned char *)a, (int)alen);
	if (n <= 0)
		return 0;
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (alen >= 1 && a[alen - 1] == '=')
		n--;
	if (alen >= 2 && a[alen - 2] == '=')
		n--;
	if ((colon = memchr(dec, ':', (size_t)n)) == NULL)
		return 0;
	ok = token_ok(colon + 1, (size_t)n - (size_t)(colon + 1 - (char *)dec));
	OPENSSL_cleanse(dec, sizeof(dec));
	return ok;
}

static void
reply(nng_aio *aio, uint16_t status, const char *ctype, const void *body,
      size_t len)
{
	nng_http_res *res;
	int rv;

	if ((rv = nng_http_res_alloc(&res)) != 0) {
		nng_aio_finish(aio, rv);
		return;
	}
	nng_http_res_set_status(res, status);
	nng_http_res_set_header(res, "Content-Type", ctype);
	nng_http_res_set_header(res, "Cache-Control", "no-store");
	nng_http_res_set_header(res, "X-Content-Type-Options", "nosniff");
	nng_http_res_set_header(res, "X-Frame-Options", "DENY");
	nng_http_res_set_header(res, "Referrer-Policy", "no-referrer");
	nng_http_res_set_header(res, "Content-Security-Policy",
	                        "default-src 'none'; script-src 'self'; "
	                        "style-src 'unsafe-inline'; connect-src "
	                        "'self'; img-src 'self'; frame-ancestors "
	                        "'none'");
	if (status == 401)
		nng_http_res_set_header(res, "WWW-Authenticate",
		                        "Basic realm=\"art17 dashboard\", "
		                        "charset=\"UTF-8\"");
	if ((rv = nng_http_res_copy_data(res, body, len)) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

/* Checks the token; answers 401 (and logs, without the token) if not. */
static int
gate_auth(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	static const char msg[] = "authentication required\n";

	if (authorised(req))
		return 1;
	if (nng_http_req_get_header(req, "Authorization") != NULL) {
		const char *uri = nng_http_req_get_uri(req);

		/* the path only: a query string could hold anything */
		log_reject("A17-W0901", "dashboard: bad credentials for %.*s",
		           (int)strcspn(uri, "?#"), uri);
	}
	reply(aio, 401, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
	return 0;
}

static void
h_index(nng_aio *aio)
{
	if (gate_auth(aio))
		reply(aio, 200, "text/html; charset=utf-8", a17_dashboard_html,
		      a17_dashboard_html_len);
}

static void
h_js(nng_aio *aio)
{
	if (gate_auth(aio))
		reply(aio, 200, "text/javascript; charset=utf-8",
		      a17_dashboard_js, a17_dashboard_js_len);
}

static void
h_metrics(nng_aio *aio)
{
	char *buf;
	size_t len;
	int rv;

	if (!gate_auth(aio))
		return;
	if ((rv = metrics_render(&a17b, &buf, &len)) != 0) {
		reply(aio, 500, "text/plain", "error\n", 6);
		return;
	}
	reply(aio, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
	free(buf);
}

static const char *
state_name(int s)
{
	static const char *n[] = {"unspecified", "queued",   "delivered",
	                          "acked",       "accepted", "answered",
	                          "withdrawn",   "overdue"};

	return s >= 0 && s < 8 ? n[s] : "unspecified";
}

static const char *
flag_name(gate_flag f)
{
	switch (f) {
	case GATE_FLAG_ACTIVE:
		return "active";
	case GATE_FLAG_PENDING:
		return "pending";
	case GATE_FLAG_LIFTED:
		return "lifted";
	case GATE_FLAG_EXPIRED:
		return "expired";
	default:
		return "never";
	}
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static json_t *
incidents_json(store_txn *t, int64_t now)
{
	json_t *arr = json_array();
	store_iter it;
	MDB_val k, v;

	if (store_iter_begin(t, DB_INCIDENTS, NULL, 0, &it) != 0)
		return arr;
	while (store_iter_next(&it, &k, &v) == 1) {
		Art17__IncidentRecord *r;
		gate_flag f;

		r = art17__incident_record__unpack(NULL, v.mv_size, v.mv_data);
		if (r == NULL)
			continue;
		f = gate_flag_at(r->flag, now);
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:b, s:b, s:I, s:s, s:I}", "id",
		              r->incident_id ? r->incident_id : "", "title",
		              r->title ? r->title : "", "exercise", r->exercise,
		              "closed", r->closed, "declared_ms",
		              (json_int_t)r->declared_ms, "flag", flag_name(f),
		              "flag_expires_ms",
		              (json_int_t)(r->flag ? r->flag->expires_ms : 0)));
		art17__incident_record__free_unpacked(r, NULL);
	}
	store_iter_end(&it);
	return arr;
}

/* One request: its copies as a member x state matrix, and its curve. */
static json_t *
request_json(store_txn *t, const Art17__RequestRecord *q)
{
	json_t *o, *copies = json_array(), *counts = json_object(),
	           *curve = json_array();
	unsigned long long n[8] = {0};
	int64_t *acks = NULL;
	size_t n_acks = 0, cap = 0;
	store_iter it;
	store_key p;
	MDB_val k, v;

	store_key_init(&p);
	store_key_u64(&p, q->request_no);
	if (store_iter_begin(t, DB_BYCOPY, p.buf, p.len, &it) == 0) {
		while (store_iter_next(&it, &k, &v) == 1) {
			uint32_t mno =
			    store_get_u32((const uint8_t *)k.mv_data + 8);
			Art17__DeliveryRecord *d;
			store_key dk;
			MDB_val dv;

			db_delivery_key(&dk, mno, store_get_u64(v.mv_data));
			if (store_get(t, DB_DELIVERIES, &dk, &dv) != 0 ||
			    (d = art17__delivery_record__unpack(
			         NULL, dv.mv_size, dv.mv_data)) == NULL)
				continue;
			if (d->state >= 0 && d->state < 8)
				n[d->state]++;
			json_array_append_new(
			    copies,
			    json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, "
			              "s:s}",
			              "member",
			              d->member_id ? d->member_id : "", "state",
			              state_name(d->state), "queued_ms",
			              (json_int_t)d->queued_ms, "delivered_ms",
			              (json_int_t)d->delivered_ms, "acked_ms",
			              (json_int_t)d->acked_ms, "accepted_ms",
			              (json_int_t)d->accepted_ms, "answered_ms",
			              (json_int_t)d->answered_ms, "reason",
			              d->reason ? d->reason : ""));
			if (d->acked_ms > 0) {
				if (n_acks == cap) {
					size_t nc = cap ? cap * 2 : 64;
					int64_t *na =
					    realloc(acks, nc * sizeof(*na));
					if (na != NULL) {
						acks = na;
						cap = nc;
					}
				}
				if (n_acks < cap)
					acks[n_acks++] = d->acked_ms;
			}
			art17__delivery_record__free_unpacked(d, NULL);
		}
		store_iter_end(&it);
	}
	for (int s = 1; s < 8; s++)
		json_object_set_new(counts, state_name(s), json_integer(n[s]));
	/* receipt curve: cumulative receipts, seconds after issue */
	qsort(acks, n_acks, sizeof(*acks), cmp_i64);
	for (size_t i = 0; i < n_acks; i++)
		json_array_append_new(
		    curve, json_pack("[f, I]",
		                     (double)(acks[i] - q->issued_ms) / 1000.0,
		                     (json_int_t)(i + 1)));
	free(acks);
	o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:o, s:o, s:o}",
	              "id", q->request_id ? q->request_id : "", "title",
	              q->title ? q->title : "", "kind",
	              q->kind == ART17__ITEM_KIND__KIND_COOPERATION_REQUEST
	                  ? "cooperation-request"
	                  : "information-share",
	              "exercise", q->exercise, "incident_id",
	              q->incident_id ? q->incident_id : "", "issued_ms",
	              (json_int_t)q->issued_ms, "deadline_ms",
	              (json_int_t)q->deadline_ms, "n_copies",
	              (json_int_t)q->n_copies, "counts", counts, "copies",
	              copies, "curve", curve);
	return o;
}

static json_t *
requests_json(store_txn *t)
{
	json_t *arr = json_array();
	uint64_t no;
	MDB_val k, v;

	/* newest first: walk back from the highest request number */
	if (store_last(t, DB_REQUESTS, NULL, 0, &k, &v) != 0)
		return arr;
	no = store_get_u64(k.mv_data);
	for (int i = 0; i < MAX_REQUESTS && no > 0; no--) {
		Art17__RequestRecord *q;
		store_key rk;

		store_key_init(&rk);
		store_key_u64(&rk, no);
		if (store_get(t, DB_REQUESTS, &rk, &v) != 0)
			continue;
		q = art17__request_record__unpack(NULL, v.mv_size, v.mv_data);
		if (q == NULL)
			continue;
		json_array_append_new(arr, request_json(t, q));
		art17__request_record__free_unpacked(q, NULL);
		i++;
	}
	return arr;
}

static void
h_state(nng_aio *aio)
{
	broker *b = &a17b;
	struct timespec ts;
	store_txn t;
	json_t *root;
	char *s;
	int64_t now;
	uint64_t connected;
	uint32_t members;

	if (!gate_auth(aio))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pthread_mutex_lock(&b->mtx);
	connected = b->n_connected;
	members = b->n_members;
	pthread_mutex_unlock(&b->mtx);
	if (store_txn_begin(b->st, &t, 1) != 0) {
		reply(aio, 503, "text/plain", "store busy\n", 11);
		return;
	}
	root = json_pack(
	    "{s:I, s:I, s:I, s:o, s:o}", "now_ms", (json_int_t)now, "connected",
	    (json_int_t)connected, "members", (json_int_t)members, "incidents",
	    incidents_json(&t, now), "requests", requests_json(&t));
	store_txn_abort(&t);
	s = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (s == NULL) {
		reply(aio, 500, "text/plain", "error\n", 6);
		return;
	}
	reply(aio, 200, "application/json", s, strlen(s));
	free(s);
}

static int
add(const char *path, void (*cb)(nng_aio *))
{
	nng_http_handler *h;
	int rv;

	if ((rv = nng_http_handler_alloc(&h, path, cb)) != 0)
		return rv;
	if ((rv = nng_http_handler_set_method(h, "GET")) != 0 ||
	    (rv = nng_http_server_add_handler(server, h)) != 0) {
		nng_http_handler_free(h);
		return rv;
	}
	return 0;
}

int
http_start(broker *b)
{
	char tok[HTTP_TOKEN_MAX + 2], why[512];
	nng_url *url = NULL;
	int rv;

	if (b->cfg.http_listen == NULL)
		return 0;
	if (http_check_url(b->cfg.http_listen, why, sizeof(why)) != 0) {
		log_warnx("dashboard: %s", why);
		return A17_EINVAL;
	}
	if (b->cfg.http_auth_file == NULL) {
		log_warnx("dashboard: no auth file: it never serves without "
		          "authentication");
		return A17_EINVAL;
	}
	if (http_token_load(b->cfg.http_auth_file, tok, sizeof(tok), why,
	                    sizeof(why)) != 0) {
		log_warnx("dashboard auth file %s", why);
		return A17_EINVAL;
	}
	rv = crypto_sha256((const uint8_t *)tok, strlen(tok), token_hash);
	OPENSSL_cleanse(tok, sizeof(tok));
	if (rv != 0)
		return rv;
	if ((rv = nng_url_parse(&url, b->cfg.http_listen)) != 0 ||
	    (rv = nng_http_server_hold(&server, url)) != 0) {
		log_warnx("dashboard %s: %s", b->cfg.http_listen,
		          nng_strerror(rv));
		if (url)
			nng_url_free(url);
		return a17_err_nng(rv);
	}
	nng_url_free(url);
	if ((rv = add("/", h_index)) != 0 ||
	    (rv = add("/dashboard.js", h_js)) != 0 ||
	    (rv = add("/api/state", h_state)) != 0 ||
	    (rv = add("/metrics", h_metrics)) != 0 ||
	    (rv = nng_http_server_start(server)) != 0) {
		log_warnx("dashboard %s: %s", b->cfg.http_listen,
		          nng_strerror(rv));
		nng_http_server_release(server);
		server = NULL;
		return a17_err_nng(rv);
	}
	log_info("dashboard and metrics: listening on %s", b->cfg.http_listen);
	return 0;
}

void
http_stop(broker *b)
{
	(void)b;
	if (server == NULL)
		return;
	nng_http_server_stop(server);
	nng_http_server_release(server);
	server = NULL;
}
