/*
 * a17-slowclient: agents that say hello, poll, and then read their
 * replies very slowly or not at all, so that TCP backpressure builds up
 * on the broker's side (issue 8: memory per slow agent).
 *
 * usage: a17-slowclient [-r BYTES_PER_S] [-k POLLS] [-t SECONDS] HOST PORT
 *                       KEYDIR...
 *
 * One connection per KEYDIR (an agent's art17-pki directory; the member
 * id is its last part), each in its own thread, over real mutual TLS
 * (OpenSSL, so that reading can be throttled) and nng's SP-over-TCP
 * framing for REQ0. Each runs the real handshake (HelloReq, the Challenge
 * signed by the broker, Hello, Welcome) and then sends POLLS Polls with
 * cursor 0 back to back (-k, default 1: a well-behaved agent has one
 * outstanding poll; more pipelines requests the way no agent should).
 * From then on it reads at most BYTES_PER_S bytes a second (-r, default
 * 0: never reads again), in steps every 100 ms, for SECONDS (-t, default
 * 15), and then drops the connection without a TLS close, leaving unread
 * bytes behind (the broker sees a reset).
 *
 * The receive buffer is set small (4 KiB) before connecting, so the
 * broker's writes stall as soon as its own send buffer is full.
 *
 * Prints "slowclient: N of M polling" once every connection has sent its
 * polls (the test waits for it), and at the end one line with the bytes
 * each connection read. Exit 0 when every connection got as far as
 * polling; 1 otherwise; 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "crypto.h"
#include "err.h"
#include "wire.h"

#define RCVBUF   4096
#define STEP_MS  100
#define HS_TIMEO 30 /* seconds for the TLS and application handshakes */

static const char *host, *port;
static long rate; /* bytes a second after the polls; 0: none */
static int n_polls = 1;
static int hold_s = 15;

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int n_polling, n_done;

typedef struct conn {
	const char *keydir;
	const char *member;
	a17_key *key, *broker_key;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	uint32_t next_id; /* SP request id */
	long bytes_read;  /* after the polls */
	int polling;
	int done;          /* got as far as it will before holding */
	const char *phase; /* how far it got, for a report while waiting */
	char err[256];
} conn;

/* Records how far c got (read by the main thread while it waits). */
static void
set_phase(conn *c, const char *phase)
{
	pthread_mutex_lock(&mtx);
	c->phase = phase;
	pthread_mutex_unlock(&mtx);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
broker_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	conn *c = arg;

	(void)len;
	if (memcmp(kid, crypto_key_id(c->broker_key), A17_KEYID_LEN) != 0)
		return A17_EUNKNOWNKEY;
	*k = c->broker_key;
	return 0;
}

