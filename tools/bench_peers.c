/*
 * art17-bench peers: Mosquitto 2 at QoS 1 and NATS JetStream through
 * libnats, on the fan-out-and-acknowledge workload of bench.c.
 *
 * Mosquitto: N members hold a persistent session (clean_session false)
 * subscribed to "bench/req" at QoS 1. The issuer, also subscribed to
 * "bench/ack" at QoS 1, publishes one request of `payload` bytes at QoS 1.
 * Every member publishes an ack "idx round" to "bench/ack" at QoS 1.
 * t1 = the issuer has received all N acks. All N+1 clients run on one
 * thread with libmosquitto's external-loop API over epoll.
 *
 * NATS JetStream: one stream REQ (subjects req.>, file storage). Each
 * member has its own connection and one durable push consumer (explicit
 * ack, deliver new). The issuer publishes with js_Publish (waits for the
 * stream's PubAck). A member acks with natsMsg_AckSync (the server has
 * processed the ack) and then reports "idx round" on the core subject
 * bench.ack, to which the issuer subscribes. t1 = the issuer has all N
 * reports.
 */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "bench_peers.h"
#include "harness.h"

#ifdef A17_BENCH_MQTT
#include <mosquitto.h>
#endif
#ifdef A17_BENCH_NATS
#include <nats/nats.h>
#endif

#define PEER_ROUND_TIMEOUT_MS 60000
#define PEER_SETUP_TIMEOUT_MS 300000

const char *const peer_mqtt_durability =
    "mosquitto 2.0: persistence on, saved every autosave_interval (1800 s) "
    "and at exit; no fsync before PUBACK";
const char *const peer_nats_durability =
    "nats-server 2.9 JetStream file store: written to the OS before the "
    "PubAck, no fsync per message (the periodic sync is 2 min; "
    "per-message sync arrived in 2.10)";

/* ------------------------------------------------------------ helpers */

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void fail(struct peer_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct peer_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->fail, sizeof(o->fail), fmt, ap);
	va_end(ap);
	fprintf(stderr, "art17-bench: %s\n", o->fail);
}

/* 0 once something accepts on 127.0.0.1:port, -1 after timeout_ms. */
static int
wait_listening(int port, pid_t pid, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;
	struct sockaddr_in sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	while (now_ns() < end) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		if (fd < 0)
			return -1;
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		pause_ms(50);
	}
	return -1;
}

