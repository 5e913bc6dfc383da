/* log.c: stderr in the foreground, syslog otherwise (OpenBSD style). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int log_fg = 1;
static int log_verbose = LOG_LVL_INFO;
static const char *log_prog = "art17";
static pthread_mutex_t log_mtx = PTHREAD_MUTEX_INITIALIZER;

void
log_init(int foreground, const char *progname, int verbosity)
{
	log_fg = foreground;
	log_prog = progname;
	log_verbose = verbosity;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
vlog(int lvl, const char *prefix, const char *fmt, va_list ap, int with_errno,
     int err)
{
	char buf[2048];
	int pri;
	size_t n;

	if (lvl > log_verbose)
		return;
	n = (size_t)snprintf(buf, sizeof(buf), "%s", prefix ? prefix : "");
	if (n < sizeof(buf))
		vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (with_errno) {
		n = strlen(buf);
		snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(err));
	}
	/* strings from the network end up here: no forged lines */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_fg) {
		struct timespec ts;
		struct tm tm;
		char tbuf[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		pthread_mutex_lock(&log_mtx);
		fprintf(stderr, "%s.%03ld %s: %s\n", tbuf, ts.tv_nsec / 1000000,
		        log_prog, buf);
		fflush(stderr);
		pthread_mutex_unlock(&log_mtx);
		return;
	}
	switch (lvl) {
	case LOG_LVL_ERR:
		pri = LOG_ERR;
		break;
	case LOG_LVL_WARN:
		pri = LOG_WARNING;
		break;
	case LOG_LVL_INFO:
		pri = LOG_INFO;
		break;
	default:
		pri = LOG_DEBUG;
		break;
	}
	syslog(pri, "%s", buf);
}

#define LOGFN(name, lvl, errflag)                                              \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		int saved = errno;                                             \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vlog(lvl, NULL, fmt, ap, errflag, saved);                      \
		va_end(ap);                                                    \
		errno = saved;                                                 \
	}

LOGFN(log_warn, LOG_LVL_WARN, 1)
LOGFN(log_warnx, LOG_LVL_WARN, 0)
LOGFN(log_info, LOG_LVL_INFO, 0)
LOGFN(log_debug, LOG_LVL_DEBUG, 0)

void
log_reject(const char *msgid, const char *fmt, ...)
{
	char prefix[64];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "%s rejected: ", msgid);
	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, prefix, fmt, ap, 0, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, "fatal: ", fmt, ap, 1, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, "fatal: ", fmt, ap, 0, 0);
	va_end(ap);
	exit(1);
}
