/*
 * fuzz_config.c: bytes as a configuration file, read as the daemons read
 * theirs with -f FILE: the broker's reader (broker/config.c) and the
 * agent's (agent/config.c), both over lib/conf.c and inih, with the
 * bytes going through the same stream reader a file goes through
 * (conf_load_mem). The messages are formatted into /dev/null.
 *
 * Findings (abort):
 *  - a file the broker or the agent accepts gives settings outside what
 *    art17-broker.conf(5) and art17-agent.conf(5) promise: a value out
 *    of its range, a listen or connect URL that is not tls+tcp:// (or
 *    tcp:// without insecure), a dashboard off loopback or without its
 *    auth file, a hook that is not an absolute path;
 *  - a file that inih itself refuses (its return value, for the same
 *    bytes) is accepted by either reader: a line dropped in silence.
 *
 * The harness makes one file, TOKEN_PATH (a valid dashboard token, mode
 * 600), so that a dashboard can be configured at all; the seeds name it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "fuzz.h"
#include "broker.h"
#include "agent.h"
#include "conf.h"
#include "log.h"

#define TOKEN_PATH "/tmp/art17-fuzz.token"

static void
finding(const char *what)
{
	fprintf(stderr, "fuzz_config: %s\n", what);
	abort();
}

static void
drop_token(void)
{
	unlink(TOKEN_PATH);
}

static void
setup(void)
{
	static const char tok[] = "0123456789abcdef0123456789abcdef\n";
	static int done;
	FILE *devnull;
	int fd;

	if (done)
		return;
	done = 1;
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		finding("cannot open /dev/null");
	conf_set_errors(devnull);
	/* no token file (another user's, say): that setting is refused */
	fd = open(TOKEN_PATH, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (fchmod(fd, 0600) != 0 ||
		    write(fd, tok, sizeof(tok) - 1) != (ssize_t)sizeof(tok) - 1)
			fprintf(stderr, "fuzz_config: cannot write %s\n",
			        TOKEN_PATH);
		close(fd);
		atexit(drop_token);
	}
}

static int
url_ok(const char *url, int insecure)
{
	return url != NULL && (strncmp(url, "tls+tcp://", 10) == 0 ||
	                       (insecure && strncmp(url, "tcp://", 6) == 0));
}

static int
broker_conf(const uint8_t *data, size_t size)
{
	broker_opts o = {NULL, 0, LOG_LVL_INFO, NULL};
	broker_cfg cfg;
	char why[256];
	int errors;

	/* main()'s defaults (broker/broker.c) */
	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = "/var/lib/art17";
	cfg.pkidir = "./pki";
	cfg.listen = "tls+tcp://127.0.0.1:7017";
	cfg.keepalive_ms = 30000;
	cfg.flag_quorum = 1;
	cfg.staff_delay_days = 5;
	cfg.confirm_window_ms = 15 * 60 * 1000;
	errors = config_broker_read_mem("fuzz.conf", data, size, &cfg, &o);
	if (errors < 0)
		finding("broker: a negative error count");
	if (errors == 0) {
		if (cfg.datadir == NULL || cfg.pkidir == NULL ||
		    !url_ok(cfg.listen, cfg.insecure))
			finding("broker: accepted a bad data, pki or listen");
		if (cfg.keepalive_ms < 100 || cfg.keepalive_ms > 600000 ||
		    cfg.flag_quorum < 1 || cfg.flag_quorum > 2 ||
		    cfg.confirm_window_ms < 1000 ||
		    cfg.confirm_window_ms > 86400 * 1000 ||
		    cfg.staff_delay_days < 0 || cfg.staff_delay_days > 60 ||
		    o.verbose < LOG_LVL_INFO || o.verbose > LOG_LVL_INFO + 3 ||
		    (cfg.insecure & ~1) != 0 || (cfg.nosync & ~1) != 0 ||
		    (o.use_syslog & ~1) != 0)
			finding("broker: accepted a value out of range");
		if (cfg.http_listen != NULL &&
		    (http_check_url(cfg.http_listen, why, sizeof(why)) != 0 ||
		     cfg.http_auth_file == NULL))
			finding("broker: accepted a bad dashboard");
		/* every string is whole (ASan reads it to its end) */
		(void)strlen(cfg.datadir);
		(void)strlen(cfg.pkidir);
		if (cfg.crlfile != NULL)
			(void)strlen(cfg.crlfile);
		if (o.run_as != NULL)
			(void)strlen(o.run_as);
	}
	conf_free(o.file);
	return errors;
}

static int
hook_ok(const char *cmd)
{
	return cmd == NULL || cmd[0] == '/';
}

static int
agent_conf(const uint8_t *data, size_t size)
{
	conf_file *cf = NULL;
	agent_cfg cfg;
	int errors;

	/* main()'s defaults (agent/agent.c) */
	memset(&cfg, 0, sizeof(cfg));
	cfg.datadir = "/var/lib/art17-agent";
	cfg.url = "tls+tcp://127.0.0.1:7017";
	cfg.verbose = LOG_LVL_INFO;
	cfg.hook_timeout_s = 10;
	errors = config_agent_read_mem("fuzz.conf", data, size, &cfg, &cf);
	if (errors < 0)
		finding("agent: a negative error count");
	if (errors == 0) {
		if (cfg.datadir == NULL || !url_ok(cfg.url, cfg.insecure))
			finding("agent: accepted a bad data or connect");
		if (cfg.hook_timeout_s < 1 || cfg.hook_timeout_s > 300 ||
		    cfg.verbose < LOG_LVL_INFO ||
		    cfg.verbose > LOG_LVL_INFO + 3)
			finding("agent: accepted a value out of range");
		if (!hook_ok(cfg.hook_arrival) || !hook_ok(cfg.hook_overdue) ||
		    !hook_ok(cfg.hook_withdrawal))
			finding("agent: accepted a hook by relative path");
		(void)strlen(cfg.datadir);
		if (cfg.member != NULL)
			(void)strlen(cfg.member);
		if (cfg.server_name != NULL)
			(void)strlen(cfg.server_name);
	}
	conf_free(cf);
	return errors;
}

static int
count_nothing(void *user, const char *section, const char *name,
              const char *value)
{
	(void)user;
	(void)section;
	(void)name;
	(void)value;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int berr, aerr;
	char *s;

	setup();
	berr = broker_conf(data, size);
	aerr = agent_conf(data, size);
	/* inih's own verdict on the same bytes (up to a NUL, its end) */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (ini_parse_string(s, count_nothing, NULL) != 0 &&
	    (berr == 0 || aerr == 0))
		finding("inih refuses a line that a reader accepted");
	free(s);
	return (0);
}