static void
stop_server(pid_t pid)
{
	int64_t end = now_ns() + 20LL * 1000000000;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (now_ns() < end) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		pause_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Peak resident set (VmHWM) of pid in KiB, -1 if unknown. */
static const char *
find_exe(const char *name)
{
	static char buf[256];
	const char *dirs[] = {"/usr/sbin", "/usr/bin", "/usr/local/sbin",
	                      "/usr/local/bin"};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* The request: round number in the first 4 bytes, then filler. */
static void
fill_payload(uint8_t *p, int len, uint32_t round)
{
	memset(p, 'x', (size_t)len);
	p[0] = (uint8_t)(round >> 24);
	p[1] = (uint8_t)(round >> 16);
	p[2] = (uint8_t)(round >> 8);
	p[3] = (uint8_t)round;
}

static uint32_t
payload_round(const void *data, int len)
{
	const uint8_t *p = data;

	if (len < 4)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* ------------------------------------------------------------ mosquitto */

#ifdef A17_BENCH_MQTT

struct mq_cli;

struct mq {
	int n;
	int epfd;
	int base;           /* first member served by this process */
	int nloc;           /* members served by this process */
	int issuer;         /* this process also runs the issuer */
	struct mq_cli *cli; /* [nloc + issuer]; the last one the issuer */
	uint32_t round;
	uint32_t *seen; /* [n]: last round acked by member i */
	int acks, dups, connacks, subacks, errors, reqs;
	int verbose;
};

struct mq_cli {
	struct mq *q;
	struct mosquitto *m;
	int idx; /* -1: the issuer */
	int sock;
};

static void
mq_on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct mq_cli *c = obj;

	(void)m;
	if (rc == 0)
		c->q->connacks++;
	else
		c->q->errors++;
}

static void
mq_on_subscribe(struct mosquitto *m, void *obj, int mid, int nq,
                const int *granted)
{
	struct mq_cli *c = obj;

	(void)m;
	(void)mid;
	if (nq == 1 && granted[0] == 1)
		c->q->subacks++;
	else
		c->q->errors++;
}

static void
mq_on_message(struct mosquitto *m, void *obj,
              const struct mosquitto_message *msg)
{
	struct mq_cli *c = obj;
	struct mq *q = c->q;

	if (c->idx >= 0) {
		char ack[32];
		int len;

		len = snprintf(ack, sizeof(ack), "%d %u", c->idx,
		               payload_round(msg->payload, msg->payloadlen));
		q->reqs++;
		if (mosquitto_publish(m, NULL, "bench/ack", len, ack, 1,
		                      false) != MOSQ_ERR_SUCCESS)
			q->errors++;
		return;
	} else {
		int idx;
		unsigned r;
		char buf[32];
		int len = msg->payloadlen < 31 ? msg->payloadlen : 31;

		memcpy(buf, msg->payload, (size_t)len);
		buf[len] = '\0';
		if (sscanf(buf, "%d %u", &idx, &r) != 2 || idx < 0 ||
		    idx >= q->n) {
			q->errors++;
			return;
		}
		if (r != q->round)
			return; /* a late duplicate of an earlier round */
		if (q->seen[idx] == r) {
			q->dups++;
			return;
		}
		q->seen[idx] = r;
		q->acks++;
	}
}

/* Services every readable client for up to timeout_ms. */
static int
mq_pump(struct mq *q, int timeout_ms)
{
	struct epoll_event ev[256];
	int k = epoll_wait(q->epfd, ev, 256, timeout_ms);

	for (int i = 0; i < k; i++) {
		struct mq_cli *c = ev[i].data.ptr;
		int avail = 0, guard = 0, rc;

		do {
			rc = mosquitto_loop_read(c->m, 1);
			if (rc != MOSQ_ERR_SUCCESS) {
				if (q->verbose)
					fprintf(stderr, "mqtt client %d: %s\n",
					        c->idx, mosquitto_strerror(rc));
				q->errors++;
				epoll_ctl(q->epfd, EPOLL_CTL_DEL, c->sock,
				          NULL);
				break;
			}
			if (mosquitto_want_write(c->m))
				mosquitto_loop_write(c->m, 1);
			avail = 0;
			ioctl(c->sock, FIONREAD, &avail);
		} while (avail > 0 && ++guard < 100000);
	}
	return k;
}

static int
mq_pump_until(struct mq *q, const int *counter, int want, int timeout_ms)
{
	int64_t end = now_ns() + (int64_t)timeout_ms * 1000000;

	while (*counter < want && q->errors == 0) {
		if (now_ns() > end)
			return -1;
		mq_pump(q, 5);
	}
	return q->errors == 0 ? 0 : -1;
}

static int
mq_add(struct mq *q, int i, int port)
{
	struct mq_cli *c = &q->cli[i];
	char id[32];
	struct epoll_event ev;
	int rc;

	c->q = q;
	c->idx = i < q->nloc ? q->base + i : -1;
	snprintf(id, sizeof(id), c->idx >= 0 ? "m%d" : "issuer", c->idx);
	if ((c->m = mosquitto_new(id, false, c)) == NULL)
		return -1;
	mosquitto_connect_callback_set(c->m, mq_on_connect);
	mosquitto_subscribe_callback_set(c->m, mq_on_subscribe);
	mosquitto_message_callback_set(c->m, mq_on_message);
	mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
	if (c->idx < 0)
		mosquitto_max_inflight_messages_set(c->m, 0);
	/* a full listen queue refuses a connect now and then: retry */
	for (int tries = 0;; tries++) {
		rc = mosquitto_connect(c->m, "127.0.0.1", port, 600);
		if (rc == MOSQ_ERR_SUCCESS)
			break;
		if (tries == 50) {
			fprintf(stderr, "mqtt connect %d: %s (%s)\n", i,
			        mosquitto_strerror(rc), strerror(errno));
			return -1;
		}
		mq_pump(q, 20);
	}
	c->sock = mosquitto_socket(c->m);
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	return epoll_ctl(q->epfd, EPOLL_CTL_ADD, c->sock, &ev);
}

#define MQ_MAX_KIDS 8

/* Connects and subscribes this process's clients; 0, or -1 and o->fail. */
static int
mq_setup(struct mq *q, int port, struct peer_out *o)
{
	int nc = q->nloc + q->issuer;

	mosquitto_lib_init();
	q->cli = calloc((size_t)nc, sizeof(*q->cli));
	q->seen = calloc((size_t)q->n, sizeof(*q->seen));
	if ((q->epfd = epoll_create1(0)) < 0 || q->cli == NULL ||
	    q->seen == NULL) {
		fail(o, "mosquitto: out of memory");
		return -1;
	}
	/* connect in bursts, so the listen backlog never overflows */
	for (int i = 0; i < nc; i++) {
		if (mq_add(q, i, port) != 0) {
			fail(o, "mosquitto: client %d of %d could not connect",
			     q->base + i, q->n + 1);
			return -1;
		}
		if ((i + 1) % 100 == 0 &&
		    mq_pump_until(q, &q->connacks, i + 1,
		                  PEER_SETUP_TIMEOUT_MS) != 0) {
			fail(o,
			     "mosquitto: %d of %d CONNACKs, %d errors "
			     "(connect)",
			     q->connacks, i + 1, q->errors);
			return -1;
		}
	}
	if (mq_pump_until(q, &q->connacks, nc, PEER_SETUP_TIMEOUT_MS) != 0) {
		fail(o, "mosquitto: %d of %d CONNACKs", q->connacks, nc);
		return -1;
	}
	for (int i = 0; i < nc; i++) {
		struct mq_cli *c = &q->cli[i];

		if (mosquitto_subscribe(c->m, NULL,
		                        c->idx >= 0 ? "bench/req" : "bench/ack",
		                        1) != MOSQ_ERR_SUCCESS) {
			fail(o, "mosquitto: subscribe %d failed", i);
			return -1;
		}
		if ((i + 1) % 500 == 0)
			mq_pump(q, 0);
	}
	if (mq_pump_until(q, &q->subacks, nc, PEER_SETUP_TIMEOUT_MS) != 0) {
		fail(o, "mosquitto: %d of %d SUBACKs", q->subacks, nc);
		return -1;
	}
	return 0;
}

/*
 * A child process serving members lo..hi-1: connects and subscribes
 * them, says '1' (or '0') on wfd, then answers requests until the
 * parent's process ends (it is killed with it).
 */
static void
mq_member_main(int n, int lo, int hi, int port, int wfd, int verbose)
{
	struct mq q;
	struct peer_out po;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&q, 0, sizeof(q));
	memset(&po, 0, sizeof(po));
	q.n = n;
	q.base = lo;
	q.nloc = hi - lo;
	q.verbose = verbose;
	if (mq_setup(&q, port, &po) != 0) {
		(void)!write(wfd, "0", 1);
		_exit(1);
	}
	(void)!write(wfd, "1", 1);
	for (;;) {
		mq_pump(&q, 100);
		q.errors = 0; /* the parent sees missing acks */
	}
}

int
peer_mqtt_run(const struct peer_cfg *cfg, struct peer_out *o)
{
	pid_t kids[MQ_MAX_KIDS];
	int kfd[MQ_MAX_KIDS], nkids = 0;
	char conf[1024], log[1024], datadir[1024];
	const char *exe = find_exe("mosquitto");
	struct mq q;
	uint8_t *payload = NULL;
	pid_t pid = -1;
	double cpu0 = 0;
	int port, rc = -1;
	FILE *f;

	memset(&q, 0, sizeof(q));
	q.n = cfg->n;
	q.verbose = cfg->verbose;
	q.epfd = -1;
	o->n_ok = 0;
	if (exe == NULL) {
		fail(o, "mosquitto: not installed (Debian package mosquitto)");
		return -1;
	}
	port = harness_free_port();
	snprintf(datadir, sizeof(datadir), "%s/mosquitto", cfg->dir);
	mkdir(datadir, 0700);
	snprintf(conf, sizeof(conf), "%s/mosquitto.conf", cfg->dir);
	snprintf(log, sizeof(log), "%s/mosquitto.log", cfg->dir);
	if ((f = fopen(conf, "w")) == NULL) {
		fail(o, "mosquitto: cannot write %s", conf);
		return -1;
	}
	fprintf(f,
	        "listener %d 127.0.0.1\n"
	        "allow_anonymous true\n"
	        "persistence true\n"
	        "persistence_location %s/\n"
	        "autosave_interval 1800\n"
	        "max_inflight_messages 0\n"
	        "max_queued_messages 0\n"
	        "max_connections -1\n"
	        "set_tcp_nodelay true\n"
	        "log_dest stderr\n"
	        "log_type error\n"
	        "log_type warning\n"
	        "user %s\n",
	        port, datadir, getuid() == 0 ? "root" : "nobody");
	fclose(f);
	{
		char *argv[] = {(char *)exe, "-c", conf, NULL};

		if ((pid = harness_spawn(argv, log, 1, NULL, NULL)) < 0 ||
		    wait_listening(port, pid, 10000) != 0) {
			fail(o, "mosquitto: the server did not start (see %s)",
			     log);
			goto out;
		}
	}
	/*
	 * libmosquitto opens a socketpair beside every client's socket: 3
	 * files a client. When N + 1 clients do not fit in this process's
	 * open-file limit, members above the first share go to child
	 * processes of their own, forked before any client exists.
	 */
	{
		struct rlimit rl;
		long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0
		               ? (long)rl.rlim_cur
		               : 1024;
		int per = (int)((lim - 256) / 3);

		if (per < 2) {
			fail(o, "mosquitto: open-file limit %ld too low", lim);
			goto out;
		}
		q.nloc = q.n < per - 1 ? q.n : per - 1;
		q.issuer = 1;
		for (int lo = q.nloc; lo < q.n; lo += per) {
			int hi = lo + per < q.n ? lo + per : q.n;
			int pfd[2];

			if (nkids == MQ_MAX_KIDS || pipe(pfd) != 0 ||
			    (kids[nkids] = fork()) < 0) {
				fail(o, "mosquitto: cannot start member "
				        "processes");
				goto out;
			}
			if (kids[nkids] == 0) {
				close(pfd[0]);
				mq_member_main(q.n, lo, hi, port, pfd[1],
				               cfg->verbose);
			}
			close(pfd[1]);
			kfd[nkids++] = pfd[0];
		}
	}
	if (mq_setup(&q, port, o) != 0)
		goto out;
	for (int k = 0; k < nkids; k++) {
		char ok = 0;
		struct pollfd pf = {kfd[k], POLLIN, 0};
		int64_t end =
		    now_ns() + (int64_t)PEER_SETUP_TIMEOUT_MS * 1000000;

		while (poll(&pf, 1, 0) == 0 && now_ns() < end)
			mq_pump(&q, 20);
		if (read(kfd[k], &ok, 1) != 1 || ok != '1') {
			fail(o,
			     "mosquitto: member process %d failed to set "
			     "up",
			     k);
			goto out;
		}
	}
	payload = malloc((size_t)cfg->payload);
	if (payload == NULL) {
		fail(o, "mosquitto: out of memory");
		goto out;
	}
	cpu0 = harness_proc_cpu_ms(pid);
	for (int r = 0; r <= cfg->rounds; r++) {
		struct mq_cli *is = &q.cli[q.nloc];
		int64_t t0;

		pause_ms(cfg->settle_ms);
		q.round = (uint32_t)r + 1;
		q.acks = 0;
		if (r == 1)
			cpu0 = harness_proc_cpu_ms(pid);
		fill_payload(payload, cfg->payload, q.round);
		t0 = now_ns();
		if (mosquitto_publish(is->m, NULL, "bench/req", cfg->payload,
		                      payload, 1, false) != MOSQ_ERR_SUCCESS) {
			fail(o, "mosquitto: publish failed in round %d", r);
			goto out;
		}
		if (mosquitto_want_write(is->m))
			mosquitto_loop_write(is->m, 1);
		if (mq_pump_until(&q, &q.acks, q.n, PEER_ROUND_TIMEOUT_MS) !=
		    0) {
			fail(o,
			     "mosquitto: round %d: %d of %d acks at the "
			     "issuer, %d errors",
			     r, q.acks, q.n, q.errors);
			goto out;
		}
		if (r > 0)
			o->ms[o->n_ok++] = (double)(now_ns() - t0) / 1e6;
	}
	/* drain the PUBACKs of the last round */
	for (int i = 0; i < 20; i++)
		mq_pump(&q, 5);
	if (q.dups != 0) {
		fail(o, "mosquitto: %d duplicate acks", q.dups);
		goto out;
	}
	o->server_cpu_ms = (harness_proc_cpu_ms(pid) - cpu0) / cfg->rounds;
	rc = 0;
out:
	if (pid > 0) {
		o->server_rss_kib = harness_proc_status_kib(pid, "VmHWM:");
		stop_server(pid);
	}
	/*
	 * The clients are left to the process exit, like the nng sockets
	 * in bench.c: their sockets are already closed by the server.
	 */
	for (int k = 0; k < nkids; k++) {
		kill(kids[k], SIGKILL);
		waitpid(kids[k], NULL, 0);
	}
	free(payload);
	return rc;
}

#else

int
peer_mqtt_run(const struct peer_cfg *cfg, struct peer_out *o)
{
	(void)cfg;
	fail(o, "mosquitto: art17-bench was built without libmosquitto "
	        "(install libmosquitto-dev and rebuild)");
	return -1;
}

#endif

/* ------------------------------------------------------------ NATS */

#ifdef A17_BENCH_NATS

struct nm {
	natsConnection *nc;
	jsCtx *js;
	natsSubscription *sub;
	int idx;
	struct ns *s;
};

struct ns {
	int n;
	int port;
	struct nm *m; /* [n] */
	_Atomic uint32_t *seen;
	atomic_int acks, dups, errors;
	atomic_uint round;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	atomic_int next; /* set-up: the next member to create */
	int verbose;
	char err[160];
};

static void
nm_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
          void *closure)
{
	struct nm *m = closure;
	char rep[32];
	natsStatus st;
	int len;

	(void)sub;
	len = snprintf(
	    rep, sizeof(rep), "%d %u", m->idx,
	    payload_round(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
	/* the server has processed the ack before the issuer hears of it */
	st = natsMsg_AckSync(msg, NULL, NULL);
	if (st == NATS_OK)
		st = natsConnection_Publish(nc, "bench.ack", rep, len);
	if (st != NATS_OK) {
		atomic_fetch_add(&m->s->errors, 1);
		if (m->s->verbose)
			fprintf(stderr, "nats member %d: %s\n", m->idx,
			        natsStatus_GetText(st));
	}
	natsMsg_Destroy(msg);
}

static void
ns_on_ack(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
          void *closure)
{
	struct ns *s = closure;
	char buf[32];
	int len = natsMsg_GetDataLength(msg), idx;
	unsigned r;

	(void)nc;
	(void)sub;
	if (len > 31)
		len = 31;
	memcpy(buf, natsMsg_GetData(msg), (size_t)len);
	buf[len] = '\0';
	natsMsg_Destroy(msg);
	if (sscanf(buf, "%d %u", &idx, &r) != 2 || idx < 0 || idx >= s->n) {
		atomic_fetch_add(&s->errors, 1);
		return;
	}
	if (r != atomic_load(&s->round))
		return;
	if (atomic_exchange(&s->seen[idx], r) == r) {
		atomic_fetch_add(&s->dups, 1);
		return;
	}
	if (atomic_fetch_add(&s->acks, 1) + 1 == s->n) {
		pthread_mutex_lock(&s->mtx);
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mtx);
	}
}

/*
 * JetStream calls (publish, AckSync, consumer creation) wait up to 60 s
 * instead of libnats' 5 s: a 10,000-member round on a busy machine can
 * keep a PubAck waiting that long, and the round's own timeout decides.
 */
static jsOptions ns_jo;

static void
ns_jsopts_init(void)
{
	jsOptions_Init(&ns_jo);
	ns_jo.Wait = PEER_ROUND_TIMEOUT_MS;
}

static jsOptions *
ns_jsopts(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, ns_jsopts_init);
	return &ns_jo;
}

