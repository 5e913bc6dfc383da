/* A probe for nng's reaper thread: see reaper.h. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>

#include "err.h"
#include "reaper.h"

struct reaper_probe {
	nng_socket l, d;
	atomic_uint pipe; /* the probe's connection, 0: none */
	atomic_uint adds; /* connections made */
	unsigned want;    /* adds to wait for */
};

static void
probe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	reaper_probe *rp = arg;

	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_store(&rp->pipe, nng_pipe_id(p));
		atomic_fetch_add(&rp->adds, 1);
	}
}

int
reaper_probe_open(const char *name, reaper_probe **pp)
{
	reaper_probe *rp;
	char url[128];
	int rv;

	if ((rp = calloc(1, sizeof(*rp))) == NULL)
		return A17_ENOMEM;
	atomic_init(&rp->pipe, 0);
	atomic_init(&rp->adds, 0);
	rp->want = 1; /* the first connection, too, needs the reaper */
	snprintf(url, sizeof(url), "inproc://art17-reaper-probe-%s", name);
	if ((rv = nng_pair0_open(&rp->l)) != 0 ||
	    (rv = nng_listen(rp->l, url, NULL, 0)) != 0 ||
	    (rv = nng_pair0_open(&rp->d)) != 0 ||
	    (rv = nng_socket_set_ms(rp->d, NNG_OPT_RECONNMINT, 50)) != 0 ||
	    (rv = nng_socket_set_ms(rp->d, NNG_OPT_RECONNMAXT, 500)) != 0 ||
	    (rv = nng_pipe_notify(rp->d, NNG_PIPE_EV_ADD_POST, probe_cb, rp)) !=
	        0 ||
	    (rv = nng_dial(rp->d, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		nng_close(rp->d);
		nng_close(rp->l);
		free(rp);
		return a17_err_nng(rv);
	}
	*pp = rp;
	return 0;
}

int
reaper_probe_kick(reaper_probe *rp)
{
	nng_pipe p = NNG_PIPE_INITIALIZER;

	if ((p.id = atomic_exchange(&rp->pipe, 0)) == 0)
		return 0;
	rp->want = atomic_load(&rp->adds) + 1;
	nng_pipe_close(p);
	return 1;
}

int
reaper_probe_done(reaper_probe *rp)
{
	return atomic_load(&rp->adds) >= rp->want;
}

int
reaper_probe_check(reaper_probe *rp, int timeout_ms)
{
	struct timespec ts = {0, 50 * 1000 * 1000};
	int waited;

	/* a connection (the first one, or back after the last kick) */
	for (waited = 0; !reaper_probe_done(rp); waited += 50) {
		if (waited >= timeout_ms)
			return 0;
		nanosleep(&ts, NULL);
	}
	reaper_probe_kick(rp);
	for (; !reaper_probe_done(rp); waited += 50) {
		if (waited >= timeout_ms)
			return 0;
		nanosleep(&ts, NULL);
	}
	return 1;
}

void
reaper_probe_close(reaper_probe *rp)
{
	if (rp == NULL)
		return;
	nng_close(rp->d);
	nng_close(rp->l);
	free(rp);
}
