/*
 * art17-broker: issues Article 17(3) cooperation requests and information
 * shares to member agents, and stores their receipts, durably.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "broker.h"
#include "conf.h"
#include "err.h"
#include "log.h"

#define A17_VERSION "0.1.0"

broker a17b;

static void
usage(FILE *f)
{
	fprintf(
	    f, "usage: art17-broker [-v] [-d DATADIR] [-p PKIDIR] [-l URL] "
	       "[--insecure]\n"
	       "                    [--keepalive MS] [--crl FILE] [--nosync]\n"
	       "\n"
	       "  -d, --data DIR     data directory (LMDB, admin socket); "
	       "default $ART17_DATA\n"
	       "                     or /var/lib/art17\n"
	       "  -p, --pki DIR      PKI directory made by art17-pki; default "
	       "$ART17_PKI or ./pki\n"
	       "  -l, --listen URL   agent endpoint; default "
	       "tls+tcp://127.0.0.1:7017\n"
	       "      --insecure     allow a plain tcp:// URL (loopback only)\n"
	       "      --keepalive MS how long a poll is held (default 30000)\n"
	       "      --crl FILE     certificate revocation list (default "
	       "PKIDIR/ca/crl.pem if present)\n"
	       "      --nosync       do not fsync commits (drills and tests "
	       "only: loses data on power loss)\n"
	       "      --flag-quorum N  1 (default) or 2: with 2, a large-scale "
	       "flag takes effect\n"
	       "                     only when a second, different coordinator "
	       "confirms it\n"
	       "      --confirm-window S  seconds a proposed flag waits for "
	       "confirmation (900)\n"
	       "      --staff-delay N  business days until a staff change "
	       "takes effect (5)\n"
	       "      --user NAME    when started as root, drop to this user "
	       "after binding\n"
	       "      --syslog       log to syslog instead of stderr\n"
	       "      --stall-exit S exit with status 75 (to be started "
	       "again) when nng's\n"
	       "                     reaper thread has been stuck for S "
	       "seconds (default 300;\n"
	       "                     0 off)\n"
	       "      --dashboard URL  serve the dashboard and /metrics on URL "
	       "(loopback http://)\n"
	       "      --dashboard-auth FILE  bearer token file for them (mode "
	       "0600, required)\n"
	       "  -f, --config FILE  read FILE first (art17-broker.conf(5)); "
	       "flags override it\n"
	       "  -n, --check        check the configuration and exit\n"
	       "  -v, --verbose      more logging (repeat for debug)\n"
	       "  -h, --help         this help\n"
	       "  -V, --version      print the version\n"
	       "\n"
	       "The admin endpoint is ipc://DATADIR/admin.sock (see "
	       "art17ctl).\n"
	       "Exit status: 0 after a clean stop (SIGINT/SIGTERM) or a good "
	       "-n check,\n1 on a start-up error, 2 on a usage error, 78 on a "
	       "configuration error.\n");
}

/*
 * After the sockets are bound and the store and keys are open, a broker
 * started as root becomes run_as. Running on as root is refused unless
 * no --user was given, which is only warned about.
 */
