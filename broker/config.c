/*
 * config.c: the broker's configuration file (docs/art17-broker.conf.5),
 * and the checks of the dashboard's settings, from the file or the flags.
 *
 * The file sets the same things as the command-line options; main()
 * reads it first and applies the flags afterwards, so flags win. Every
 * problem is reported as FILE:LINE, then the broker exits with
 * CONF_EXIT (78) without starting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "conf.h"

enum {
	K_DATA,
	K_PKI,
	K_LISTEN,
	K_INSECURE,
	K_KEEPALIVE,
	K_CRL,
	K_NOSYNC,
	K_QUORUM,
	K_CONFIRM,
	K_STAFF,
	K_USER,
	K_SYSLOG,
	K_VERBOSE,
	K_HTTP,
	K_AUTH,
	K_STALL,
	K_COUNT
};

int
http_check_url(const char *url, char *why, size_t wlen)
{
	const char *h;

	if (strncmp(url, "http://", 7) != 0) {
		snprintf(why, wlen, "\"%s\" is not an http:// URL", url);
		return -1;
	}
	h = url + 7;
	if (strncmp(h, "127.", 4) != 0 && strncmp(h, "localhost:", 10) != 0 &&
	    strncmp(h, "[::1]:", 6) != 0) {
		snprintf(why, wlen,
		         "\"%s\" is not on loopback (the dashboard serves "
		         "only on 127.0.0.0/8 or [::1]; put a TLS proxy in "
		         "front for anything else)",
		         url);
		return -1;
	}
	if (strrchr(h, ':') == NULL) {
		snprintf(why, wlen, "\"%s\" has no port", url);
		return -1;
	}
	return 0;
}

int
http_token_load(const char *path, char *tok, size_t toklen, char *why,
                size_t wlen)
{
	struct stat st;
	ssize_t n;
	size_t len;
	int fd;

	/*
	 * Neither a device nor a FIFO is opened: opening one can block (a
	 * FIFO without a writer hung the broker here) or act on the device.
	 * A symbolic link goes on to open(), which refuses it (O_NOFOLLOW);
	 * fstat() below closes the race.
	 */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
	    !S_ISLNK(st.st_mode)) {
		snprintf(why, wlen, "%s: not a regular file", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) <
	    0) {
		snprintf(why, wlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, wlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(why, wlen,
		         "%s: group or others may access it (mode %03o); "
		         "chmod 600 it",
		         path, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -1;
	}
	n = read(fd, tok, toklen - 1);
	close(fd);
	if (n < 0) {
		snprintf(why, wlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	tok[n] = '\0';
	len = strcspn(tok, "\r\n");
	if (tok[len] != '\0' && tok[len + strspn(tok + len, "\r\n")] != '\0') {
		snprintf(why, wlen, "%s: the token must be one line", path);
		return -1;
	}
	tok[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (tok[i] <= ' ' || tok[i] > '~') {
			snprintf(why, wlen,
			         "%s: the token must be printable ASCII "
			         "without spaces",
			         path);
			return -1;
		}
	if (len < 16 || (size_t)n >= toklen - 1) {
		snprintf(why, wlen,
		         "%s: the token must be 16 to %d characters "
		         "(try: openssl rand -hex 32)",
		         path, HTTP_TOKEN_MAX);
		return -1;
	}
	return 0;
}

/* Reads the file at path, or the len bytes at buf when buf is not NULL. */
static int
read_conf(const char *path, const void *buf, size_t len, broker_cfg *cfg,
          broker_opts *o)
{
	int confirm_s = cfg->confirm_window_ms / 1000;
	const conf_key keys[] = {
	    [K_DATA] = {"broker", "data", CONF_STR, 0, 0, &cfg->datadir},
	    [K_PKI] = {"broker", "pki", CONF_STR, 0, 0, &cfg->pkidir},
	    [K_LISTEN] = {"broker", "listen", CONF_STR, 0, 0, &cfg->listen},
	    [K_INSECURE] = {"broker", "insecure", CONF_BOOL, 0, 0,
	                    &cfg->insecure},
	    [K_KEEPALIVE] = {"broker", "keepalive", CONF_INT, 100, 600000,
	                     &cfg->keepalive_ms},
	    [K_CRL] = {"broker", "crl", CONF_STR, 0, 0, &cfg->crlfile},
	    [K_NOSYNC] = {"broker", "nosync", CONF_BOOL, 0, 0, &cfg->nosync},
	    [K_QUORUM] = {"broker", "flag_quorum", CONF_INT, 1, 2,
	                  &cfg->flag_quorum},
	    [K_CONFIRM] = {"broker", "confirm_window", CONF_INT, 1, 86400,
	                   &confirm_s},
	    [K_STAFF] = {"broker", "staff_delay", CONF_INT, 0, 60,
	                 &cfg->staff_delay_days},
	    [K_USER] = {"broker", "user", CONF_STR, 0, 0, &o->run_as},
	    [K_SYSLOG] = {"broker", "syslog", CONF_BOOL, 0, 0, &o->use_syslog},
	    [K_VERBOSE] = {"broker", "verbose", CONF_INT, 0, 3, &o->verbose},
	    [K_HTTP] = {"dashboard", "listen", CONF_STR, 0, 0,
	                &cfg->http_listen},
	    [K_AUTH] = {"dashboard", "auth_file", CONF_STR, 0, 0,
	                &cfg->http_auth_file},
	    [K_STALL] = {"broker", "stall_exit", CONF_INT, 0, 86400,
	                 &cfg->stall_exit_s},
	    [K_COUNT] = {NULL, NULL, CONF_STR, 0, 0, NULL},
	};
	int line[K_COUNT] = {0};
	int errors;

	errors = buf != NULL
	             ? conf_load_mem(path, buf, len, keys, line, &o->file)
	             : conf_load(path, keys, line, &o->file);
	cfg->confirm_window_ms = confirm_s * 1000;
	/* verbose in the file counts from the default level, like -v */
	if (line[K_VERBOSE] != 0)
		o->verbose += 2;
	if (line[K_DATA] != 0 && cfg->datadir == NULL) {
		conf_error(path, line[K_DATA], "data: empty value");
		errors++;
	}
	if (line[K_PKI] != 0 && cfg->pkidir == NULL) {
		conf_error(path, line[K_PKI], "pki: empty value");
		errors++;
	}
	if (line[K_LISTEN] != 0) {
		if (cfg->listen == NULL) {
			conf_error(path, line[K_LISTEN], "listen: empty value");
			errors++;
			cfg->listen = "tls+tcp://127.0.0.1:7017";
		} else if (strncmp(cfg->listen, "tls+tcp://", 10) != 0 &&
		           strncmp(cfg->listen, "tcp://", 6) != 0) {
			conf_error(path, line[K_LISTEN],
			           "listen: \"%s\" is not a tls+tcp:// URL",
			           cfg->listen);
			errors++;
		} else if (strncmp(cfg->listen, "tcp://", 6) == 0 &&
		           !cfg->insecure) {
			conf_error(path, line[K_LISTEN],
			           "listen: plain tcp:// needs insecure = yes "
			           "(loopback drills only)");
			errors++;
		}
	}
	if (line[K_HTTP] != 0 && cfg->http_listen != NULL) {
		char why[256];

		if (http_check_url(cfg->http_listen, why, sizeof(why)) != 0) {
			conf_error(path, line[K_HTTP], "listen: %s", why);
			errors++;
		}
		if (cfg->http_auth_file == NULL) {
			conf_error(path, line[K_HTTP],
			           "listen: the dashboard needs auth_file "
			           "(it never serves without authentication)");
			errors++;
		}
	}
	if (line[K_AUTH] != 0 && cfg->http_auth_file != NULL) {
		char why[512], tok[HTTP_TOKEN_MAX + 1];

		if (http_token_load(cfg->http_auth_file, tok, sizeof(tok), why,
		                    sizeof(why)) != 0) {
			conf_error(path, line[K_AUTH], "auth_file: %s", why);
			errors++;
		}
		memset(tok, 0, sizeof(tok));
	}
	return errors;
}

int
config_broker_read(const char *path, broker_cfg *cfg, broker_opts *o)
{
	return read_conf(path, NULL, 0, cfg, o);
}

int
config_broker_read_mem(const char *name, const void *buf, size_t len,
                       broker_cfg *cfg, broker_opts *o)
{
	return read_conf(name, buf != NULL ? buf : "", len, cfg, o);
}

int
config_broker_check(const broker_cfg *cfg)
{
	char why[512], tok[HTTP_TOKEN_MAX + 2];
	int errors = 0;

	if (cfg->http_listen == NULL)
		return 0;
	if (http_check_url(cfg->http_listen, why, sizeof(why)) != 0) {
		fprintf(stderr, "art17-broker: dashboard: %s\n", why);
		errors++;
	}
	if (cfg->http_auth_file == NULL) {
		fprintf(stderr, "art17-broker: dashboard: an auth file is "
		                "required (--dashboard-auth)\n");
		errors++;
	} else if (http_token_load(cfg->http_auth_file, tok, sizeof(tok), why,
	                           sizeof(why)) != 0) {
		fprintf(stderr, "art17-broker: dashboard auth file %s\n", why);
		errors++;
	}
	memset(tok, 0, sizeof(tok));
	return errors;
}
