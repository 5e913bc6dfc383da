/*
 * art17-bench: the fan-out benchmark.
 *
 *   art17-bench fanout [-n N] [--rounds R] [--bin DIR] [--keep] [--check]
 *
 * In one run it measures, side by side:
 *
 *  floor-tcp, floor-tls  The bare-nng floor: an in-process REP server that
 *                        holds one context per outstanding poll, and N REQ
 *                        clients (same nng, same loopback; no crypto in
 *                        the messages, no disk). At t0 the server completes
 *                        every held poll with a 1 KiB payload; each client
 *                        acks; t1 = the server has received all N acks.
 *  art17                 The real art17-broker (child process, fsync on)
 *                        and N simulated agents (tools/simagent.c) over
 *                        mutual TLS. t0 = the coordinator issues one
 *                        request on the admin socket; t1 = the last agent
 *                        got ReceiptOk for its copy, which the broker sends
 *                        only after the commit holding the receipt returned.
 *
 * See docs/benchmarks.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "bench_ingest.h"
#include "bench_peers.h"
#include "crypto.h"
#include "err.h"
#include "simagent.h"
#include "wire.h"
#include "harness.h"

#define PAYLOAD_LEN      1024
#define ROUND_TIMEOUT_MS 60000
#define CONNECT_BURST    32 /* TLS handshakes in flight while connecting */
#define MAX_AGENTS       10000
#define COORD_NAME       "bench"
#define AGENT_CERT_NAME  "bench"
#define REAL_AGENT       "real1" /* the one real art17-agent */
#define TMP_LEN          256     /* the temporary directory */
#define PATH_LEN         1024    /* paths below it */

struct opts {
	int n;
	int rounds;
	const char *bin;
	int keep;
	int check;
	int settle_ms;
	int verbose;
	const char *only; /* NULL, "floor", "art17" or "peers" */
	int ack_delay_ms;
	long restart_deliveries; /* 0: no restart measurement */
	long ingest;             /* feedback records; 0: no ingest figure */
};

/* Results of one measured series, in milliseconds. */
struct series {
	const char *name;
	double *ms; /* measured rounds only */
	int n;
	int ok;
	int skipped;
	double rss_kib; /* peak RSS of the server process; 0: none */
	char fail[256]; /* where it failed, for the peers */
};

static char g_tmp[TMP_LEN];
static pid_t g_broker = -1;

/* ------------------------------------------------------------ helpers */

static void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
msg(const char *fmt, ...)
{
	va_list ap;

	fputs("art17-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double
ns_to_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			msg("cannot raise the open-file limit: %s",
			    strerror(errno));
	}
}

static long
nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

static int
is_exec(const char *path)
{
	return access(path, X_OK) == 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
rm_rf(const char *path)
{
	nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* A free TCP port on 127.0.0.1 (the kernel picks; tiny race accepted). */
/* Waits for pid up to timeout_ms; 0 and *status, or -1 on timeout. */
/* Runs argv to completion (30 s at most); 0 when it exited 0. */
static int
run(char *const argv[], const char *logpath)
{
	pid_t pid = harness_spawn(argv, logpath, 1, NULL, NULL);
	int status;

	if (pid < 0)
		return -1;
	if (harness_wait_pid(pid, 30000, &status) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		msg("%s: timed out", argv[0]);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		msg("%s %s failed (see %s)", argv[0], argv[1], logpath);
		return -1;
	}
	return 0;
}

static void
tail_file(const char *path, int lines)
{
	char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;
	int seen = 0;

	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0) {
		long sz = ftell(f);

		fseek(f,
		      sz > (long)sizeof(buf) - 1 ? sz - (long)sizeof(buf) + 1
		                                 : 0,
		      SEEK_SET);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0) {
		if (buf[n - 1] == '\n' && n < strlen(buf) && ++seen > lines)
			break;
		n--;
	}
	fprintf(stderr, "---- %s (last lines)\n%s", path, buf + n);
}

static int
file_contains(const char *path, const char *needle)
{
	char buf[8192];
	FILE *f = fopen(path, "r");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(buf, sizeof(buf), f) != NULL)
		found = strstr(buf, needle) != NULL;
	fclose(f);
	return found;
}

/* CPU time (user+system) of pid in ms, from /proc; -1 if unknown. */
/* A "Name: N kB" field of /proc/pid/status in KiB, 0 if unknown. */
/* Peak resident set (VmHWM) of pid in KiB, 0 if unknown. */
static double
peak_rss_kib(pid_t pid)
{
	return harness_proc_status_kib(pid, "VmHWM:");
}

static double
self_cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of v[0..n-1] (sorted in place). */
static double
pct(double *v, int n, double q)
{
	int k;

	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	k = (int)((q * n) + 0.999999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

/* ------------------------------------------------------------ the floor */

enum { FS_RECV = 1, FS_HELD, FS_SEND };
enum { FC_SEND_POLL = 1, FC_RECV_PAYLOAD, FC_SEND_ACK, FC_RECV_OK };

struct floor;

typedef struct fsctx {
	struct floor *f;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	struct fsctx *next_held;
} fsctx;

typedef struct fcli {
	struct floor *f;
	nng_socket sock;
	nng_dialer dialer;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	int opened;
	int up;
} fcli;

struct floor {
	int n;
	nng_socket srv;
	int srv_open;
	nng_listener listener;
	fsctx *sc;
	size_t nsc;
	fcli *cl;
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	fsctx *held;
	int n_held;
	int acks;
	int n_up; /* clients whose first poll went out (connected) */
	int64_t t1;
	uint64_t errors;
	atomic_int stopping;
};

static void
floor_signal(struct floor *f)
{
	pthread_cond_broadcast(&f->cv);
}

static void
fs_cb(void *arg)
{
	fsctx *s = arg;
	struct floor *f = s->f;
	int rv = nng_aio_result(s->aio);
	nng_msg *m;

	if (atomic_load(&f->stopping)) {
		if ((s->state == FS_RECV && rv == 0) ||
		    (s->state == FS_SEND && rv != 0))
			nng_msg_free(nng_aio_get_msg(s->aio));
		return;
	}
	if (s->state == FS_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(s->aio));
			pthread_mutex_lock(&f->mtx);
			f->errors++;
			pthread_mutex_unlock(&f->mtx);
		}
		s->state = FS_RECV;
		nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	/* FS_RECV */
	if (rv != 0) {
		pthread_mutex_lock(&f->mtx);
		f->errors++;
		pthread_mutex_unlock(&f->mtx);
		nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	m = nng_aio_get_msg(s->aio);
	if (nng_msg_len(m) >= 1 && ((char *)nng_msg_body(m))[0] == 'P') {
		/* a poll: hold it */
		nng_msg_free(m);
		pthread_mutex_lock(&f->mtx);
		s->state = FS_HELD;
		s->next_held = f->held;
		f->held = s;
		f->n_held++;
		floor_signal(f);
		pthread_mutex_unlock(&f->mtx);
		return;
	}
	/* an ack: count it, answer it */
	pthread_mutex_lock(&f->mtx);
	if (++f->acks == f->n)
		f->t1 = sim_now_ns();
	floor_signal(f);
	pthread_mutex_unlock(&f->mtx);
	nng_msg_clear(m);
	nng_msg_append(m, "K", 1);
	s->state = FS_SEND;
	nng_aio_set_msg(s->aio, m);
	nng_ctx_send(s->ctx, s->aio);
}

static void
fc_send(fcli *c, const void *data, size_t len, int state)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, data, len) != 0) {
		/* out of memory in a benchmark: give up on this client */
		pthread_mutex_lock(&c->f->mtx);
		c->f->errors++;
		pthread_mutex_unlock(&c->f->mtx);
		return;
	}
	c->state = state;
	nng_aio_set_msg(c->aio, m);
	nng_aio_set_timeout(c->aio, 120000);
	nng_ctx_send(c->ctx, c->aio);
}

static void
fc_cb(void *arg)
{
	fcli *c = arg;
	struct floor *f = c->f;
	int rv = nng_aio_result(c->aio);
	nng_msg *m;

	if (atomic_load(&f->stopping)) {
		if (((c->state == FC_SEND_POLL || c->state == FC_SEND_ACK) &&
		     rv != 0) ||
		    ((c->state == FC_RECV_PAYLOAD || c->state == FC_RECV_OK) &&
		     rv == 0))
			nng_msg_free(nng_aio_get_msg(c->aio));
		return;
	}
	if (rv != 0) {
		if (c->state == FC_SEND_POLL || c->state == FC_SEND_ACK)
			nng_msg_free(nng_aio_get_msg(c->aio));
		pthread_mutex_lock(&f->mtx);
		f->errors++;
		pthread_mutex_unlock(&f->mtx);
		fc_send(c, "P", 1, FC_SEND_POLL);
		return;
	}
	if (c->state == FC_SEND_POLL && !c->up) {
		c->up = 1;
		pthread_mutex_lock(&f->mtx);
		f->n_up++;
		floor_signal(f);
		pthread_mutex_unlock(&f->mtx);
	}
	switch (c->state) {
	case FC_SEND_POLL:
	case FC_SEND_ACK:
		c->state =
		    c->state == FC_SEND_POLL ? FC_RECV_PAYLOAD : FC_RECV_OK;
		nng_aio_set_timeout(c->aio, 120000);
		nng_ctx_recv(c->ctx, c->aio);
		return;
	case FC_RECV_PAYLOAD:
		m = nng_aio_get_msg(c->aio);
		if (nng_msg_len(m) != PAYLOAD_LEN) {
			pthread_mutex_lock(&f->mtx);
			f->errors++;
			pthread_mutex_unlock(&f->mtx);
		}
		nng_msg_free(m);
		fc_send(c, "A", 1, FC_SEND_ACK);
		return;
	default: /* FC_RECV_OK */
		nng_msg_free(nng_aio_get_msg(c->aio));
		fc_send(c, "P", 1, FC_SEND_POLL);
		return;
	}
}