static int
ssl_write_all(conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		int w =
		    SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);

		if (w <= 0) {
			snprintf(c->err, sizeof(c->err), "TLS write failed");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
ssl_read_all(conn *c, uint8_t *p, size_t n)
{
	while (n > 0) {
		int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);

		if (r <= 0) {
			snprintf(c->err, sizeof(c->err),
			         "connection closed by the broker");
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Sends one REQ0 message: the 64-bit length, the request id, the body. */
static int
sp_send(conn *c, const uint8_t *body, size_t len)
{
	uint8_t hdr[12];
	uint64_t n = len + 4;
	uint32_t id = 0x80000000u | c->next_id++;

	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(n >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		hdr[8 + i] = (uint8_t)(id >> (24 - 8 * i));
	if (ssl_write_all(c, hdr, sizeof(hdr)) != 0)
		return -1;
	return ssl_write_all(c, body, len);
}

/* Reads one reply into *m (signed by the broker or channel-authenticated). */
static int
sp_recv(conn *c, wire_msg *m)
{
	uint8_t hdr[8], *buf;
	uint64_t n = 0;
	int rv;

	if (ssl_read_all(c, hdr, sizeof(hdr)) != 0)
		return -1;
	for (int i = 0; i < 8; i++)
		n = n << 8 | hdr[i];
	if (n < 4 || n > 2 * WIRE_MAX_MSG) {
		snprintf(c->err, sizeof(c->err), "bad frame length %llu",
		         (unsigned long long)n);
		return -1;
	}
	if ((buf = malloc(n)) == NULL || ssl_read_all(c, buf, n) != 0) {
		free(buf);
		return -1;
	}
	rv = wire_open(buf + 4, n - 4, WIRE_MAX_MSG, broker_keyfn, c,
	               WIRE_F_ALLOW_UNSIGNED, m);
	free(buf);
	if (rv != 0) {
		snprintf(c->err, sizeof(c->err), "reply did not open: %s",
		         a17_strerror(rv));
		return -1;
	}
	return 0;
}

/* Seals and sends body as this member. */
static int
send_body(conn *c, Art17__Body *body)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rv;

	if (wire_seal(body, c->key, &buf, &len) != 0) {
		snprintf(c->err, sizeof(c->err), "cannot seal");
		return -1;
	}
	rv = sp_send(c, buf, len);
	free(buf);
	return rv;
}

static int
tls_connect(conn *c)
{
	struct addrinfo hints, *ai = NULL;
	char path[4096];
	int one = 1, sz = RCVBUF;
	struct timeval tv = {HS_TIMEO, 0};
	uint8_t sp[8];
	static const uint8_t req0[8] = {0, 'S', 'P', 0, 0, 0x30, 0, 0};

	set_phase(c, "TCP connect");
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0) {
		snprintf(c->err, sizeof(c->err), "cannot resolve %s", host);
		return -1;
	}
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	/* small before connect: the window is negotiated in the SYN */
	setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		snprintf(c->err, sizeof(c->err), "connect: %s",
		         strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);

	c->ctx = SSL_CTX_new(TLS_client_method());
	snprintf(path, sizeof(path), "%s/ca.crt", c->keydir);
	if (c->ctx == NULL ||
	    SSL_CTX_load_verify_locations(c->ctx, path, NULL) != 1) {
		snprintf(c->err, sizeof(c->err), "TLS: CA %.200s", path);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/tls.pem", c->keydir);
	if (SSL_CTX_use_certificate_file(c->ctx, path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c->ctx, path, SSL_FILETYPE_PEM) != 1) {
		snprintf(c->err, sizeof(c->err), "TLS: key pair %.200s", path);
		return -1;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	c->ssl = SSL_new(c->ctx);
	SSL_set1_host(c->ssl, "localhost");
	SSL_set_tlsext_host_name(c->ssl, "localhost");
	SSL_set_fd(c->ssl, c->fd);
	set_phase(c, "TLS handshake");
	if (SSL_connect(c->ssl) != 1) {
		snprintf(c->err, sizeof(c->err), "TLS handshake failed");
		return -1;
	}
	set_phase(c, "SP header");
	if (ssl_write_all(c, req0, sizeof(req0)) != 0 ||
	    ssl_read_all(c, sp, sizeof(sp)) != 0)
		return -1;
	if (memcmp(sp, "\0SP\0", 4) != 0) {
		snprintf(c->err, sizeof(c->err), "not an SP peer");
		return -1;
	}
	return 0;
}

/* HelloReq, Challenge (signed by the broker), Hello, Welcome. */
static int
hello(conn *c)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__HelloReq hr = ART17__HELLO_REQ__INIT;
	Art17__Hello h = ART17__HELLO__INIT;
	uint8_t id[WIRE_MSGID_LEN], nonce[64];
	size_t nonce_len;
	wire_msg m;

	set_phase(c, "HelloReq");
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_HELLO_REQ, c->member,
	                 0);
	hr.member_id = (char *)c->member;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_HELLO_REQ;
	body.hello_req = &hr;
	if (send_body(c, &body) != 0 || sp_recv(c, &m) != 0)
		return -1;
	if (m.body->payload_case != ART17__BODY__PAYLOAD_CHALLENGE ||
	    m.signer == NULL || m.body->challenge->nonce.len > sizeof(nonce)) {
		snprintf(c->err, sizeof(c->err),
		         "no signed Challenge (kind %d)", m.body->hdr->kind);
		wire_msg_fini(&m);
		return -1;
	}
	nonce_len = m.body->challenge->nonce.len;
	memcpy(nonce, m.body->challenge->nonce.data, nonce_len);
	wire_msg_fini(&m);

	set_phase(c, "Hello");
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_HELLO, c->member, 0);
	h.member_id = (char *)c->member;
	h.nonce.data = nonce;
	h.nonce.len = nonce_len;
	h.agent_version = "a17-slowclient";
	body.payload_case = ART17__BODY__PAYLOAD_HELLO;
	body.hello = &h;
	if (send_body(c, &body) != 0 || sp_recv(c, &m) != 0)
		return -1;
	if (m.body->payload_case != ART17__BODY__PAYLOAD_WELCOME ||
	    m.signer == NULL) {
		snprintf(c->err, sizeof(c->err), "no signed Welcome (kind %d)",
		         m.body->hdr->kind);
		wire_msg_fini(&m);
		return -1;
	}
	wire_msg_fini(&m);
	return 0;
}

/* A Poll with cursor 0: "send me everything", up to a full Deliver. */
static int
poll0(conn *c)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	Art17__Poll p = ART17__POLL__INIT;
	uint8_t id[WIRE_MSGID_LEN];

	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_POLL, c->member, 0);
	p.cursor = 0;
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_POLL;
	body.poll = &p;
	return send_body(c, &body);
}

