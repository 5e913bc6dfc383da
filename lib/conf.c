/*
 * conf.c: INI configuration files through inih, every error reported
 * with its file and line.
 *
 * inih's handler does not get the line number in Debian's build, and its
 * return value names only the first bad line. So the file is fed through
 * ini_parse_stream() with a reader that counts lines and reports the
 * lines inih would skip (syntax errors, unknown sections, overlong
 * lines, NUL bytes); the handler reports bad keys and values at the
 * reader's line. check_line() follows inih's own reading of a line
 * (ini.c: whitespace, a byte-order mark on line 1, inline comments,
 * indented continuation lines), so that whatever inih refuses is
 * reported here too (tests/fuzz/fuzz_config.c checks this).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "conf.h"

struct conf_file {
	char **strs;
	size_t n_strs;
};

typedef struct parse {
	const char *path;
	FILE *fp;
	const conf_key *keys;
	int *line_of;
	int line;
	int errors;
	int bad_section;
	int in_key;       /* inih's prev_name: a key seen since the section */
	int continuation; /* the current line continues the key above */
	conf_file *cf;
} parse;

static FILE *err_out; /* NULL: stderr */

void
conf_set_errors(FILE *f)
{
	err_out = f;
}

void
conf_error(const char *path, int line, const char *fmt, ...)
{
	FILE *f = err_out != NULL ? err_out : stderr;
	va_list ap;

	if (line > 0)
		fprintf(f, "%s:%d: ", path, line);
	else
		fprintf(f, "%s: ", path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

static void perr(parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
perr(parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_error(p->path, p->line, "%s", msg);
	p->errors++;
}

static int
known_section(const parse *p, const char *s, size_t len)
{
	for (const conf_key *k = p->keys; k->name != NULL; k++)
		if (strlen(k->section) == len &&
		    strncasecmp(k->section, s, len) == 0)
			return 1;
	return 0;
}

/*
 * inih's ini_find_chars_or_comment(): the first of chars in s, or an
 * inline comment (';' after whitespace), or the end of s.
 */
static const char *
find_chars_or_comment(const char *s, const char *chars)
{
	int was_space = 0;

	while (*s != '\0' && strchr(chars, *s) == NULL &&
	       !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/*
 * Checks the shape of one whole line, as inih will see it: what inih
 * refuses only shows in its return value, which names the first bad line
 * and no more, so every such line is reported here.
 */
static void
check_line(parse *p, const char *line)
{
	const char *s = line, *e;

	p->continuation = 0;
	if (p->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3; /* a UTF-8 byte-order mark, which inih skips */
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return;
	if (p->in_key && s > line) {
		/* inih hands it to the handler as the key above, again */
		p->continuation = 1;
		perr(p, "indented line: taken as the continuation of the "
		        "value above (values are one line; remove the "
		        "indentation)");
		return;
	}
	if (*s == '[') {
		e = find_chars_or_comment(s + 1, "]");
		if (*e == ';' && strchr(e, ']') != NULL) {
			perr(p, "syntax error: a ';' after a space starts a "
			        "comment, which hides the closing ']'");
			return;
		}
		if (*e != ']') {
			perr(p, "syntax error: section name without a "
			        "closing ']'");
			return;
		}
		s++;
		p->in_key = 0;
		/* inih keeps spaces inside the brackets: so does the check */
		p->bad_section = !known_section(p, s, (size_t)(e - s));
		if (p->bad_section)
			perr(p, "unknown section [%.*s]", (int)(e - s), s);
		return;
	}
	e = find_chars_or_comment(s, "=:");
	if (*e == ';' && strpbrk(e, "=:") != NULL) {
		perr(p, "syntax error: a ';' after a space starts a comment, "
		        "which hides the '='");
		return;
	}
	if (*e != '=' && *e != ':') {
		perr(p, "syntax error: expected \"key = value\" or "
		        "\"[section]\"");
		return;
	}
	p->in_key = e > s; /* inih: an empty name ends a continuation */
}

/*
 * fgets() for inih, one line at a time. A line longer than inih's buffer
 * is reported and skipped whole (inih would take its rest for another
 * line); a line holding a NUL byte is reported and skipped (inih would
 * see only the part before it, and the NUL hides where fgets stopped, so
 * the buffer is filled with a non-NUL byte first: the last NUL in it is
 * the one fgets wrote after the line).
 */
static char *
reader(char *str, int num, void *arg)
{
	parse *p = arg;
	size_t len, got;

	memset(str, 0x01, (size_t)num);
	if (fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line++;
	got = (size_t)((char *)memrchr(str, '\0', (size_t)num) - str);
	len = strlen(str);
	if (got > 0 && str[got - 1] != '\n' && !feof(p->fp)) {
		int c;

		/* skip the rest: inih would take it for another line */
		while ((c = fgetc(p->fp)) != EOF && c != '\n')
			;
		perr(p, "line too long (at most %d characters)", num - 2);
		str[0] = '\0';
		return str;
	}
	if (len != got) {
		perr(p, "NUL byte in the line (not a text file?)");
		str[0] = '\0';
		return str;
	}
	check_line(p, str);
	return str;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *yes[] = {"yes", "true", "on", "1"};
	static const char *no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
keep_str(parse *p, const char *v, const char **dst)
{
	char **n;
	char *s;

	if ((s = strdup(v)) == NULL)
		return -1;
	n = realloc(p->cf->strs, (p->cf->n_strs + 1) * sizeof(*n));
	if (n == NULL) {
		free(s);
		return -1;
	}
	p->cf->strs = n;
	p->cf->strs[p->cf->n_strs++] = s;
	*dst = s;
	return 0;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	parse *p = user;
	const conf_key *k;
	size_t i;

	if (p->bad_section || p->continuation)
		return 1; /* reported at the section's line, or this one */
	for (i = 0, k = p->keys; k->name != NULL; k++, i++)
		if (strcasecmp(k->section, section) == 0 &&
		    strcasecmp(k->name, name) == 0)
			break;
	if (k->name == NULL && *section == '\0') {
		perr(p, "key \"%s\" outside a section", name);
		return 1;
	}
	if (k->name == NULL) {
		perr(p, "unknown key \"%s\" in [%s]", name, section);
		return 1;
	}
	if (p->line_of != NULL) {
		if (p->line_of[i] != 0) {
			perr(p, "%s: set again (first set on line %d)", k->name,
			     p->line_of[i]);
			return 1;
		}
		p->line_of[i] = p->line;
	}
	switch (k->type) {
	case CONF_STR:
		if (*value == '\0') {
			*(const char **)k->dst = NULL;
		} else if (keep_str(p, value, k->dst) != 0) {
			perr(p, "%s: out of memory", k->name);
		}
		break;
	case CONF_BOOL:
		if (parse_bool(value, k->dst) != 0)
			perr(p, "%s: \"%s\" is not yes or no", k->name, value);
		break;
	case CONF_INT:
		if (conf_parse_int(value, k->min, k->max, k->dst) != 0)
			perr(p, "%s: \"%s\" is not a whole number in %d..%d",
			     k->name, value, k->min, k->max);
		break;
	}
	return 1;
}

/* Reads p->fp (closed here) through inih; returns the errors reported. */
static int
load_stream(parse *p)
{
	int rv;

	rv = ini_parse_stream(reader, p, handler, p);
	if (ferror(p->fp)) {
		conf_error(p->path, p->line, "read error: %s", strerror(errno));
		p->errors++;
	}
	fclose(p->fp);
	if (rv == -2) {
		conf_error(p->path, 0, "out of memory");
		p->errors++;
	}
	return p->errors;
}

static int
load_init(parse *p, const char *path, const conf_key *keys, int *line_of,
          conf_file **cfp)
{
	memset(p, 0, sizeof(*p));
	p->path = path;
	p->keys = keys;
	p->line_of = line_of;
	if ((p->cf = calloc(1, sizeof(*p->cf))) == NULL) {
		conf_error(path, 0, "out of memory");
		return -1;
	}
	*cfp = p->cf;
	return 0;
}

int
conf_parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

int
conf_load(const char *path, const conf_key *keys, int *line_of, conf_file **cfp)
{
	parse p;

	if (load_init(&p, path, keys, line_of, cfp) != 0)
		return 1;
	if ((p.fp = fopen(path, "r")) == NULL) {
		conf_error(path, 0, "cannot open: %s", strerror(errno));
		return 1;
	}
	return load_stream(&p);
}

int
conf_load_mem(const char *name, const void *buf, size_t len,
              const conf_key *keys, int *line_of, conf_file **cfp)
{
	parse p;

	if (load_init(&p, name, keys, line_of, cfp) != 0)
		return 1;
	/* a stream over the bytes: the same reader as for a file */
	if ((p.fp = fmemopen(len > 0 ? (void *)buf : "", len, "r")) == NULL) {
		conf_error(name, 0, "cannot read: %s", strerror(errno));
		return 1;
	}
	return load_stream(&p);
}

void
conf_free(conf_file *cf)
{
	if (cf == NULL)
		return;
	for (size_t i = 0; i < cf->n_strs; i++)
		free(cf->strs[i]);
	free(cf->strs);
	free(cf);
}

static conf_file *at_exit_cf;

static void
free_at_exit(void)
{
	conf_free(at_exit_cf);
	at_exit_cf = NULL;
}

void
conf_free_at_exit(conf_file *cf)
{
	if (at_exit_cf != NULL)
		conf_free(at_exit_cf);
	else
		atexit(free_at_exit);
	at_exit_cf = cf;
}