static int
drop_privileges(const char *run_as)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (run_as != NULL)
			log_warnx("--user %s ignored: not started as root",
			          run_as);
		return 0;
	}
	if (run_as == NULL) {
		log_warnx("running as root: give --user NAME to drop "
		          "privileges after start-up");
		return 0;
	}
	if ((pw = getpwnam(run_as)) == NULL) {
		log_warnx("--user %s: no such user", run_as);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_warn("dropping privileges to %s", run_as);
		return -1;
	}
	if (setuid(0) == 0) {
		log_warnx("could regain root after dropping privileges");
		return -1;
	}
	log_info("running as %s (uid %u)", run_as, (unsigned)pw->pw_uid);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"data", required_argument, NULL, 'd'},
	    {"pki", required_argument, NULL, 'p'},
	    {"listen", required_argument, NULL, 'l'},
	    {"insecure", no_argument, NULL, 'I'},
	    {"keepalive", required_argument, NULL, 'K'},
	    {"crl", required_argument, NULL, 'C'},
	    {"nosync", no_argument, NULL, 'N'},
	    {"syslog", no_argument, NULL, 'S'},
	    {"flag-quorum", required_argument, NULL, 'Q'},
	    {"staff-delay", required_argument, NULL, 'D'},
	    {"user", required_argument, NULL, 'U'},
	    {"confirm-window", required_argument, NULL, 'W'},
	    {"dashboard", required_argument, NULL, 'H'},
	    {"dashboard-auth", required_argument, NULL, 'A'},
	    {"stall-exit", required_argument, NULL, 'X'},
	    {"config", required_argument, NULL, 'f'},
	    {"check", no_argument, NULL, 'n'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	broker_opts bo = {NULL, 0, LOG_LVL_INFO, NULL};
	const char *conffile = NULL;
	int check = 0, conf_errors = 0;
	broker *b = &a17b;
	char path[4096];
	sigset_t set;
	int c, sig, verbose = LOG_LVL_INFO, use_syslog = 0, rv;
	const char *run_as = NULL;

	b->cfg.datadir =
	    getenv("ART17_DATA") ? getenv("ART17_DATA") : "/var/lib/art17";
	b->cfg.pkidir = getenv("ART17_PKI") ? getenv("ART17_PKI") : "./pki";
	b->cfg.listen = "tls+tcp://127.0.0.1:7017";
	b->cfg.keepalive_ms = 30000;
	b->cfg.batch_max = 4096;
	b->cfg.batch_wait_us = 1000;
	b->cfg.flag_quorum = 1;
	b->cfg.staff_delay_days = 5;
	b->cfg.confirm_window_ms = 15 * 60 * 1000;
	b->cfg.stall_exit_s = 300;

	/* first pass: only -f and -n, so the file is read before the flags */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:p:l:f:nvhV", opts, NULL)) !=
	       -1) {
		if (c == 'f')
			conffile = optarg;
		else if (c == 'n')
			check = 1;
	}
	if (conffile != NULL) {
		conf_errors = config_broker_read(conffile, &b->cfg, &bo);
		conf_free_at_exit(bo.file);
		verbose = bo.verbose;
		use_syslog = bo.use_syslog;
		run_as = bo.run_as;
	}
	opterr = 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "d:p:l:f:nvhV", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
		case 'n':
			break;
		case 'H':
			b->cfg.http_listen = optarg;
			break;
		case 'A':
			b->cfg.http_auth_file = optarg;
			break;
		case 'd':
			b->cfg.datadir = optarg;
			break;
		case 'p':
			b->cfg.pkidir = optarg;
			break;
		case 'l':
			b->cfg.listen = optarg;
			break;
		case 'I':
			b->cfg.insecure = 1;
			break;
		case 'K':
			b->cfg.keepalive_ms = atoi(optarg);
			if (b->cfg.keepalive_ms < 100 ||
			    b->cfg.keepalive_ms > 600000) {
				fprintf(stderr, "art17-broker: --keepalive "
				                "must be 100..600000 ms\n");
				return 2;
			}
			break;
		case 'C':
			b->cfg.crlfile = optarg;
			break;
		case 'U':
			run_as = optarg;
			break;
		case 'D':
			b->cfg.staff_delay_days = atoi(optarg);
			if (b->cfg.staff_delay_days < 0 ||
			    b->cfg.staff_delay_days > 60) {
				fprintf(stderr,
				        "art17-broker: --staff-delay must "
				        "be 0..60 business days\n");
				return 2;
			}
			break;
		case 'Q':
			b->cfg.flag_quorum = atoi(optarg);
			if (b->cfg.flag_quorum != 1 &&
			    b->cfg.flag_quorum != 2) {
				fprintf(stderr, "art17-broker: --flag-quorum "
				                "must be 1 or 2\n");
				return 2;
			}
			break;
		case 'W':
			b->cfg.confirm_window_ms = atoi(optarg) * 1000;
			if (b->cfg.confirm_window_ms <= 0) {
				fprintf(
				    stderr,
				    "art17-broker: --confirm-window "
				    "must be a positive number of seconds\n");
				return 2;
			}
			break;
		case 'N':
			b->cfg.nosync = 1;
			break;
		case 'X':
			if (conf_parse_int(optarg, 0, 86400,
			                   &b->cfg.stall_exit_s) != 0) {
				fprintf(stderr,
				        "art17-broker: --stall-exit: "
				        "give 0 (off) to 86400 seconds\n");
				return 2;
			}
			break;
		case 'S':
			use_syslog = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("art17-broker %s\n", A17_VERSION);
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
	if (conf_errors > 0) {
		fprintf(stderr, "art17-broker: %s: %d error%s\n", conffile,
		        conf_errors, conf_errors == 1 ? "" : "s");
		return CONF_EXIT;
	}
	if (check) {
		if (config_broker_check(&b->cfg) > 0)
			return CONF_EXIT;
		printf("art17-broker: configuration OK\n");
		return 0;
	}
	log_init(!use_syslog, "art17-broker", verbose);

	/* Block the stop signals in every thread; main waits for them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_mutex_init(&b->mtx, NULL);
	/* private keys live in OpenSSL's secure heap: locked in memory,
	 * wiped when freed (keys stay apart from the network buffers) */
	if (CRYPTO_secure_malloc_init(64 * 1024, 64) != 1)
		log_warnx("no secure heap for private keys: key memory is not "
		          "locked");
	if (mkdir(b->cfg.datadir, 0700) != 0 && errno != EEXIST) {
		log_warn("data directory %s", b->cfg.datadir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/broker/sign.key", b->cfg.pkidir);
	if ((rv = crypto_key_load(path, &b->sign_key)) != 0) {
		log_warnx("broker signing key %s: %s (run art17-pki init?)",
		          path, a17_strerror(rv));
		return 1;
	}
	if ((rv = db_open(b)) != 0) {
		log_warnx("store %s/db: %s", b->cfg.datadir, a17_strerror(rv));
		return 1;
	}
	if ((rv = db_load(b)) != 0) {
		log_warnx("loading the store: %s", a17_strerror(rv));
		return 1;
	}
	if ((rv = store_writer_start(b->st, b->cfg.batch_max,
	                             b->cfg.batch_wait_us, &b->wr)) != 0) {
		log_warnx("writer: %s", a17_strerror(rv));
		return 1;
	}
	if ((rv = admin_start(b)) != 0 || (rv = net_start(b)) != 0 ||
	    (rv = http_start(b)) != 0) {
		log_warnx("start-up failed: %s", a17_strerror(rv));
		return 1;
	}
	if (drop_privileges(run_as) != 0)
		return 1;
	{
		uint32_t n; /* the admin thread may be adding members */

		pthread_mutex_lock(&b->mtx);
		n = b->n_members;
		pthread_mutex_unlock(&b->mtx);
		log_info("ready: %u members, data %s", n, b->cfg.datadir);
	}

	for (;;) {
		if (sigwait(&set, &sig) == 0)
			break;
	}
	log_info("signal %d: stopping", sig);
	http_stop(b);
	admin_stop(b);
	net_stop(b);
	store_close(b->st);
	crypto_key_free(b->sign_key);
	log_info("stopped");
	return 0;
}
