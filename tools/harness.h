/*
 * harness.h: process and /proc helpers shared by the harnesses that start
 * real daemons (art17-bench, art17-drill, the torture test client).
 */
#ifndef A17_HARNESS_H
#define A17_HARNESS_H

#include <sys/types.h>

/* Sleeps ms milliseconds, resuming after signals. */
void harness_sleep_ms(int ms);

/* A TCP port on loopback the kernel had free a moment ago; -1 on error. */
int harness_free_port(void);

/* Waits up to timeout_ms for pid to exit: 0 and *status, -1 on timeout or
 * error (the child is left running). */
int harness_wait_pid(pid_t pid, int timeout_ms, int *status);

/*
 * Starts argv[0] with argv, stdout and stderr appended to logpath (mode
 * 0600). die_with_parent: the child gets SIGKILL when this process dies.
 * setup, if not NULL, runs in the child just before exec (environment).
 * Returns the pid, or -1.
 */
pid_t harness_spawn(char *const argv[], const char *logpath,
                    int die_with_parent, void (*setup)(void *), void *arg);

/* CPU time (user + system) of pid in ms, from /proc; -1 if unknown. */
double harness_proc_cpu_ms(pid_t pid);

/* A "Name: N kB" field of /proc/pid/status (field with its colon, e.g.
 * "VmHWM:") in KiB; -1 if unknown. */
double harness_proc_status_kib(pid_t pid, const char *field);

#endif