/* Reads at the configured rate until the deadline; never blocks long. */
static void
trickle(conn *c, int64_t deadline)
{
	uint8_t buf[4096];
	long step = rate * STEP_MS / 1000;

	while (now_ms() < deadline) {
		long want = step;

		while (want > 0) {
			int r;

			/* only what is there: the deadline must hold */
			if (SSL_pending(c->ssl) == 0) {
				fd_set rs;
				struct timeval tv = {0, 0};

				FD_ZERO(&rs);
				FD_SET(c->fd, &rs);
				if (select(c->fd + 1, &rs, NULL, NULL, &tv) !=
				    1)
					break;
			}
			r = SSL_read(c->ssl, buf,
			             want < (long)sizeof(buf)
			                 ? (int)want
			                 : (int)sizeof(buf));
			if (r <= 0)
				return;
			c->bytes_read += r;
			want -= r;
		}
		usleep(STEP_MS * 1000);
	}
}

static void *
conn_main(void *arg)
{
	conn *c = arg;
	char path[4096];
	int64_t deadline = now_ms() + (int64_t)hold_s * 1000;
	int ok = 0;

	c->fd = -1;
	c->member =
	    strrchr(c->keydir, '/') ? strrchr(c->keydir, '/') + 1 : c->keydir;
	c->next_id = 1;
	snprintf(path, sizeof(path), "%s/id.key", c->keydir);
	if (crypto_key_load(path, &c->key) != 0) {
		snprintf(c->err, sizeof(c->err), "key %.200s", path);
	} else {
		snprintf(path, sizeof(path), "%s/broker-sign.pub", c->keydir);
		if (crypto_key_load(path, &c->broker_key) != 0)
			snprintf(c->err, sizeof(c->err), "key %.200s", path);
		else if (tls_connect(c) == 0 && hello(c) == 0) {
			ok = 1;
			set_phase(c, "polls");
			for (int i = 0; ok && i < n_polls; i++)
				ok = poll0(c) == 0;
		}
	}
	pthread_mutex_lock(&mtx);
	c->polling = ok;
	c->done = 1;
	n_polling += ok;
	n_done++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mtx);
	if (ok) {
		if (rate > 0)
			trickle(c, deadline);
		while (now_ms() < deadline)
			usleep(STEP_MS * 1000);
	}
	/* vanish: no close_notify, unread bytes left behind (a reset) */
	if (c->fd >= 0)
		close(c->fd);
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	crypto_key_free(c->key);
	crypto_key_free(c->broker_key);
	return NULL;
}

static int
usage(void)
{
	fprintf(stderr, "usage: a17-slowclient [-r BYTES_PER_S] [-k POLLS] "
	                "[-t SECONDS] HOST PORT KEYDIR...\n");
	return 2;
}

int
main(int argc, char **argv)
{
	conn *cs;
	pthread_t *th;
	int ch, n, rv = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "r:k:t:")) != -1) {
		switch (ch) {
		case 'r':
			rate = atol(optarg);
			break;
		case 'k':
			n_polls = atoi(optarg);
			break;
		case 't':
			hold_s = atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 3 || rate < 0 || n_polls < 1 || n_polls > 1000 ||
	    hold_s < 1)
		return usage();
	host = argv[optind];
	port = argv[optind + 1];
	n = argc - optind - 2;
	cs = calloc((size_t)n, sizeof(*cs));
	th = calloc((size_t)n, sizeof(*th));
	if (cs == NULL || th == NULL)
		return 2;
	for (int i = 0; i < n; i++) {
		cs[i].keydir = argv[optind + 2 + i];
		if (pthread_create(&th[i], NULL, conn_main, &cs[i]) != 0) {
			fprintf(stderr, "a17-slowclient: no thread\n");
			return 2;
		}
	}
	pthread_mutex_lock(&mtx);
	while (n_done < n) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		if (pthread_cond_timedwait(&cond, &mtx, &ts) == 0 ||
		    n_done == n)
			continue;
		/* say where the stragglers are */
		for (int i = 0; i < n; i++)
			if (cs[i].phase != NULL && !cs[i].done)
				printf("slowclient: %s still in %s\n",
				       cs[i].keydir, cs[i].phase);
	}
	printf("slowclient: %d of %d polling (%d polls each, reading %ld "
	       "bytes/s, %d s)\n",
	       n_polling, n, n_polls, rate, hold_s);
	rv = n_polling == n ? 0 : 1;
	pthread_mutex_unlock(&mtx);
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (!cs[i].polling)
			printf("slowclient: %s: %s\n", cs[i].keydir, cs[i].err);
	}
	printf("slowclient: read after polling:");
	for (int i = 0; i < n; i++)
		printf(" %ld", cs[i].bytes_read);
	printf(" bytes\n");
	free(cs);
	free(th);
	return rv;
}