static natsStatus
ns_connect(struct ns *s, natsConnection **nc)
{
	natsOptions *opts = NULL;
	char url[64];
	natsStatus st;

	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", s->port);
	st = natsOptions_Create(&opts);
	if (st == NATS_OK)
		st = natsOptions_SetURL(opts, url);
	if (st == NATS_OK)
		st = natsOptions_SetAllowReconnect(opts, false);
	if (st == NATS_OK)
		st = natsOptions_SetTimeout(opts, 20000);
	if (st == NATS_OK)
		st = natsOptions_SetIOBufSize(opts, 8192);
	if (st == NATS_OK)
		st = natsOptions_UseGlobalMessageDelivery(opts, true);
	if (st == NATS_OK)
		st = natsConnection_Connect(nc, opts);
	natsOptions_Destroy(opts);
	return st;
}

/* One set-up thread: connects members and creates their consumers. */
static void *
ns_setup(void *arg)
{
	struct ns *s = arg;
	int i;

	while ((i = atomic_fetch_add(&s->next, 1)) < s->n) {
		struct nm *m = &s->m[i];
		jsSubOptions so;
		jsErrCode jerr = 0;
		char durable[32];
		natsStatus st;

		m->idx = i;
		m->s = s;
		snprintf(durable, sizeof(durable), "m%d", i);
		st = ns_connect(s, &m->nc);
		if (st == NATS_OK)
			st = natsConnection_JetStream(&m->js, m->nc,
			                              ns_jsopts());
		if (st == NATS_OK) {
			jsSubOptions_Init(&so);
			so.Stream = "REQ";
			so.ManualAck = true;
			so.Config.Durable = durable;
			so.Config.AckPolicy = js_AckExplicit;
			so.Config.DeliverPolicy = js_DeliverNew;
			st = js_Subscribe(&m->sub, m->js, "req.all", nm_on_msg,
			                  m, NULL, &so, &jerr);
		}
		if (st != NATS_OK) {
			if (atomic_fetch_add(&s->errors, 1) == 0)
				snprintf(s->err, sizeof(s->err),
				         "member %d: %s (JetStream error %d)",
				         i, natsStatus_GetText(st), (int)jerr);
			break;
		}
	}
	return NULL;
}