static int
floor_tls_configs(const char *pki, nng_tls_config **srv, nng_tls_config **cli)
{
	char ca[PATH_LEN], scert[PATH_LEN], ccert[PATH_LEN];
	int rv;

	snprintf(ca, sizeof(ca), "%s/ca/ca.crt", pki);
	snprintf(scert, sizeof(scert), "%s/broker/tls.pem", pki);
	snprintf(ccert, sizeof(ccert), "%s/agents/%s/tls.pem", pki,
	         AGENT_CERT_NAME);
	if ((rv = nng_tls_config_alloc(srv, NNG_TLS_MODE_SERVER)) != 0 ||
	    (rv = nng_tls_config_auth_mode(*srv, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	        0 ||
	    (rv = nng_tls_config_ca_file(*srv, ca)) != 0 ||
	    (rv = nng_tls_config_cert_key_file(*srv, scert, NULL)) != 0 ||
	    (rv = nng_tls_config_alloc(cli, NNG_TLS_MODE_CLIENT)) != 0 ||
	    (rv = nng_tls_config_auth_mode(*cli, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	        0 ||
	    (rv = nng_tls_config_ca_file(*cli, ca)) != 0 ||
	    (rv = nng_tls_config_cert_key_file(*cli, ccert, NULL)) != 0 ||
	    (rv = nng_tls_config_server_name(*cli, "localhost")) != 0) {
		msg("floor TLS setup: %s", nng_strerror(rv));
		return -1;
	}
	return 0;
}

struct floor_wait {
	int want_held;
	int want_acks;
	int want_up;
};

/* Waits under f->mtx until the condition holds; 0 or -1 on timeout. */
static int
floor_wait(struct floor *f, const struct floor_wait *w, int timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->mtx);
	while (!((w->want_held < 0 || f->n_held >= w->want_held) &&
	         (w->want_acks < 0 || f->acks >= w->want_acks) &&
	         (w->want_up <= 0 || f->n_up >= w->want_up))) {
		if (pthread_cond_timedwait(&f->cv, &f->mtx, &ts) != 0) {
			rv = -1;
			break;
		}
	}
	pthread_mutex_unlock(&f->mtx);
	return rv;
}

static int
floor_start_client(struct floor *f, nng_tls_config *ctls, const char *url,
                   int i)
{
	fcli *c = &f->cl[i];
	int rv;

	c->f = f;
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		msg("floor: client %d: %s", i, nng_strerror(rv));
		return -1;
	}
	c->opened = 1;
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 2000);
	if ((rv = nng_dialer_create(&c->dialer, c->sock, url)) != 0 ||
	    (ctls != NULL && (rv = nng_dialer_set_ptr(
	                          c->dialer, NNG_OPT_TLS_CONFIG, ctls)) != 0) ||
	    (rv = nng_ctx_open(&c->ctx, c->sock)) != 0 ||
	    (rv = nng_aio_alloc(&c->aio, fc_cb, c)) != 0 ||
	    (rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		msg("floor: client %d: %s", i, nng_strerror(rv));
		return -1;
	}
	nng_ctx_set_ms(c->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	fc_send(c, "P", 1, FC_SEND_POLL);
	return 0;
}

/*
 * Runs the floor over tcp (pki == NULL) or TLS. Fills s->ms with the
 * measured rounds (after one warm-up).
 */
static void
floor_init(struct floor *f, int n)
{
	pthread_condattr_t ca;

	f->n = n;
	pthread_mutex_init(&f->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&f->stopping, 0);
}

/*
 * The floor's N clients in a process of their own, for when both ends do
 * not fit in one process's open-file limit (N = 10,000 with 20,000 files).
 * Reads the server's port from rfd, connects the clients paced like the
 * agents, and then serves polls until the phase's process kills it.
 */
static void
floor_clients_main(const struct opts *o, const char *pki, int rfd)
{
	struct floor *f = calloc(1, sizeof(*f));
	nng_tls_config *stls = NULL, *ctls = NULL;
	char url[128];
	int port = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (f == NULL ||
	    (f->cl = calloc((size_t)o->n, sizeof(*f->cl))) == NULL ||
	    read(rfd, &port, sizeof(port)) != (ssize_t)sizeof(port) ||
	    port <= 0)
		_exit(1);
	floor_init(f, o->n);
	if (pki != NULL && floor_tls_configs(pki, &stls, &ctls) != 0)
		_exit(1);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", pki ? "tls+tcp" : "tcp",
	         port);
	for (int i = 0; i < o->n; i++) {
		struct floor_wait w = {-1, -1, i - CONNECT_BURST + 1};

		if (floor_wait(f, &w, ROUND_TIMEOUT_MS) != 0) {
			msg("floor clients: only %d of %d connected after %d s",
			    f->n_up, i, ROUND_TIMEOUT_MS / 1000);
			_exit(1);
		}
		if (floor_start_client(f, ctls, url, i) != 0)
			_exit(1);
	}
	for (;;)
		pause();
}

static int
run_floor(const struct opts *o, const char *pki, struct series *s)
{
	struct floor *f;
	nng_tls_config *stls = NULL, *ctls = NULL;
	char url[128];
	int port = 0, rv, ok = 0, split = 0, pfd[2] = {-1, -1};
	pid_t kids = -1;

	/* both ends in this process: 2 fds per client, plus slack */
	if (nofile_limit() < 2L * o->n + 256) {
		if (nofile_limit() < (long)o->n + 256) {
			msg("%s: needs %d open files per process; the limit is "
			    "%ld",
			    s->name, o->n + 256, nofile_limit());
			return -1;
		}
		/* before any nng call: nng's threads do not survive fork */
		if (pipe(pfd) != 0 || (kids = fork()) < 0) {
			msg("floor: fork: %s", strerror(errno));
			return -1;
		}
		if (kids == 0) {
			close(pfd[1]);
			floor_clients_main(o, pki, pfd[0]);
			_exit(1);
		}
		close(pfd[0]);
		split = 1;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		msg("out of memory");
		return -1;
	}
	floor_init(f, o->n);
	f->nsc = (size_t)o->n + 64;
	f->sc = calloc(f->nsc, sizeof(*f->sc));
	f->cl = calloc((size_t)o->n, sizeof(*f->cl));
	if (f->sc == NULL || f->cl == NULL) {
		msg("out of memory");
		goto out;
	}
	if (pki != NULL && floor_tls_configs(pki, &stls, &ctls) != 0)
		goto out;

	if ((rv = nng_rep0_open(&f->srv)) != 0) {
		msg("floor: %s", nng_strerror(rv));
		goto out;
	}
	f->srv_open = 1;
	snprintf(url, sizeof(url), "%s://127.0.0.1:0", pki ? "tls+tcp" : "tcp");
	if ((rv = nng_listener_create(&f->listener, f->srv, url)) != 0 ||
	    (stls != NULL &&
	     (rv = nng_listener_set_ptr(f->listener, NNG_OPT_TLS_CONFIG,
	                                stls)) != 0) ||
	    (rv = nng_listener_start(f->listener, 0)) != 0 ||
	    (rv = nng_listener_get_int(f->listener, NNG_OPT_TCP_BOUND_PORT,
	                               &port)) != 0) {
		msg("floor: listen %s: %s", url, nng_strerror(rv));
		goto out;
	}
	for (size_t i = 0; i < f->nsc; i++) {
		fsctx *c = &f->sc[i];

		c->f = f;
		c->state = FS_RECV;
		if ((rv = nng_aio_alloc(&c->aio, fs_cb, c)) != 0 ||
		    (rv = nng_ctx_open(&c->ctx, f->srv)) != 0) {
			msg("floor: server context: %s", nng_strerror(rv));
			goto out;
		}
		nng_ctx_recv(c->ctx, c->aio);
	}
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d", pki ? "tls+tcp" : "tcp",
	         port);
	if (split) {
		struct floor_wait w = {o->n, -1, 0};

		if (write(pfd[1], &port, sizeof(port)) != (ssize_t)sizeof(port))
			goto out;
		if (floor_wait(f, &w, ROUND_TIMEOUT_MS + o->n * 60) != 0) {
			msg("%s: only %d of %d clients polling (clients in a "
			    "process of their own)",
			    s->name, f->n_held, o->n);
			goto out;
		}
	}
	/* paced like the agents: at most CONNECT_BURST not yet polling */
	for (int i = 0; !split && i < o->n; i++) {
		struct floor_wait w = {i - CONNECT_BURST + 1, -1, 0};

		if (floor_wait(f, &w, ROUND_TIMEOUT_MS) != 0) {
			msg("%s: only %d of %d clients connected after %d s",
			    s->name, f->n_held, i, ROUND_TIMEOUT_MS / 1000);
			goto out;
		}
		if (floor_start_client(f, ctls, url, i) != 0)
			goto out;
	}

	for (int r = 0; r <= o->rounds; r++) {
		struct floor_wait w = {o->n, -1, 0};
		fsctx *h;
		int64_t t0;

		if (floor_wait(f, &w, ROUND_TIMEOUT_MS) != 0) {
			msg("%s: only %d of %d polls held after %d s", s->name,
			    f->n_held, o->n, ROUND_TIMEOUT_MS / 1000);
			goto out;
		}
		pthread_mutex_lock(&f->mtx);
		h = f->held;
		f->held = NULL;
		f->n_held = 0;
		f->acks = 0;
		f->t1 = 0;
		t0 = sim_now_ns();
		pthread_mutex_unlock(&f->mtx);
		while (h != NULL) {
			fsctx *next = h->next_held;
			nng_msg *m;

			if (nng_msg_alloc(&m, PAYLOAD_LEN) != 0) {
				msg("out of memory");
				goto out;
			}
			memset(nng_msg_body(m), 'x', PAYLOAD_LEN);
			h->state = FS_SEND;
			nng_aio_set_msg(h->aio, m);
			nng_ctx_send(h->ctx, h->aio);
			h = next;
		}
		w.want_held = -1;
		w.want_acks = o->n;
		if (floor_wait(f, &w, ROUND_TIMEOUT_MS) != 0) {
			msg("%s: only %d of %d acks after %d s", s->name,
			    f->acks, o->n, ROUND_TIMEOUT_MS / 1000);
			goto out;
		}
		if (r > 0)
			s->ms[s->n++] = ns_to_ms(f->t1 - t0);
	}
	pthread_mutex_lock(&f->mtx);
	if (f->errors != 0)
		msg("%s: %llu transport errors", s->name,
		    (unsigned long long)f->errors);
	else
		ok = 1;
	pthread_mutex_unlock(&f->mtx);
out:
	/* Nothing is closed or freed: the phase runs in a process of its
	 * own, which exits next (see run_phase). */
	if (kids > 0) {
		kill(kids, SIGKILL);
		waitpid(kids, NULL, 0);
	}
	s->ok = ok;
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------ admin */

struct admin {
	nng_socket sock;
	int open; /* closed by the phase's process exit */
	a17_key *key;
};

static int
admin_keyfn(void *arg, const uint8_t *kid, size_t len, const a17_key **k)
{
	(void)arg;
	(void)kid;
	(void)len;
	*k = NULL;
	return A17_EUNKNOWNKEY; /* replies are unsigned */
}

static int
admin_open(struct admin *ad, const char *datadir, const char *pki)
{
	char path[PATH_LEN], url[PATH_LEN + 32];
	int rv;

	snprintf(path, sizeof(path), "%s/coordinators/%s/id.key", pki,
	         COORD_NAME);
	if ((rv = crypto_key_load(path, &ad->key)) != 0) {
		msg("coordinator key %s: %s", path, a17_strerror(rv));
		return -1;
	}
	snprintf(url, sizeof(url), "ipc://%s/admin.sock", datadir);
	if ((rv = nng_req0_open(&ad->sock)) != 0) {
		msg("admin socket: %s", nng_strerror(rv));
		return -1;
	}
	ad->open = 1;
	/* an issue to 10,000 members on a busy machine can take a while */
	nng_socket_set_ms(ad->sock, NNG_OPT_SENDTIMEO, 120000);
	nng_socket_set_ms(ad->sock, NNG_OPT_RECVTIMEO, 120000);
	/* never resend: a resent issue is refused as the same content */
	nng_socket_set_ms(ad->sock, NNG_OPT_REQ_RESENDTIME,
	                  NNG_DURATION_INFINITE);
	nng_socket_set_size(ad->sock, NNG_OPT_RECVMAXSZ, WIRE_MAX_LOCAL);
	if ((rv = nng_dial(ad->sock, url, NULL, 0)) != 0) {
		msg("%s: %s", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

/*
 * Sends a coordinator-signed AdminRequest, as art17ctl does. On 0, *m
 * holds the reply (wire_msg_fini it) and *rep points into it.
 */
static int
admin_call(struct admin *ad, Art17__AdminRequest *req, wire_msg *m,
           Art17__AdminReply **rep)
{
	Art17__Body body = ART17__BODY__INIT;
	Art17__Header hdr;
	uint8_t id[WIRE_MSGID_LEN];
	uint8_t *out;
	size_t outlen;
	nng_msg *nm;
	int rv;

	*rep = NULL;
	wire_header_init(&hdr, id, ART17__MSG_KIND__MSG_ADMIN, COORD_NAME, 0);
	body.hdr = &hdr;
	body.payload_case = ART17__BODY__PAYLOAD_ADMIN;
	body.admin = req;
	if ((rv = wire_seal(&body, ad->key, &out, &outlen)) != 0) {
		msg("admin request: %s", a17_strerror(rv));
		return -1;
	}
	rv = nng_send(ad->sock, out, outlen, 0);
	free(out);
	if (rv != 0) {
		msg("admin send: %s", nng_strerror(rv));
		return -1;
	}
	if ((rv = nng_recvmsg(ad->sock, &nm, 0)) != 0) {
		msg("admin reply: %s", nng_strerror(rv));
		return -1;
	}
	/* an issue to 10,000 members has a reply over WIRE_MAX_MSG */
	rv = wire_open(nng_msg_body(nm), nng_msg_len(nm), WIRE_MAX_LOCAL,
	               admin_keyfn, NULL, WIRE_F_ALLOW_UNSIGNED | WIRE_F_LOCAL,
	               m);
	nng_msg_free(nm); /* the body was copied by wire_open if needed */
	if (rv != 0) {
		msg("admin reply: %s", a17_strerror(rv));
		return -1;
	}
	if (m->body->payload_case == ART17__BODY__PAYLOAD_ERROR) {
		msg("admin: refused: %s %s", m->body->error->msg_code,
		    m->body->error->detail);
		wire_msg_fini(m);
		return -1;
	}
	if (m->body->payload_case != ART17__BODY__PAYLOAD_ADMIN_REPLY ||
	    m->body->admin_reply == NULL) {
		msg("admin: unexpected reply");
		wire_msg_fini(m);
		return -1;
	}
	if (m->body->admin_reply->code != ART17__ERR_CODE__ERR_UNSPECIFIED) {
		msg("admin: refused: %s %s", m->body->admin_reply->msg_code,
		    m->body->admin_reply->detail);
		wire_msg_fini(m);
		return -1;
	}
	*rep = m->body->admin_reply;
	return 0;
}

static int
admin_member_add(struct admin *ad, const char *id, const a17_key *k)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__MemberRecord rec = ART17__MEMBER_RECORD__INIT;
	Art17__AdminReply *rep;
	uint8_t pub[A17_PUBKEY_LEN];
	char name[96];
	wire_msg m;

	if (crypto_key_raw_public(k, pub) != 0)
		return -1;
	snprintf(name, sizeof(name), "Benchmark member %s", id);
	rec.member_id = (char *)id;
	rec.name = name;
	rec.member_class = ART17__MEMBER_CLASS__CLASS_GENERAL;
	rec.category = ART17__CATEGORY__CAT_OTHER;
	rec.id_pub.data = pub;
	rec.id_pub.len = sizeof(pub);
	req.op_case = ART17__ADMIN_REQUEST__OP_MEMBER_ADD;
	req.member_add = &rec;
	if (admin_call(ad, &req, &m, &rep) != 0)
		return -1;
	wire_msg_fini(&m);
	return 0;
}

/* Declares the incident the benchmark's requests are issued for. */
static int
admin_incident_declare(struct admin *ad)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IncidentDeclare d = ART17__INCIDENT_DECLARE__INIT;
	Art17__AdminReply *rep;
	wire_msg m;

	d.incident_id = "BENCH";
	d.title = "art17-bench fan-out";
	d.description = "Benchmark traffic: one information share per round.";
	req.op_case = ART17__ADMIN_REQUEST__OP_INCIDENT_DECLARE;
	req.incident_declare = &d;
	if (admin_call(ad, &req, &m, &rep) != 0)
		return -1;
	wire_msg_fini(&m);
	return 0;
}

/* Issues the round's request; fills reqid and the number of copies. */
static int
admin_issue(struct admin *ad, int round, char *reqid, size_t reqid_len,
            size_t *n_included)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__IssueRequest is = ART17__ISSUE_REQUEST__INIT;
	Art17__Marking mk = ART17__MARKING__INIT;
	Art17__AdminReply *rep;
	uint8_t content[PAYLOAD_LEN];
	char title[64];
	wire_msg m;

	memset(content, 'x', sizeof(content));
	snprintf((char *)content, sizeof(content),
	         "art17-bench fan-out round %d. ", round);
	content[strlen((char *)content)] = 'x';
	snprintf(title, sizeof(title), "Benchmark round %d", round);
	is.kind = ART17__ITEM_KIND__KIND_INFORMATION_SHARE;
	is.incident_id = "BENCH";
	is.title = title;
	is.content.data = content;
	is.content.len = sizeof(content);
	mk.tlp = ART17__TLP__TLP_AMBER;
	mk.secret = ART17__SECRET__SECRET_NO;
	mk.scope = ART17__SCOPE__SCOPE_MEMBERS;
	is.marking = &mk;
	req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_ISSUE;
	req.request_issue = &is;
	if (admin_call(ad, &req, &m, &rep) != 0)
		return -1;
	if (rep->issued == NULL || rep->issued->request_id == NULL) {
		msg("issue: no request id in the reply");
		wire_msg_fini(&m);
		return -1;
	}
	snprintf(reqid, reqid_len, "%s", rep->issued->request_id);
	*n_included = rep->issued->n_included;
	wire_msg_fini(&m);
	return 0;
}

/* ------------------------------------------------------------ art17 */

struct art17_result {
	/* per measured round, ms after t0 */
	double *total, *issue, *first_dl, *last_dl, *first_ok;
	double broker_cpu_ms, bench_cpu_ms; /* summed over measured rounds */
	double connect_s, register_s;
	uint64_t setup_errors, setup_retries; /* before the first round */
	double connect_broker_cpu_ms, connect_bench_cpu_ms;
	/* broker anonymous memory (RssAnon, KiB): members registered and no
	 * agent connected; every agent connected and polling */
	double anon_before_kib, anon_connected_kib;
	/* one real art17-agent beside the simulated ones: peak RSS, KiB,
	 * after it has stored and acknowledged one request; 0 unknown */
	double agent_rss_kib;
	double agent_anon_kib, agent_file_kib; /* RssAnon, RssFile then */
};

static atomic_int g_shown;

/* -v: prints agents' errors as they happen (the first 100). */
static void
debug_hook(void *arg, sim_agent *a, const sim_event *ev)
{
	(void)arg;
	if (ev->kind == SIM_EV_ERROR && atomic_fetch_add(&g_shown, 1) < 100)
		msg("%.3f %s: %s (%d)", (double)ev->t_ns / 1e9,
		    sim_agent_member(a), ev->text, ev->code);
}

static int
pred_ready(const sim_counts *c, void *arg)
{
	uint32_t n = *(uint32_t *)arg;

	return c->welcomed >= n && c->polling >= n;
}

static int
pred_polling(const sim_counts *c, void *arg)
{
	return c->polling >= *(uint32_t *)arg;
}

struct want_receipts {
	uint64_t receipts;
	uint64_t errors0; /* errors during set-up do not count */
};

static int
pred_receipts(const sim_counts *c, void *arg)
{
	const struct want_receipts *w = arg;

	return c->receipts_ok >= w->receipts || c->errors > w->errors0;
}

static int
wait_broker_ready(const char *log, pid_t pid, int timeout_ms)
{
	int64_t end = sim_now_ns() + (int64_t)timeout_ms * 1000000;
	int status;

	while (sim_now_ns() < end) {
		if (file_contains(log, "ready:"))
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			g_broker = -1;
			msg("the broker exited during start-up");
			return -1;
		}
		harness_sleep_ms(20);
	}
	msg("the broker was not ready after %d s", timeout_ms / 1000);
	return -1;
}

static void
stop_broker(void)
{
	int status;

	if (g_broker <= 0)
		return;
	kill(g_broker, SIGTERM);
	if (harness_wait_pid(g_broker, 20000, &status) != 0) {
		msg("the broker did not stop within 20 s: killing it");
		kill(g_broker, SIGKILL);
		waitpid(g_broker, &status, 0);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		msg("the broker exited with status %d", status);
	}
	g_broker = -1;
}

/* Prints why agents are unhappy (the first few). */
static void
report_agents(sim_pool *pool, const char *reqid)
{
	int shown = 0;

	for (size_t i = 0; i < sim_pool_size(pool) && shown < 5; i++) {
		sim_agent *a = sim_pool_agent(pool, i);
		sim_agent_stats st;
		sim_copy_rec rec;
		int have;

		sim_agent_get_stats(a, &st);
		have = reqid != NULL &&
		       sim_agent_find_copy(a, reqid, &rec) == 0 &&
		       rec.t_receipt_ok_ns != 0;
		if (st.errors == 0 && st.duplicates == 0 &&
		    (reqid == NULL || have) && st.welcomes > 0)
			continue;
		msg("  %s: welcomes %llu copies %llu dups %llu ok %llu "
		    "errors %llu%s%s",
		    sim_agent_member(a), (unsigned long long)st.welcomes,
		    (unsigned long long)st.copies,
		    (unsigned long long)st.duplicates,
		    (unsigned long long)st.receipts_ok,
		    (unsigned long long)st.errors,
		    st.last_error_text[0] ? ", last: " : "",
		    st.last_error_text);
		shown++;
	}
}

/*
 * Registers member REAL_AGENT, runs the real art17-agent for it (durable,
 * mutual TLS), issues one more request and waits until that agent's copy
 * is acked. Returns the agent's peak RSS in KiB, or 0 when any step
 * failed (said on stderr; the figure is then missing, nothing else).
 */
static double
real_agent_rss(struct admin *ad, const char *broker_bin, const char *pki,
               const char *url, uint32_t n, double *anon, double *file)
{
	char agent_bin[PATH_LEN + 64], keydir[PATH_LEN], path[PATH_LEN];
	char datadir[PATH_LEN], logpath[PATH_LEN], reqid[64];
	char *argv[] = {agent_bin, "-d", datadir,     "run", "-k",
	                keydir,    "-c", (char *)url, NULL};
	a17_key *k = NULL;
	double rss = 0;
	size_t incl = 0;
	pid_t pid = -1;
	int acked = 0;

	snprintf(path, sizeof(path), "%s", broker_bin);
	if (strrchr(path, '/') != NULL)
		*strrchr(path, '/') = '\0';
	snprintf(agent_bin, sizeof(agent_bin), "%s/../agent/art17-agent", path);
	if (!is_exec(agent_bin))
		snprintf(agent_bin, sizeof(agent_bin), "%s/art17-agent", path);
	snprintf(keydir, sizeof(keydir), "%s/agents/%s", pki, REAL_AGENT);
	snprintf(path, sizeof(path), "%.1000s/id.pub", keydir);
	snprintf(datadir, sizeof(datadir), "%s/agent-%s", g_tmp, REAL_AGENT);
	snprintf(logpath, sizeof(logpath), "%s/agent.log", g_tmp);
	if (!is_exec(agent_bin) || crypto_key_load(path, &k) != 0 ||
	    admin_member_add(ad, REAL_AGENT, k) != 0) {
		msg("agent RSS: cannot register %s or find %s", REAL_AGENT,
		    agent_bin);
		goto out;
	}
	if ((pid = harness_spawn(argv, logpath, 1, NULL, NULL)) < 0)
		goto out;
	harness_sleep_ms(2000); /* connect, hello, first poll */
	if (admin_issue(ad, 1000000, reqid, sizeof(reqid), &incl) != 0 ||
	    incl != n + 1)
		goto out;
	for (int i = 0; i < 300 && !acked; i++) {
		Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
		Art17__StatusQuery q = ART17__STATUS_QUERY__INIT;
		Art17__AdminReply *rep;
		wire_msg m;

		harness_sleep_ms(100);
		q.request_id = reqid;
		req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_STATUS;
		req.request_status = &q;
		if (admin_call(ad, &req, &m, &rep) != 0)
			break;
		for (size_t j = 0; j < rep->n_copies; j++)
			if (strcmp(rep->copies[j]->member_id, REAL_AGENT) ==
			        0 &&
			    rep->copies[j]->state ==
			        ART17__DELIVERY_STATE__DS_ACKED)
				acked = 1;
		wire_msg_fini(&m);
	}
	if (!acked) {
		msg("agent RSS: %s did not ack %s (see %s)", REAL_AGENT, reqid,
		    logpath);
		goto out;
	}
	rss = peak_rss_kib(pid);
	*anon = harness_proc_status_kib(pid, "RssAnon:");
	*file = harness_proc_status_kib(pid, "RssFile:");
out:
	if (pid > 0) {
		kill(pid, SIGTERM);
		if (harness_wait_pid(pid, 10000, NULL) != 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	crypto_key_free(k);
	return rss;
}

static int
run_art17(const struct opts *o, const char *broker_bin, const char *pki,
          struct series *s, struct art17_result *res)
{
	char datadir[PATH_LEN], logpath[PATH_LEN], listen[64], url[64];
	char path[PATH_LEN], ka[] = "60000";
	char *argv[16];
	struct admin ad;
	sim_pool *pool = NULL;
	sim_cfg cfg;
	sim_behaviour beh;
	a17_key *bkey = NULL;
	a17_key **keys = NULL;
	nng_tls_config *tls = NULL;
	uint32_t n = (uint32_t)o->n;
	int port, rv, ok = 0, ai = 0;
	uint64_t errors0 = 0;
	double cpu_b, cpu_s;
	int64_t t;

	memset(&ad, 0, sizeof(ad));
	snprintf(datadir, sizeof(datadir), "%s/data", g_tmp);
	snprintf(logpath, sizeof(logpath), "%s/broker.log", g_tmp);
	if ((port = harness_free_port()) < 0) {
		msg("no free port");
		return -1;
	}
	snprintf(listen, sizeof(listen), "tls+tcp://127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "tls+tcp://localhost:%d", port);

	/* identity keys, in-process */
	if ((keys = calloc(n, sizeof(*keys))) == NULL)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if ((rv = crypto_key_generate(&keys[i])) != 0) {
			msg("key generation: %s", a17_strerror(rv));
			goto out;
		}

	/* the broker: durable (no --nosync) */
	argv[ai++] = (char *)broker_bin;
	argv[ai++] = "-d";
	argv[ai++] = datadir;
	argv[ai++] = "-p";
	argv[ai++] = (char *)pki;
	argv[ai++] = "-l";
	argv[ai++] = listen;
	argv[ai++] = "--keepalive";
	argv[ai++] = ka;
	argv[ai] = NULL;
	if ((g_broker = harness_spawn(argv, logpath, 1, NULL, NULL)) < 0) {
		msg("cannot start %s", broker_bin);
		goto out;
	}
	if (wait_broker_ready(logpath, g_broker, 30000) != 0)
		goto out;
	if (admin_open(&ad, datadir, pki) != 0)
		goto out;

	t = sim_now_ns();
	for (uint32_t i = 0; i < n; i++) {
		char id[32];

		snprintf(id, sizeof(id), "bench-%05u", i + 1);
		if (admin_member_add(&ad, id, keys[i]) != 0)
			goto out;
	}
	res->register_s = ns_to_ms(sim_now_ns() - t) / 1000.0;
	if (admin_incident_declare(&ad) != 0)
		goto out;

	/* the simulated agents: one TLS client certificate for all */
	snprintf(path, sizeof(path), "%s/broker/sign.pub", pki);
	if ((rv = crypto_key_load(path, &bkey)) != 0) {
		msg("%s: %s", path, a17_strerror(rv));
		goto out;
	}
	{
		char ca[PATH_LEN], cert[PATH_LEN];

		snprintf(ca, sizeof(ca), "%s/agents/%s/ca.crt", pki,
		         AGENT_CERT_NAME);
		snprintf(cert, sizeof(cert), "%s/agents/%s/tls.pem", pki,
		         AGENT_CERT_NAME);
		if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT)) !=
		        0 ||
		    (rv = nng_tls_config_auth_mode(
		         tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
		    (rv = nng_tls_config_ca_file(tls, ca)) != 0 ||
		    (rv = nng_tls_config_cert_key_file(tls, cert, NULL)) != 0 ||
		    (rv = nng_tls_config_server_name(tls, "localhost")) != 0) {
			msg("agent TLS setup: %s", nng_strerror(rv));
			goto out;
		}
	}
	memset(&beh, 0, sizeof(beh));
	beh.ack_delay_ms = (uint32_t)o->ack_delay_ms;
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = url;
	cfg.tls = tls;
	cfg.broker_key = bkey;
	cfg.max_connecting = CONNECT_BURST;
	if (sim_pool_create(&cfg, &pool) != 0)
		goto out;
	if (o->verbose)
		sim_pool_set_hook(pool, debug_hook, NULL);
	for (uint32_t i = 0; i < n; i++) {
		char id[32];

		snprintf(id, sizeof(id), "bench-%05u", i + 1);
		if (sim_agent_add(pool, id, keys[i], &beh, NULL) != 0) {
			msg("out of memory");
			goto out;
		}
		keys[i] = NULL; /* the pool owns it now */
	}
	t = sim_now_ns();
	cpu_b = harness_proc_cpu_ms(g_broker);
	cpu_s = self_cpu_ms();
	res->anon_before_kib = harness_proc_status_kib(g_broker, "RssAnon:");
	if ((rv = sim_pool_start(pool, ROUND_TIMEOUT_MS)) != 0) {
		msg("starting the agents: %s", a17_strerror(rv));
		goto out;
	}
	for (int waited = 0;; waited += 5000) {
		sim_counts c;

		if (sim_pool_wait(pool, pred_ready, &n, 5000) == 0)
			break;
		sim_pool_counts(pool, &c);
		if (waited + 5000 >= 60000 + o->n * 60) {
			msg("only %u of %u agents connected and polling",
			    c.polling, n);
			report_agents(pool, NULL);
			goto out;
		}
		fprintf(stderr,
		        "art17-bench: %u of %u agents welcomed, %u polling\n",
		        c.welcomed, n, c.polling);
	}
	res->connect_s = ns_to_ms(sim_now_ns() - t) / 1000.0;
	harness_sleep_ms(500); /* let the handshakes' transient buffers go */
	res->anon_connected_kib = harness_proc_status_kib(g_broker, "RssAnon:");
	res->connect_broker_cpu_ms = harness_proc_cpu_ms(g_broker) - cpu_b;
	res->connect_bench_cpu_ms = self_cpu_ms() - cpu_s;
	{
		/* set-up (the connect storm) may see retries and errors;
		 * from the first round on, none is allowed */
		sim_counts c;

		sim_pool_counts(pool, &c);
		errors0 = c.errors;
		res->setup_errors = c.errors;
		for (uint32_t i = 0; i < n; i++) {
			sim_agent_stats st;

			sim_agent_get_stats(sim_pool_agent(pool, i), &st);
			res->setup_retries += st.connect_retries;
		}
	}

	for (int r = 0; r <= o->rounds; r++) {
		char reqid[64];
		size_t incl = 0;
		uint64_t want = (uint64_t)n * (uint64_t)(r + 1);
		struct want_receipts wr = {want, errors0};
		int64_t t0, t_issue, fdl = INT64_MAX, ldl = 0;
		int64_t fok = INT64_MAX, lok = 0;
		double bcpu0, scpu0;
		sim_counts c;

		/* every agent has a poll out; let the broker park them */
		if (sim_pool_wait(pool, pred_polling, &n, ROUND_TIMEOUT_MS) !=
		    0) {
			sim_pool_counts(pool, &c);
			msg("round %d: only %u of %u agents polling", r,
			    c.polling, n);
			report_agents(pool, NULL);
			goto out;
		}
		harness_sleep_ms(o->settle_ms);
		bcpu0 = harness_proc_cpu_ms(g_broker);
		scpu0 = self_cpu_ms();

		t0 = sim_now_ns();
		if (admin_issue(&ad, r, reqid, sizeof(reqid), &incl) != 0)
			goto out;
		t_issue = sim_now_ns();
		if (incl != n) {
			msg("round %d: %s went to %zu members, not %u", r,
			    reqid, incl, n);
			goto out;
		}
		if (sim_pool_wait(pool, pred_receipts, &wr, ROUND_TIMEOUT_MS) !=
		    0) {
			sim_pool_counts(pool, &c);
			msg("round %d: %llu of %u receipts confirmed after "
			    "%d s",
			    r, (unsigned long long)(c.receipts_ok - want + n),
			    n, ROUND_TIMEOUT_MS / 1000);
			report_agents(pool, reqid);
			goto out;
		}
		if (r > 0) {
			res->broker_cpu_ms +=
			    harness_proc_cpu_ms(g_broker) - bcpu0;
			res->bench_cpu_ms += self_cpu_ms() - scpu0;
		}
		sim_pool_counts(pool, &c);
		if (c.errors != errors0 || c.duplicates != 0 ||
		    c.copies != want) {
			msg("round %d: %llu errors, %llu duplicates, %llu "
			    "copies (want %llu)",
			    r, (unsigned long long)(c.errors - errors0),
			    (unsigned long long)c.duplicates,
			    (unsigned long long)c.copies,
			    (unsigned long long)want);
			report_agents(pool, reqid);
			goto out;
		}
		for (uint32_t i = 0; i < n; i++) {
			sim_agent *a = sim_pool_agent(pool, i);
			sim_copy_rec rec;

			if (sim_agent_find_copy(a, reqid, &rec) != 0 ||
			    rec.times != 1 || rec.t_receipt_ok_ns == 0) {
				msg("round %d: %s did not get %s exactly once "
				    "with a confirmed receipt",
				    r, sim_agent_member(a), reqid);
				goto out;
			}
			if (rec.t_deliver_ns < fdl)
				fdl = rec.t_deliver_ns;
			if (rec.t_deliver_ns > ldl)
				ldl = rec.t_deliver_ns;
			if (rec.t_receipt_ok_ns < fok)
				fok = rec.t_receipt_ok_ns;
			if (rec.t_receipt_ok_ns > lok)
				lok = rec.t_receipt_ok_ns;
		}
		if (r > 0) {
			int k = s->n++;

			s->ms[k] = ns_to_ms(lok - t0);
			res->total[k] = s->ms[k];
			res->issue[k] = ns_to_ms(t_issue - t0);
			res->first_dl[k] = ns_to_ms(fdl - t0);
			res->last_dl[k] = ns_to_ms(ldl - t0);
			res->first_ok[k] = ns_to_ms(fok - t0);
		}
	}
	ok = 1;
	res->agent_rss_kib =
	    real_agent_rss(&ad, broker_bin, pki, url, n, &res->agent_anon_kib,
	                   &res->agent_file_kib);
out:
	if (!ok && g_broker > 0)
		tail_file(logpath, 20);
	/* The agents stand still, then the broker stops. Sockets are left
	 * to the exit of this phase's process (see run_phase). */
	sim_pool_stop(pool);
	if (g_broker > 0)
		s->rss_kib = peak_rss_kib(g_broker);
	stop_broker();
	s->ok = ok;
	return ok ? 0 : -1;
}

/* ------------------------------------------------------------ report */

static void
load_average(char *out, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double a = 0, b = 0, c = 0;

	snprintf(out, len, "unknown");
	if (f == NULL)
		return;
	if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
		snprintf(out, len, "%.2f %.2f %.2f", a, b, c);
	fclose(f);
}

/* The file system type of path, for the durability note. */
static const char *
fs_name(const char *path)
{
	struct statfs sf;

	if (statfs(path, &sf) != 0)
		return "unknown file system";
	switch ((unsigned long)sf.f_type) {
	case 0xEF53UL:
		return "ext4";
	case 0x58465342UL:
		return "xfs";
	case 0x9123683EUL:
		return "btrfs";
	case 0x01021994UL:
		return "tmpfs: fsync does nothing here";
	case 0x794C7630UL:
		return "overlayfs";
	case 0x2FC12FC1UL:
		return "zfs";
	default:
		return "other file system";
	}
}

static void
cpu_model(char *out, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, len, "unknown CPU");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p;

		if (strncmp(line, "model name", 10) != 0 ||
		    (p = strchr(line, ':')) == NULL)
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		p[strcspn(p, "\n")] = '\0';
		snprintf(out, len, "%s", p);
		break;
	}
	fclose(f);
}

static void
print_line(const struct series *s, int nagents)
{
	double v[s->n > 0 ? s->n : 1];
	double p50, p99, mx;

	if (s->skipped)
		return;
	if (!s->ok || s->n == 0) {
		printf("  %-22s %9s   %s\n", s->name, "FAILED",
		       s->fail[0] ? s->fail : "(see the messages above)");
		return;
	}
	memcpy(v, s->ms, sizeof(double) * (size_t)s->n);
	p50 = pct(v, s->n, 0.50);
	p99 = pct(v, s->n, 0.99);
	mx = v[s->n - 1];
	printf("  %-22s %9.1f %9.1f %9.1f %12.0f", s->name, p50, p99, mx,
	       p50 > 0 ? nagents / (p50 / 1000.0) : 0.0);
	if (s->rss_kib > 0)
		printf(" %12.1f\n", s->rss_kib / 1024.0);
	else
		printf(" %12s\n", "-");
}

static double
p50_of(const double *src, int n)
{
	double v[n > 0 ? n : 1];

	memcpy(v, src, sizeof(double) * (size_t)(n > 0 ? n : 0));
	return pct(v, n, 0.50);
}

/* ------------------------------------------------------------ phases */

/* Everything the phases report, in memory shared with their processes. */
struct results {
	struct series ftcp, ftls, a17, mqtt, nats;
	struct art17_result res;
	double mqtt_cpu_ms, nats_cpu_ms; /* server CPU per round */
	struct restart_result {
		int ok;
		long deliveries, members;
		double fill_s;   /* issuing them all */
		double ready_ms; /* spawn -> "ready" in the log */
		double serve_ms; /* spawn -> first admin reply (status) */
		double status_copies;
		double db_mib;
	} rs;
	struct ingest_result ing;
	int ing_ok;
};

static void *
shared_alloc(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct results *
results_alloc(int rounds)
{
	size_t one = (size_t)rounds * sizeof(double);
	struct results *r = shared_alloc(sizeof(*r) + 10 * one);
	double *d;

	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	d = (double *)(r + 1);
	r->ftcp.name = "floor-tcp";
	r->ftcp.ms = d;
	r->ftls.name = "floor-tls";
	r->ftls.ms = d + rounds;
	r->a17.name = "art17 (tls, fsync)";
	r->a17.ms = d + 2 * rounds;
	r->res.total = d + 3 * rounds;
	r->res.issue = d + 4 * rounds;
	r->res.first_dl = d + 5 * rounds;
	r->res.last_dl = d + 6 * rounds;
	r->res.first_ok = d + 7 * rounds;
	r->mqtt.name = "mosquitto (QoS 1)";
	r->mqtt.ms = d + 8 * rounds;
	r->nats.name = "nats jetstream (file)";
	r->nats.ms = d + 9 * rounds;
	return r;
}

enum {
	PHASE_FLOOR_TCP,
	PHASE_FLOOR_TLS,
	PHASE_ART17,
	PHASE_MQTT,
	PHASE_NATS,
	PHASE_RESTART,
	PHASE_INGEST
};

static void run_peer(const struct opts *o, int which, struct series *s,
                     double *cpu);
static int run_restart(const struct opts *o, const char *broker_bin,
                       const char *pki, struct restart_result *rr);

struct phase_arg {
	struct series *restart; /* PHASE_RESTART's (unshared) series */
	const struct opts *o;
	const char *pki;
	const char *broker_bin;
	struct results *r;
};

/*
 * Runs one phase in a child process of its own, with a bound on its
 * whole duration (every wait inside has its own timeout as well). Each
 * phase thus gets fresh nng threads, and its sockets are released by the
 * process exit rather than by nng_close: nng 1.5.2 can deadlock closing
 * a thousand busy sockets (nng issues #1543 and #1813, fixed in 1.8).
 * The child writes its results into shared memory.
 */
static void
run_phase(struct phase_arg *pa, int which)
{
	const struct opts *o = pa->o;
	struct series *s = which == PHASE_FLOOR_TCP   ? &pa->r->ftcp
	                   : which == PHASE_FLOOR_TLS ? &pa->r->ftls
	                   : which == PHASE_MQTT      ? &pa->r->mqtt
	                   : which == PHASE_NATS      ? &pa->r->nats
	                   : which == PHASE_RESTART || which == PHASE_INGEST
	                       ? pa->restart
	                       : &pa->r->a17;
	int timeout_ms = (o->rounds + 6) * ROUND_TIMEOUT_MS + o->n * 200;
	pid_t pid;
	int status;

	s->ok = 0;
	s->n = 0;
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		msg("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		switch (which) {
		case PHASE_FLOOR_TCP:
			run_floor(o, NULL, s);
			break;
		case PHASE_FLOOR_TLS:
			run_floor(o, pa->pki, s);
			break;
		case PHASE_INGEST: {
			char dir[PATH_LEN];

			snprintf(dir, sizeof(dir), "%s/ingest", g_tmp);
			pa->r->ing_ok =
			    bench_ingest(dir, o->ingest, &pa->r->ing) == 0;
			s->ok = pa->r->ing_ok;
			break;
		}
		case PHASE_RESTART:
			s->ok = run_restart(o, pa->broker_bin, pa->pki,
			                    &pa->r->rs) == 0;
			break;
		case PHASE_MQTT:
		case PHASE_NATS:
			run_peer(o, which, s,
			         which == PHASE_MQTT ? &pa->r->mqtt_cpu_ms
			                             : &pa->r->nats_cpu_ms);
			break;
		default:
			run_art17(o, pa->broker_bin, pa->pki, s, &pa->r->res);
			break;
		}
		fflush(stderr);
		_exit(s->ok ? 0 : 1);
	}
	if (harness_wait_pid(pid, timeout_ms, &status) != 0) {
		msg("%s: not done after %d s: killing it", s->name,
		    timeout_ms / 1000);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		s->ok = 0;
	} else if (WIFSIGNALED(status)) {
		msg("%s: the phase died of signal %d", s->name,
		    WTERMSIG(status));
		s->ok = 0;
	}
}

/* Asks for one request's status; 0 and the number of copies. */
static int
admin_status(struct admin *ad, const char *reqid, size_t *copies)
{
	Art17__AdminRequest req = ART17__ADMIN_REQUEST__INIT;
	Art17__StatusQuery q = ART17__STATUS_QUERY__INIT;
	Art17__AdminReply *rep;
	wire_msg m;

	q.request_id = (char *)reqid;
	req.op_case = ART17__ADMIN_REQUEST__OP_REQUEST_STATUS;
	req.request_status = &q;
	if (admin_call(ad, &req, &m, &rep) != 0)
		return -1;
	*copies = rep->n_copies;
	wire_msg_fini(&m);
	return 0;
}

/*
 * Restart with many stored deliveries: registers up to 1,000 members (no
 * agent connects), issues requests until o->restart_deliveries copies are
 * stored, stops the broker, starts it again and times how long until it
 * logs "ready" and until it answers a status query for the last request.
 */
static int
run_restart(const struct opts *o, const char *broker_bin, const char *pki,
            struct restart_result *rr)
{
	char datadir[PATH_LEN], logpath[PATH_LEN], listen[64], path[PATH_LEN];
	char ka[] = "60000", reqid[64] = "";
	char *argv[] = {
	    (char *)broker_bin, "-d", datadir, "-p", (char *)pki, "-l", listen,
	    "--keepalive",      ka,   NULL};
	struct admin ad;
	long members =
	    o->restart_deliveries < 1000 ? o->restart_deliveries : 1000;
	long issues = (o->restart_deliveries + members - 1) / members;
	size_t inc = 0, copies = 0;
	int64_t t;
	struct stat st;
	int port;

	memset(&ad, 0, sizeof(ad));
	rr->ok = 0;
	snprintf(datadir, sizeof(datadir), "%s/restart", g_tmp);
	snprintf(logpath, sizeof(logpath), "%s/restart-broker.log", g_tmp);
	if ((port = harness_free_port()) < 0)
		return -1;
	snprintf(listen, sizeof(listen), "tls+tcp://127.0.0.1:%d", port);
	if ((g_broker = harness_spawn(argv, logpath, 1, NULL, NULL)) < 0 ||
	    wait_broker_ready(logpath, g_broker, 30000) != 0 ||
	    admin_open(&ad, datadir, pki) != 0)
		goto out;
	for (long i = 0; i < members; i++) {
		char id[32];
		a17_key *k = NULL;
		int rv;

		snprintf(id, sizeof(id), "idle-%05ld", i + 1);
		if (crypto_key_generate(&k) != 0)
			goto out;
		rv = admin_member_add(&ad, id, k);
		crypto_key_free(k);
		if (rv != 0)
			goto out;
	}
	if (admin_incident_declare(&ad) != 0)
		goto out;
	t = sim_now_ns();
	for (long i = 0; i < issues; i++) {
		if (admin_issue(&ad, (int)i + 1, reqid, sizeof(reqid), &inc) !=
		        0 ||
		    (long)inc != members) {
			msg("restart: issue %ld of %ld failed", i + 1, issues);
			goto out;
		}
		if ((i + 1) % 200 == 0)
			fprintf(stderr,
			        "art17-bench: %ld of %ld deliveries "
			        "stored\n",
			        (i + 1) * members, issues * members);
	}
	rr->fill_s = ns_to_ms(sim_now_ns() - t) / 1000.0;
	rr->deliveries = issues * members;
	rr->members = members;
	snprintf(path, sizeof(path), "%.900s/db/data.mdb", datadir);
	if (stat(path, &st) == 0)
		rr->db_mib = (double)st.st_size / (1024.0 * 1024.0);
	/* the admin socket is left to this process's exit (nng_close) */
	stop_broker();
	if (truncate(logpath, 0) != 0)
		goto out;
	sync();
	t = sim_now_ns();
	if ((g_broker = harness_spawn(argv, logpath, 1, NULL, NULL)) < 0)
		goto out;
	for (;;) {
		if (file_contains(logpath, "ready:")) {
			rr->ready_ms = ns_to_ms(sim_now_ns() - t);
			break;
		}
		if (sim_now_ns() - t > 60LL * 1000000000) {
			msg("restart: not ready after 60 s");
			goto out;
		}
		harness_sleep_ms(1);
	}
	{
		struct admin ad2;

		memset(&ad2, 0, sizeof(ad2));
		if (admin_open(&ad2, datadir, pki) != 0 ||
		    admin_status(&ad2, reqid, &copies) != 0)
			goto out;
		rr->serve_ms = ns_to_ms(sim_now_ns() - t);
		rr->status_copies = (double)copies;
	}
	rr->ok = (long)copies == members;
	if (!rr->ok)
		msg("restart: %s has %zu copies after the restart, want %ld",
		    reqid, copies, members);
out:
	stop_broker();
	return rr->ok ? 0 : -1;
}

/* Runs one peer system (bench_peers.c) in the phase's process. */
static void
run_peer(const struct opts *o, int which, struct series *s, double *cpu)
{
	struct peer_cfg c;
	struct peer_out po;
	char dir[PATH_LEN];

	snprintf(dir, sizeof(dir), "%s/%s", g_tmp,
	         which == PHASE_MQTT ? "mqtt" : "nats");
	if (mkdir(dir, 0700) != 0) {
		snprintf(s->fail, sizeof(s->fail), "mkdir %.200s: %s", dir,
		         strerror(errno));
		return;
	}
	memset(&c, 0, sizeof(c));
	memset(&po, 0, sizeof(po));
	c.n = o->n;
	c.rounds = o->rounds;
	c.settle_ms = o->settle_ms;
	c.payload = PAYLOAD_LEN;
	c.verbose = o->verbose;
	c.dir = dir;
	po.ms = s->ms;
	s->ok = (which == PHASE_MQTT ? peer_mqtt_run(&c, &po)
	                             : peer_nats_run(&c, &po)) == 0;
	s->n = po.n_ok;
	s->rss_kib = po.server_rss_kib;
	*cpu = po.server_cpu_ms;
	snprintf(s->fail, sizeof(s->fail), "%s", po.fail);
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: art17-bench fanout [-n N] [--rounds R] [--bin DIR] "
	        "[--keep] [--check]\n"
	        "                          [--settle MS] [--ack-delay MS] "
	        "[--only WHAT] [-v]\n"
	        "                          [--restart-deliveries M] "
	        "[--ingest K]\n"
	        "\n"
	        "Fans one request out to N agents and times until every "
	        "receipt is durably\n"
	        "stored, next to the bare-nng floor (tcp and TLS), Mosquitto "
	        "and NATS\n"
	        "JetStream on the same workload. See "
	        "docs/benchmarks.md.\n"
	        "\n"
	        "  -n N              agents (default 1000, at most %d)\n"
	        "  -r, --rounds R    measured rounds after one warm-up "
	        "(default 5)\n"
	        "  --bin DIR         where art17-broker and art17-pki are "
	        "(DIR, or DIR/broker\n"
	        "                    and DIR/tools); default: the build tree "
	        "this executable is in\n"
	        "  --keep            keep the temporary directory (PKI, broker "
	        "data, log)\n"
	        "  --check           smoke test: print a last line \"bench "
	        "smoke: ok (...)\"\n"
	        "  --settle MS       pause once every agent polls, before each "
	        "round (default 200)\n"
	        "  --ack-delay MS    every simulated agent waits MS before its "
	        "receipt (stands in\n"
	        "                    for the real agent's LMDB commit; default "
	        "0)\n"
	        "  --only WHAT       floor, art17, peers (mosquitto and nats), "
	        "mqtt, nats,\n"
	        "                    restart or ingest\n"
	        "  --restart-deliveries M  also time a broker restart with M "
	        "stored deliveries\n"
	        "  --ingest K        also measure feedback ingest with K "
	        "records\n"
	        "  -v, --verbose     print the agents' errors as they happen\n"
	        "  -h, --help        this help\n"
	        "  -V, --version     print the version\n"
	        "\n"
	        "Exit status: 0 every count right, 1 a check or a step "
	        "failed, 2 usage error.\n",
	        MAX_AGENTS);
}

