/*
 * conf.h: table-driven INI configuration files (inih underneath).
 *
 * A daemon describes its keys in a conf_key table; conf_load() reads the
 * file, stores each value through the table and reports every problem as
 * "FILE:LINE: message" on stderr, not just the first. Values given on the
 * command line are applied afterwards by the caller, so flags override
 * the file.
 */
#ifndef A17_CONF_H
#define A17_CONF_H

#include <stddef.h>
#include <stdio.h>

enum conf_type {
	CONF_STR,  /* const char *: a copy owned by the conf_file */
	CONF_BOOL, /* int: yes/no, true/false, on/off, 1/0 */
	CONF_INT,  /* int in [min, max] */
};

typedef struct conf_key {
	const char *section;
	const char *name;
	enum conf_type type;
	int min, max; /* CONF_INT only */
	void *dst;    /* const char ** or int * */
} conf_key;

/* Strings kept for the lifetime of the configuration. */
typedef struct conf_file conf_file;

/*
 * Reads path against keys (terminated by a NULL name). *line_of[i] is
 * filled with the line key i was set on (0: not in the file) when
 * line_of is not NULL. Returns the number of errors reported (0: all
 * good); *cf holds the strings and is freed with conf_free().
 */
int conf_load(const char *path, const conf_key *keys, int *line_of,
              conf_file **cf);
/*
 * The same over the len bytes at buf (no NUL needed), named name in the
 * messages: the bytes go through the reader a file goes through. For
 * the fuzz harness (tests/fuzz/fuzz_config.c).
 */
int conf_load_mem(const char *name, const void *buf, size_t len,
                  const conf_key *keys, int *line_of, conf_file **cf);
void conf_free(conf_file *cf);

/* s as a whole number in min..max into *out: 0, or -1 (nothing set). */
int conf_parse_int(const char *s, int min, int max, int *out);
/*
 * A daemon's configuration lives as long as the process: cf is freed at
 * exit(), whichever way main returns.
 */
void conf_free_at_exit(conf_file *cf);

/*
 * Sends conf_error()'s messages to f instead of stderr (NULL: stderr
 * again). The fuzz harness points it at /dev/null, so the messages are
 * still formatted but do not flood its output.
 */
void conf_set_errors(FILE *f);

/* Reports one more error in the file's format ("FILE:LINE: ..."). */
void conf_error(const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exit status for a configuration error (sysexits' EX_CONFIG). */
#define CONF_EXIT 78

#endif
