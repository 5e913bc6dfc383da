/*
 * hooks.c: the member's notification commands (arrival, overdue reminder,
 * withdrawal), so members can connect their own alerting or ticketing.
 *
 * The agent's threads only queue an event (bounded; when full the event
 * is dropped and logged). One hook thread runs the commands one at a
 * time through /bin/sh -c, in their own process group, with the event's
 * metadata as JSON on stdin and ART17_EVENT set. A command that outlives
 * the timeout is killed (the whole group) and logged; a non-zero exit is
 * logged. Nothing here can hold up storing or acknowledging requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent.h"
#include "log.h"

extern char **environ;

#define QUEUE_MAX 256

typedef struct hook_item {
	hook_event ev;
	char *json;
	struct hook_item *next;
} hook_item;

static struct {
	pthread_mutex_t mtx;
	pthread_cond_t cv;
	pthread_t thr;
	int started, stop;
	hook_item *head, *tail;
	size_t n;
	const char *cmd[3];
	int timeout_ms;
} H = {.mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static const char *ev_name[] = {"arrival", "overdue", "withdrawal"};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes json to fd without blocking past deadline; closes fd. */
static void
feed(int fd, const char *json, int64_t deadline)
{
	size_t len = strlen(json), off = 0;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (off < len) {
		struct pollfd p = {fd, POLLOUT, 0};
		int64_t left = deadline - mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = write(fd, json + off, len - off);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break; /* EPIPE: the hook does not read stdin */
		}
		off += (size_t)n;
	}
	close(fd);
}

static void
run_one(hook_event ev, const char *cmd, const char *json)
{
	int64_t start = mono_ms(), deadline = start + H.timeout_ms;
	int in[2], status = 0, done = 0;
	char evvar[64], **envp;
	size_t ne = 0;
	pid_t pid, w;

	/* the child may only make async-signal-safe calls: build envp here */
	while (environ[ne] != NULL)
		ne++;
	if ((envp = calloc(ne + 2, sizeof(*envp))) == NULL)
		return;
	snprintf(evvar, sizeof(evvar), "ART17_EVENT=%s", ev_name[ev]);
	envp[0] = evvar;
	for (size_t i = 0, j = 1; i < ne; i++)
		if (strncmp(environ[i], "ART17_EVENT=", 12) != 0)
			envp[j++] = environ[i];
	if (pipe2(in, O_CLOEXEC) != 0) {
		log_warn("hook %s: pipe", ev_name[ev]);
		free(envp);
		return;
	}
	if ((pid = fork()) < 0) {
		log_warn("hook %s: fork", ev_name[ev]);
		close(in[0]);
		close(in[1]);
		free(envp);
		return;
	}
	if (pid == 0) {
		/* child: async-signal-safe calls only */
		struct sigaction dfl;
		sigset_t none;

		setpgid(0, 0);
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGPIPE, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(in[0], 0) < 0 || dup2(2, 1) < 0)
			_exit(126);
		execve("/bin/sh", (char *[]){"sh", "-c", (char *)cmd, NULL},
		       envp);
		_exit(127);
	}
	free(envp);
	setpgid(pid, pid); /* both sides, so the kill below always finds it */
	close(in[0]);
	feed(in[1], json, deadline);
	while (!done) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			done = 1;
			break;
		}
		if (w < 0 && errno != EINTR)
			break;
		if (mono_ms() >= deadline)
			break;
		usleep(10 * 1000);
	}
	if (!done) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		log_warnx("hook %s: timed out after %d s; killed", ev_name[ev],
		          H.timeout_ms / 1000);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("hook %s: ran in %lld ms", ev_name[ev],
		         (long long)(mono_ms() - start));
	else if (WIFEXITED(status))
		log_warnx("hook %s: exited with status %d", ev_name[ev],
		          WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_warnx("hook %s: killed by signal %d", ev_name[ev],
		          WTERMSIG(status));
}

static void *
hook_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&H.mtx);
	for (;;) {
		hook_item *it;

		while (H.head == NULL && !H.stop)
			pthread_cond_wait(&H.cv, &H.mtx);
		if (H.stop)
			break;
		it = H.head;
		H.head = it->next;
		if (H.head == NULL)
			H.tail = NULL;
		H.n--;
		pthread_mutex_unlock(&H.mtx);
		run_one(it->ev, H.cmd[it->ev], it->json);
		free(it->json);
		free(it);
		pthread_mutex_lock(&H.mtx);
	}
	while (H.head != NULL) {
		hook_item *it = H.head;

		H.head = it->next;
		free(it->json);
		free(it);
	}
	H.tail = NULL;
	H.n = 0;
	pthread_mutex_unlock(&H.mtx);
	return NULL;
}