static int
find_bins(const struct opts *o, char *broker, char *pki, size_t len)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (o->bin != NULL) {
		snprintf(broker, len, "%s/art17-broker", o->bin);
		if (!is_exec(broker))
			snprintf(broker, len, "%s/broker/art17-broker", o->bin);
		snprintf(pki, len, "%s/art17-pki", o->bin);
		if (!is_exec(pki))
			snprintf(pki, len, "%s/tools/art17-pki", o->bin);
	} else {
		if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <
		    0) {
			msg("cannot find my own executable: %s",
			    strerror(errno));
			return -1;
		}
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		snprintf(broker, len, "%s/../broker/art17-broker", exe);
		snprintf(pki, len, "%s/art17-pki", exe);
	}
	if (!is_exec(broker) || !is_exec(pki)) {
		msg("cannot find art17-broker and art17-pki (looked for %s "
		    "and %s; use --bin DIR)",
		    broker, pki);
		return -1;
	}
	return 0;
}

static int
make_pki(const char *pki_bin, const char *pki)
{
	char log[PATH_LEN], agent_name[] = AGENT_CERT_NAME,
	                    coord_name[] = COORD_NAME;
	char *a1[] = {(char *)pki_bin, "init", "-d", (char *)pki, NULL};
	char *a2[] = {(char *)pki_bin, "agent",    "-d",
	              (char *)pki,     agent_name, NULL};
	char *a3[] = {(char *)pki_bin, "coordinator", "-d",
	              (char *)pki,     coord_name,    NULL};
	char real_name[] = REAL_AGENT;
	char *a4[] = {(char *)pki_bin, "agent",   "-d",
	              (char *)pki,     real_name, NULL};

	snprintf(log, sizeof(log), "%s/pki.log", g_tmp);
	if (run(a1, log) != 0 || run(a2, log) != 0 || run(a3, log) != 0 ||
	    run(a4, log) != 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"rounds", required_argument, NULL, 'r'},
	    {"bin", required_argument, NULL, 'B'},
	    {"keep", no_argument, NULL, 'k'},
	    {"check", no_argument, NULL, 'c'},
	    {"settle", required_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"only", required_argument, NULL, 'o'},
	    {"ack-delay", required_argument, NULL, 'A'},
	    {"restart-deliveries", required_argument, NULL, 'D'},
	    {"ingest", required_argument, NULL, 'I'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {1000, 5, NULL, 0, 0, 200, 0, NULL, 0, 0, 0};
	char broker_bin[PATH_MAX + 64], pki_bin[PATH_MAX + 64],
	    pki[TMP_LEN + 8];
	char cpu[256], cmd[4096], load0[64];
	struct results *R;
	struct phase_arg pa;
	struct utsname un;
	size_t cl = 0;
	int c, rc = 1;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("art17-bench 0.1.0\n");
		return 0;
	}
	if (strcmp(argv[1], "fanout") != 0) {
		msg("unknown benchmark '%s' (only: fanout)", argv[1]);
		usage(stderr);
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		int q = strchr(argv[i], ' ') != NULL;

		cl += (size_t)snprintf(cmd + cl, sizeof(cmd) - cl, "%s%s%s%s",
		                       i ? " " : "", q ? "'" : "", argv[i],
		                       q ? "'" : "");
		if (cl >= sizeof(cmd))
			break;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "n:r:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o.n = atoi(optarg);
			if (o.n < 1 || o.n > MAX_AGENTS) {
				msg("-n must be 1..%d", MAX_AGENTS);
				return 2;
			}
			break;
		case 'r':
			o.rounds = atoi(optarg);
			if (o.rounds < 1 || o.rounds > 10000) {
				msg("--rounds must be 1..10000");
				return 2;
			}
			break;
		case 'B':
			o.bin = optarg;
			break;
		case 'k':
			o.keep = 1;
			break;
		case 'c':
			o.check = 1;
			break;
		case 's':
			o.settle_ms = atoi(optarg);
			if (o.settle_ms < 0 || o.settle_ms > 60000) {
				msg("--settle must be 0..60000");
				return 2;
			}
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'A':
			o.ack_delay_ms = atoi(optarg);
			if (o.ack_delay_ms < 0 || o.ack_delay_ms > 60000) {
				msg("--ack-delay must be 0..60000");
				return 2;
			}
			break;
		case 'I':
			o.ingest = atol(optarg);
			if (o.ingest < 0 || o.ingest > 10000000) {
				msg("--ingest must be 0..10000000");
				return 2;
			}
			break;
		case 'D':
			o.restart_deliveries = atol(optarg);
			if (o.restart_deliveries < 0 ||
			    o.restart_deliveries > 10000000) {
				msg("--restart-deliveries must be 0..10000000");
				return 2;
			}
			break;
		case 'o':
			if (strcmp(optarg, "floor") != 0 &&
			    strcmp(optarg, "art17") != 0 &&
			    strcmp(optarg, "peers") != 0 &&
			    strcmp(optarg, "mqtt") != 0 &&
			    strcmp(optarg, "restart") != 0 &&
			    strcmp(optarg, "ingest") != 0 &&
			    strcmp(optarg, "nats") != 0) {
				msg("--only takes floor, art17, peers, mqtt or "
				    "nats");
				return 2;
			}
			o.only = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	load_average(load0, sizeof(load0));
	raise_nofile();
	if (find_bins(&o, broker_bin, pki_bin, sizeof(broker_bin)) != 0)
		return 1;

	if ((R = results_alloc(o.rounds)) == NULL) {
		msg("out of memory");
		return 1;
	}
	{
		const char *td = getenv("TMPDIR");

		if (td == NULL || td[0] == '\0' || strlen(td) > 200)
			td = "/tmp";
		snprintf(g_tmp, sizeof(g_tmp), "%s/art17-bench.XXXXXX", td);
	}
	if (mkdtemp(g_tmp) == NULL) {
		msg("mkdtemp: %s", strerror(errno));
		return 1;
	}
	snprintf(pki, sizeof(pki), "%s/pki", g_tmp);
	fprintf(stderr,
	        "art17-bench: %d agents, %d rounds (+1 warm-up) in %s\n", o.n,
	        o.rounds, g_tmp);

	if (make_pki(pki_bin, pki) != 0)
		goto out;
	pa.o = &o;
	pa.pki = pki;
	pa.broker_bin = broker_bin;
	pa.r = R;
	pa.restart = NULL;
	if (o.only != NULL && strcmp(o.only, "floor") != 0) {
		R->ftcp.skipped = R->ftls.skipped = 1;
	} else {
		fprintf(stderr, "art17-bench: floor over tcp...\n");
		run_phase(&pa, PHASE_FLOOR_TCP);
		fprintf(stderr, "art17-bench: floor over TLS...\n");
		run_phase(&pa, PHASE_FLOOR_TLS);
	}
	if (o.only == NULL || strcmp(o.only, "art17") == 0) {
		fprintf(stderr,
		        "art17-bench: art17 (broker, %d simulated agents)...\n",
		        o.n);
		run_phase(&pa, PHASE_ART17);
	} else {
		R->a17.skipped = 1;
	}
	if (o.only == NULL || strcmp(o.only, "peers") == 0 ||
	    strcmp(o.only, "mqtt") == 0) {
		fprintf(stderr, "art17-bench: mosquitto (QoS 1)...\n");
		run_phase(&pa, PHASE_MQTT);
	} else {
		R->mqtt.skipped = 1;
	}
	if (o.only == NULL || strcmp(o.only, "peers") == 0 ||
	    strcmp(o.only, "nats") == 0) {
		fprintf(stderr, "art17-bench: nats jetstream...\n");
		run_phase(&pa, PHASE_NATS);
	} else {
		R->nats.skipped = 1;
	}
	if (o.ingest > 0 && (o.only == NULL || strcmp(o.only, "ingest") == 0)) {
		struct series isr;

		fprintf(stderr,
		        "art17-bench: feedback ingest, %ld records...\n",
		        o.ingest);
		memset(&isr, 0, sizeof(isr));
		isr.name = "ingest";
		pa.restart = &isr;
		run_phase(&pa, PHASE_INGEST);
	}
	if (o.restart_deliveries > 0 &&
	    (o.only == NULL || strcmp(o.only, "restart") == 0)) {
		struct series rsr;

		fprintf(stderr,
		        "art17-bench: restart with %ld stored deliveries...\n",
		        o.restart_deliveries);
		/* run_phase wants a series; this one only says ok */
		memset(&rsr, 0, sizeof(rsr));
		rsr.name = "restart";
		pa.restart = &rsr;
		run_phase(&pa, PHASE_RESTART);
	}
	fflush(stderr);

	cpu_model(cpu, sizeof(cpu));
	if (uname(&un) != 0)
		memset(&un, 0, sizeof(un));
	printf("art17-bench fanout: %d agents, %d measured rounds (+1 "
	       "warm-up), %d-byte payload\n",
	       o.n, o.rounds, PAYLOAD_LEN);
	printf("machine: %ld CPUs, %s, %s %s; load average %s at start\n",
	       sysconf(_SC_NPROCESSORS_ONLN), cpu, un.sysname, un.release,
	       load0);
	printf("broker data: %s (%s), fsync on every group commit; the "
	       "simulated agents keep no disk\n",
	       g_tmp, fs_name(g_tmp));
	if (o.ack_delay_ms)
		printf("agents: each waits %d ms before its receipt "
		       "(--ack-delay)\n",
		       o.ack_delay_ms);
	printf("durability: floor none (no disk); art17 fsync before every "
	       "ReceiptOk;\n  %s;\n  %s\n",
	       peer_mqtt_durability, peer_nats_durability);
	printf("command: %s\n\n", cmd);
	printf("  %-22s %9s %9s %9s %12s %12s\n", "", "p50 ms", "p99 ms*",
	       "max ms", "msgs/s", "server MiB");
	print_line(&R->ftcp, o.n);
	print_line(&R->ftls, o.n);
	print_line(&R->a17, o.n);
	print_line(&R->mqtt, o.n);
	print_line(&R->nats, o.n);
	printf("  * p99 by nearest rank: with fewer than 100 rounds it is the "
	       "max.\n");
	printf("  msgs/s = N / p50 (copies delivered and acked per "
	       "second).\n");
	if (R->a17.ok && R->a17.n > 0) {
		double a = p50_of(R->a17.ms, R->a17.n);
		const struct series *cmp[] = {&R->ftls, &R->ftcp, &R->mqtt,
		                              &R->nats};

		printf("\n");
		for (size_t i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++) {
			double d;

			if (!cmp[i]->ok || cmp[i]->n == 0)
				continue;
			d = p50_of(cmp[i]->ms, cmp[i]->n);
			printf("  ratio art17/%-22s (p50): %.2fx\n",
			       cmp[i]->name, d > 0 ? a / d : 0.0);
		}
	}
	if (R->mqtt.ok || R->nats.ok)
		printf("  server CPU per round (ms): mosquitto %.0f, "
		       "nats-server %.0f\n",
		       R->mqtt_cpu_ms, R->nats_cpu_ms);
	if (R->a17.ok) {
		printf("\n  art17 phases, p50 over rounds, ms after t0:\n");
		printf("    issue committed (admin reply)   %8.1f\n",
		       p50_of(R->res.issue, R->a17.n));
		printf("    first copy verified at an agent %8.1f\n",
		       p50_of(R->res.first_dl, R->a17.n));
		printf("    last copy verified at an agent  %8.1f\n",
		       p50_of(R->res.last_dl, R->a17.n));
		printf("    first ReceiptOk                 %8.1f\n",
		       p50_of(R->res.first_ok, R->a17.n));
		printf("    last ReceiptOk (t1)             %8.1f\n",
		       p50_of(R->res.total, R->a17.n));
		printf(
		    "  CPU per round (ms, t0 to t1 plus the wait's wake-up): "
		    "broker %.0f, bench process (agents) %.0f\n",
		    R->res.broker_cpu_ms / R->a17.n,
		    R->res.bench_cpu_ms / R->a17.n);
		printf("  set-up: %d members registered in %.1f s; agents "
		       "connected in %.1f s using %.1f s CPU in the broker and "
		       "%.1f s in the agents\n"
		       "          (%llu connect retries, %llu errors before "
		       "the first round)\n",
		       o.n, R->res.register_s, R->res.connect_s,
		       R->res.connect_broker_cpu_ms / 1000.0,
		       R->res.connect_bench_cpu_ms / 1000.0,
		       (unsigned long long)R->res.setup_retries,
		       (unsigned long long)R->res.setup_errors);
		printf(
		    "  broker memory (RssAnon): %.1f MiB with %d members and "
		    "no agent, %.1f MiB with all connected: %.1f KiB per "
		    "connected agent\n",
		    R->res.anon_before_kib / 1024.0, o.n,
		    R->res.anon_connected_kib / 1024.0,
		    (R->res.anon_connected_kib - R->res.anon_before_kib) / o.n);
		if (R->res.agent_rss_kib > 0)
			printf("  agent: the real art17-agent (durable, TLS) "
			       "peaked at %.1f MiB RSS after storing and "
			       "acking a request\n"
			       "         (then %.1f MiB anonymous, %.1f MiB "
			       "file-backed: shared libraries and LMDB)\n",
			       R->res.agent_rss_kib / 1024.0,
			       R->res.agent_anon_kib / 1024.0,
			       R->res.agent_file_kib / 1024.0);
		else
			printf("  agent RSS: not measured (see the messages "
			       "above)\n");
	}
	if (o.ingest > 0 && (o.only == NULL || strcmp(o.only, "ingest") == 0)) {
		if (R->ing_ok)
			printf(
			    "\n  feedback ingest: %ld signed records (%zu "
			    "bytes each) verified and stored durably in %.2f "
			    "s: %.0f records/s, %llu group commits\n"
			    "    (the broker's receive path and writer, no "
			    "network; 2 receiving threads, fsync per "
			    "commit)\n"
			    "    CPU %.2f s: %.0f records per CPU-second\n",
			    R->ing.records, R->ing.env_bytes, R->ing.secs,
			    R->ing.rate, (unsigned long long)R->ing.commits,
			    R->ing.cpu_s,
			    R->ing.cpu_s > 0 ? R->ing.records / R->ing.cpu_s
			                     : 0.0);
		else
			printf("\n  feedback ingest: FAILED\n");
	}
	if (o.restart_deliveries > 0 &&
	    (o.only == NULL || strcmp(o.only, "restart") == 0)) {
		if (R->rs.ok)
			printf("\n  restart with %ld stored deliveries (%ld "
			       "members, data.mdb %.0f MiB, stored in %.1f "
			       "s):\n"
			       "    ready (log) %.1f ms, answering a status "
			       "query %.1f ms after the start\n",
			       R->rs.deliveries, R->rs.members, R->rs.db_mib,
			       R->rs.fill_s, R->rs.ready_ms, R->rs.serve_ms);
		else
			printf("\n  restart with %ld stored deliveries: "
			       "FAILED\n",
			       o.restart_deliveries);
	}
	rc =
	    ((R->ftcp.ok || R->ftcp.skipped) &&
	     (R->ftls.ok || R->ftls.skipped) && (R->a17.ok || R->a17.skipped) &&
	     (R->mqtt.ok || R->mqtt.skipped) &&
	     (R->nats.ok || R->nats.skipped) &&
	     (o.restart_deliveries == 0 || R->rs.ok ||
	      (o.only != NULL && strcmp(o.only, "restart") != 0)))
	        ? 0
	        : 1;
	if (o.check) {
		if (rc == 0)
			printf("bench smoke: ok (%d agents, %d rounds)\n", o.n,
			       o.rounds);
		else
			printf("bench smoke: FAILED (%d agents, %d rounds)\n",
			       o.n, o.rounds);
	}
out:
	if (o.keep) {
		fprintf(stderr, "art17-bench: kept %s\n", g_tmp);
	} else {
		rm_rf(g_tmp);
	}
	return rc;
}