int
peer_nats_run(const struct peer_cfg *cfg, struct peer_out *o)
{
	char conf[1024], log[1024], datadir[1024];
	const char *exe = find_exe("nats-server");
	struct ns s;
	natsConnection *inc = NULL;
	natsSubscription *isub = NULL;
	jsCtx *ijs = NULL;
	uint8_t *payload = NULL;
	pid_t pid = -1;
	double cpu0 = 0;
	int rc = -1;
	pthread_attr_t ta;
	FILE *f;

	memset(&s, 0, sizeof(s));
	s.n = cfg->n;
	s.verbose = cfg->verbose;
	pthread_mutex_init(&s.mtx, NULL);
	pthread_cond_init(&s.cv, NULL);
	o->n_ok = 0;
	if (exe == NULL) {
		fail(o, "nats: nats-server is not installed (Debian package "
		        "nats-server); JetStream cannot be run");
		return -1;
	}
	/*
	 * libnats runs two threads per connection: keep their stacks small
	 * so that 10,000 members fit in one process.
	 */
	if (pthread_attr_init(&ta) == 0) {
		pthread_attr_setstacksize(&ta, 256 * 1024);
		pthread_setattr_default_np(&ta);
		pthread_attr_destroy(&ta);
	}
	s.port = harness_free_port();
	snprintf(datadir, sizeof(datadir), "%s/nats", cfg->dir);
	snprintf(conf, sizeof(conf), "%s/nats.conf", cfg->dir);
	snprintf(log, sizeof(log), "%s/nats.log", cfg->dir);
	if ((f = fopen(conf, "w")) == NULL) {
		fail(o, "nats: cannot write %s", conf);
		return -1;
	}
	fprintf(f,
	        "listen: 127.0.0.1:%d\n"
	        "max_connections: 100000\n"
	        "jetstream {\n"
	        "  store_dir: \"%s\"\n"
	        "  max_memory_store: 268435456\n"
	        "  max_file_store: 4294967296\n"
	        "}\n",
	        s.port, datadir);
	fclose(f);
	{
		char *argv[] = {(char *)exe, "-c", conf, NULL};

		if ((pid = harness_spawn(argv, log, 1, NULL, NULL)) < 0 ||
		    wait_listening(s.port, pid, 15000) != 0) {
			fail(o, "nats: the server did not start (see %s)", log);
			goto out;
		}
	}
	nats_SetMessageDeliveryPoolSize(64);
	s.m = calloc((size_t)s.n, sizeof(*s.m));
	s.seen = calloc((size_t)s.n, sizeof(*s.seen));
	payload = malloc((size_t)cfg->payload);
	if (s.m == NULL || s.seen == NULL || payload == NULL) {
		fail(o, "nats: out of memory");
		goto out;
	}
	{
		natsStatus st = ns_connect(&s, &inc);
		jsStreamConfig sc;
		jsErrCode jerr = 0;
		const char *subj[] = {"req.>"};

		if (st == NATS_OK)
			st = natsConnection_JetStream(&ijs, inc, ns_jsopts());
		if (st == NATS_OK) {
			jsStreamConfig_Init(&sc);
			sc.Name = "REQ";
			sc.Subjects = subj;
			sc.SubjectsLen = 1;
			sc.Storage = js_FileStorage;
			st = js_AddStream(NULL, ijs, &sc, NULL, &jerr);
		}
		if (st == NATS_OK)
			st = natsConnection_Subscribe(&isub, inc, "bench.ack",
			                              ns_on_ack, &s);
		if (st == NATS_OK)
			st = natsSubscription_SetPendingLimits(isub, -1, -1);
		if (st != NATS_OK) {
			fail(o, "nats: issuer set-up: %s (JetStream error %d)",
			     natsStatus_GetText(st), (int)jerr);
			goto out;
		}
	}
	{
		pthread_t th[8];
		int nth = s.n < 8 ? 1 : 8;

		for (int i = 0; i < nth; i++)
			pthread_create(&th[i], NULL, ns_setup, &s);
		for (int i = 0; i < nth; i++)
			pthread_join(th[i], NULL);
		if (atomic_load(&s.errors) != 0) {
			fail(o, "nats: set-up failed: %s", s.err);
			goto out;
		}
	}
	for (int r = 0; r <= cfg->rounds; r++) {
		jsPubAck *pa = NULL;
		jsErrCode jerr = 0;
		int64_t t0;
		struct timespec dl;
		natsStatus st;

		pause_ms(cfg->settle_ms);
		atomic_store(&s.acks, 0);
		atomic_store(&s.round, (unsigned)r + 1);
		if (r == 1)
			cpu0 = harness_proc_cpu_ms(pid);
		fill_payload(payload, cfg->payload, (uint32_t)r + 1);
		t0 = now_ns();
		st = js_Publish(&pa, ijs, "req.all", payload, cfg->payload,
		                NULL, &jerr);
		jsPubAck_Destroy(pa);
		if (st != NATS_OK) {
			fail(o,
			     "nats: round %d: publish: %s (JetStream error %d)",
			     r, natsStatus_GetText(st), (int)jerr);
			goto out;
		}
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += PEER_ROUND_TIMEOUT_MS / 1000;
		pthread_mutex_lock(&s.mtx);
		while (atomic_load(&s.acks) < s.n &&
		       atomic_load(&s.errors) == 0)
			if (pthread_cond_timedwait(&s.cv, &s.mtx, &dl) ==
			    ETIMEDOUT)
				break;
		pthread_mutex_unlock(&s.mtx);
		if (atomic_load(&s.acks) < s.n) {
			fail(o,
			     "nats: round %d: %d of %d acks at the issuer, %d "
			     "errors",
			     r, atomic_load(&s.acks), s.n,
			     atomic_load(&s.errors));
			goto out;
		}
		if (r > 0)
			o->ms[o->n_ok++] = (double)(now_ns() - t0) / 1e6;
	}
	pause_ms(100);
	if (atomic_load(&s.dups) != 0 || atomic_load(&s.errors) != 0) {
		fail(o, "nats: %d duplicate acks, %d errors",
		     atomic_load(&s.dups), atomic_load(&s.errors));
		goto out;
	}
	o->server_cpu_ms = (harness_proc_cpu_ms(pid) - cpu0) / cfg->rounds;
	rc = 0;
out:
	if (pid > 0) {
		o->server_rss_kib = harness_proc_status_kib(pid, "VmHWM:");
		stop_server(pid);
	}
	/* connections are left to the process exit (the server is gone) */
	free(payload);
	return rc;
}

#else

int
peer_nats_run(const struct peer_cfg *cfg, struct peer_out *o)
{
	(void)cfg;
	fail(o, "nats: art17-bench was built without libnats (install "
	        "libnats-dev and rebuild)");
	return -1;
}

#endif
