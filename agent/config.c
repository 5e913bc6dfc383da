/*
 * config.c: the agent's configuration file (docs/art17-agent.conf.5).
 *
 * main() reads it before applying the flags, so flags override it. Every
 * problem is reported as FILE:LINE; the agent then exits with CONF_EXIT.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conf.h"

enum {
	K_DATA,
	K_KEYS,
	K_MEMBER,
	K_CONNECT,
	K_SERVER,
	K_INSECURE,
	K_NOSYNC,
	K_USER,
	K_SYSLOG,
	K_VERBOSE,
	K_ARRIVAL,
	K_OVERDUE,
	K_WITHDRAWAL,
	K_TIMEOUT,
	K_STALL,
	K_COUNT
};

/* A hook must name an executable by absolute path (its first word). */
static int
check_hook(const char *path, int line, const char *name, const char *cmd)
{
	char prog[1024];
	size_t n;

	if (cmd == NULL)
		return 0;
	n = strcspn(cmd, " \t");
	if (cmd[0] != '/' || n >= sizeof(prog)) {
		conf_error(path, line,
		           "%s: \"%s\" must start with an absolute path", name,
		           cmd);
		return 1;
	}
	memcpy(prog, cmd, n);
	prog[n] = '\0';
	if (access(prog, X_OK) != 0) {
		conf_error(path, line, "%s: %s is not an executable file", name,
		           prog);
		return 1;
	}
	return 0;
}

/* Reads the file at path, or the len bytes at buf when buf is not NULL. */
static int
read_conf(const char *path, const void *buf, size_t len, agent_cfg *cfg,
          conf_file **cf)
{
	const conf_key keys[] = {
	    [K_DATA] = {"agent", "data", CONF_STR, 0, 0, &cfg->datadir},
	    [K_KEYS] = {"agent", "keys", CONF_STR, 0, 0, &cfg->keydir},
	    [K_MEMBER] = {"agent", "member", CONF_STR, 0, 0, &cfg->member},
	    [K_CONNECT] = {"agent", "connect", CONF_STR, 0, 0, &cfg->url},
	    [K_SERVER] = {"agent", "server_name", CONF_STR, 0, 0,
	                  &cfg->server_name},
	    [K_INSECURE] = {"agent", "insecure", CONF_BOOL, 0, 0,
	                    &cfg->insecure},
	    [K_NOSYNC] = {"agent", "nosync", CONF_BOOL, 0, 0, &cfg->nosync},
	    [K_USER] = {"agent", "user", CONF_STR, 0, 0, &cfg->run_as},
	    [K_SYSLOG] = {"agent", "syslog", CONF_BOOL, 0, 0, &cfg->use_syslog},
	    [K_VERBOSE] = {"agent", "verbose", CONF_INT, 0, 3, &cfg->verbose},
	    [K_ARRIVAL] = {"hooks", "arrival", CONF_STR, 0, 0,
	                   &cfg->hook_arrival},
	    [K_OVERDUE] = {"hooks", "overdue", CONF_STR, 0, 0,
	                   &cfg->hook_overdue},
	    [K_WITHDRAWAL] = {"hooks", "withdrawal", CONF_STR, 0, 0,
	                      &cfg->hook_withdrawal},
	    [K_TIMEOUT] = {"hooks", "timeout", CONF_INT, 1, 300,
	                   &cfg->hook_timeout_s},
	    [K_STALL] = {"agent", "stall_exit", CONF_INT, 0, 86400,
	                 &cfg->stall_exit_s},
	    [K_COUNT] = {NULL, NULL, CONF_STR, 0, 0, NULL},
	};
	int line[K_COUNT] = {0};
	int errors;

	errors = buf != NULL ? conf_load_mem(path, buf, len, keys, line, cf)
	                     : conf_load(path, keys, line, cf);
	if (line[K_VERBOSE] != 0)
		cfg->verbose += 2; /* from the default level, like -v */
	if (line[K_DATA] != 0 && cfg->datadir == NULL) {
		conf_error(path, line[K_DATA], "data: empty value");
		errors++;
	}
	if (line[K_CONNECT] != 0) {
		if (cfg->url == NULL) {
			conf_error(path, line[K_CONNECT],
			           "connect: empty value");
			errors++;
		} else if (strncmp(cfg->url, "tls+tcp://", 10) != 0 &&
		           strncmp(cfg->url, "tcp://", 6) != 0) {
			conf_error(path, line[K_CONNECT],
			           "connect: \"%s\" is not a tls+tcp:// URL",
			           cfg->url);
			errors++;
		} else if (strncmp(cfg->url, "tcp://", 6) == 0 &&
		           !cfg->insecure) {
			conf_error(path, line[K_CONNECT],
			           "connect: plain tcp:// needs insecure = yes "
			           "(loopback drills only)");
			errors++;
		}
	}
	errors +=
	    check_hook(path, line[K_ARRIVAL], "arrival", cfg->hook_arrival);
	errors +=
	    check_hook(path, line[K_OVERDUE], "overdue", cfg->hook_overdue);
	errors += check_hook(path, line[K_WITHDRAWAL], "withdrawal",
	                     cfg->hook_withdrawal);
	return errors;
}

int
config_agent_read(const char *path, agent_cfg *cfg, conf_file **cf)
{
	return read_conf(path, NULL, 0, cfg, cf);
}

int
config_agent_read_mem(const char *name, const void *buf, size_t len,
                      agent_cfg *cfg, conf_file **cf)
{
	return read_conf(name, buf != NULL ? buf : "", len, cfg, cf);
}
