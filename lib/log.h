/*
 * log.h: logging in the OpenBSD daemon manner.
 *
 * log_warn() appends strerror(errno); log_warnx() does not. Output goes to
 * stderr when foreground (log_init(1, ...)) and to syslog otherwise.
 * Network-input rejections use log_reject() with a stable message id
 * ("A17-Wnnnn") so operators and tests can grep for them.
 * fatal()/fatalx() are for start-up and broken invariants only.
 * Nothing secret is ever passed to these functions.
 */
#ifndef A17_LOG_H
#define A17_LOG_H

#include <stdarg.h>

enum { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(int foreground, const char *progname, int verbosity);
void log_setverbose(int v);
int log_getverbose(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A rejected network input: msgid is stable, e.g. "A17-W0201". */
void log_reject(const char *msgid, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