int
hooks_start(const agent_cfg *cfg)
{
	H.cmd[HOOK_ARRIVAL] = cfg->hook_arrival;
	H.cmd[HOOK_OVERDUE] = cfg->hook_overdue;
	H.cmd[HOOK_WITHDRAWAL] = cfg->hook_withdrawal;
	H.timeout_ms =
	    (cfg->hook_timeout_s > 0 ? cfg->hook_timeout_s : 10) * 1000;
	if (H.cmd[0] == NULL && H.cmd[1] == NULL && H.cmd[2] == NULL)
		return 0;
	if (pthread_create(&H.thr, NULL, hook_main, NULL) != 0) {
		log_warnx("hooks: cannot start their thread");
		return -1;
	}
	H.started = 1;
	log_info("hooks:%s%s%s (timeout %d s)", H.cmd[0] ? " arrival" : "",
	         H.cmd[1] ? " overdue" : "", H.cmd[2] ? " withdrawal" : "",
	         H.timeout_ms / 1000);
	return 0;
}

void
hooks_fire(hook_event ev, const char *json)
{
	hook_item *it;

	if (!H.started || H.cmd[ev] == NULL)
		return;
	if ((it = calloc(1, sizeof(*it))) == NULL ||
	    (it->json = strdup(json)) == NULL) {
		free(it);
		log_warnx("hook %s: out of memory; event dropped", ev_name[ev]);
		return;
	}
	it->ev = ev;
	pthread_mutex_lock(&H.mtx);
	if (H.n >= QUEUE_MAX || H.stop) {
		pthread_mutex_unlock(&H.mtx);
		log_warnx("hook %s: %d events waiting; event dropped",
		          ev_name[ev], QUEUE_MAX);
		free(it->json);
		free(it);
		return;
	}
	if (H.tail)
		H.tail->next = it;
	else
		H.head = it;
	H.tail = it;
	H.n++;
	pthread_cond_signal(&H.cv);
	pthread_mutex_unlock(&H.mtx);
}

void
hooks_stop(void)
{
	if (!H.started)
		return;
	pthread_mutex_lock(&H.mtx);
	H.stop = 1;
	pthread_cond_broadcast(&H.cv);
	pthread_mutex_unlock(&H.mtx);
	pthread_join(H.thr, NULL);
	H.started = 0;
}

static const char *
tlp_code(const Art17__Marking *m)
{
	static const char *n[] = {"unmarked", "CLEAR",        "GREEN",
	                          "AMBER",    "AMBER+STRICT", "RED"};

	return m != NULL && m->tlp >= 0 && m->tlp <= 5 ? n[m->tlp] : "unmarked";
}

static void
fire_json(hook_event ev, json_t *o)
{
	char *s;

	if (o == NULL)
		return;
	json_object_set_new(o, "event", json_string(ev_name[ev]));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (s != NULL) {
		hooks_fire(ev, s);
		free(s);
	}
}

void
hooks_arrival(const char *member, uint64_t seq, const Art17__Request *r,
              const Art17__CopyInfo *info)
{
	const Art17__Marking *m = r->marking;
	int secret = m != NULL && m->secret == ART17__SECRET__SECRET_YES;
	const char *ground = "none";
	json_t *o;

	if (!H.started || H.cmd[HOOK_ARRIVAL] == NULL)
		return;
	if (info != NULL && info->ground != NULL) {
		if (info->ground->kind ==
		    ART17__GROUND_KIND__GROUND_LARGE_SCALE)
			ground = "large-scale";
		else if (info->ground->kind ==
		         ART17__GROUND_KIND__GROUND_CONSENT)
			ground = "consent";
	}
	/* metadata only: no content, and no title when the item is secret */
	o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b, s:s, s:b, s:s, s:I, "
	              "s:I}",
	              "member", member, "request_id", r->request_id, "seq",
	              (json_int_t)seq, "kind",
	              r->kind == ART17__ITEM_KIND__KIND_COOPERATION_REQUEST
	                  ? "cooperation-request"
	                  : "information-share",
	              "incident_id", r->incident_id ? r->incident_id : "",
	              "exercise", r->exercise, "tlp", tlp_code(m), "secret",
	              secret, "ground", ground, "issued_ms",
	              (json_int_t)r->issued_ms, "deadline_ms",
	              (json_int_t)r->deadline_ms);
	if (o != NULL && !secret && r->title != NULL)
		json_object_set_new(o, "title", json_string(r->title));
	fire_json(HOOK_ARRIVAL, o);
}

void
hooks_overdue(const char *member, const Art17__Reminder *rem)
{
	if (!H.started || H.cmd[HOOK_OVERDUE] == NULL)
		return;
	fire_json(HOOK_OVERDUE,
	          json_pack("{s:s, s:s, s:I, s:I}", "member", member,
	                    "request_id",
	                    rem->request_id ? rem->request_id : "", "seq",
	                    (json_int_t)rem->seq, "deadline_ms",
	                    (json_int_t)rem->deadline_ms));
}

void
hooks_withdrawal(const char *member, uint64_t seq)
{
	if (!H.started || H.cmd[HOOK_WITHDRAWAL] == NULL)
		return;
	fire_json(HOOK_WITHDRAWAL,
	          json_pack("{s:s, s:I, s:s}", "member", member, "seq",
	                    (json_int_t)seq, "reason",
	                    "withdrawn by the broker before delivery: its "
	                    "ground went away"));
}
