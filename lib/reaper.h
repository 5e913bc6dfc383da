/*
 * A probe for nng's reaper thread.
 *
 * nng 1.5.2 can leave its reaper thread stuck for good on a closed
 * connection (docs/reliability.md). Nothing closed after that is freed,
 * and a dialer redials only once its old connection has been taken
 * apart. The probe is a private inproc pair in this process: kicking it
 * closes its connection, and nng makes a new one only after the reaper
 * got through the old one (and everything queued before it). A kick that
 * is not followed by a new connection within a generous time means the
 * reaper is stuck.
 */
#ifndef A17_REAPER_H
#define A17_REAPER_H

typedef struct reaper_probe reaper_probe;

/* Opens the probe (name makes its inproc address unique in the process). */
int reaper_probe_open(const char *name, reaper_probe **pp);

/* Closes the probe's connection, if it has one. Returns 1 if it did (a
 * check is under way), 0 if there was none yet. Never blocks. */
int reaper_probe_kick(reaper_probe *rp);

/* 1 once every kick so far has been answered with a new connection. */
int reaper_probe_done(reaper_probe *rp);

/* Kicks and waits up to timeout_ms: 1 if the reaper got through, 0 if
 * not (stuck, or busy for that long). */
int reaper_probe_check(reaper_probe *rp, int timeout_ms);

/* Closes it (may wait for the reaper: only when it is known to work). */
void reaper_probe_close(reaper_probe *rp);

#endif
