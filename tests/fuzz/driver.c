/*
 * driver.c: main() for the fuzz harnesses where libFuzzer is not available
 * (gcc builds, including CI's ASan/UBSan build).
 *
 *   fuzz_X [-runs=N] [-seed=S] DIR_OR_FILE...
 *
 * Replays every file given (or every file in each directory given), then
 * makes N mutated inputs from them (bit flips, byte changes, truncation,
 * insertion, splicing) with a fixed seed, so a failure can be repeated.
 * Options libFuzzer takes that mean nothing here are ignored.
 */
#include <dirent.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fuzz.h"

#define FUZZ_MAX_INPUT 65536

static uint8_t **seeds;
static size_t *seedlen;
static size_t nseeds;

static void
add_file(const char *path)
{
	FILE *f;
	uint8_t *buf;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL)
		return;
	if ((buf = malloc(FUZZ_MAX_INPUT)) == NULL)
		abort();
	n = fread(buf, 1, FUZZ_MAX_INPUT, f);
	fclose(f);
	seeds = realloc(seeds, (nseeds + 1) * sizeof(*seeds));
	seedlen = realloc(seedlen, (nseeds + 1) * sizeof(*seedlen));
	if (seeds == NULL || seedlen == NULL)
		abort();
	seeds[nseeds] = buf;
	seedlen[nseeds] = n;
	nseeds++;
}

static void
add_path(const char *path)
{
	struct stat st;
	struct dirent *de;
	char fn[4096];
	DIR *d;

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(fn, sizeof(fn), "%s/%s", path, de->d_name);
		add_file(fn);
	}
	closedir(d);
}

/* The input being run, written to ./crash-input if it aborts. */
static const uint8_t *cur;
static size_t curlen;

static void
on_abort(int sig)
{
	int fd = open("crash-input", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0) {
		(void)!write(fd, cur, curlen);
		close(fd);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
run_one(const uint8_t *p, size_t n)
{
	cur = p;
	curlen = n;
	LLVMFuzzerTestOneInput(p, n);
}

/* xorshift64*: deterministic for a given seed */
static uint64_t rs;
static uint64_t
rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return (rs * 2685821657736338717ULL);
}

static size_t
mutate(uint8_t *buf, size_t n)
{
	int k, steps = 1 + (int)(rnd() % 4);
	size_t i, j, m;

	for (k = 0; k < steps; k++) {
		switch (rnd() % 6) {
		case 0: /* flip a bit */
			if (n > 0)
				buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1: /* set a byte to an interesting value */
			if (n > 0) {
				static const uint8_t v[] = {
				    0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x22};
				buf[rnd() % n] = v[rnd() % sizeof(v)];
			}
			break;
		case 2: /* truncate */
			if (n > 0)
				n = rnd() % n;
			break;
		case 3: /* insert random bytes */
			m = 1 + rnd() % 8;
			if (n + m <= FUZZ_MAX_INPUT) {
				i = n > 0 ? rnd() % (n + 1) : 0;
				memmove(buf + i + m, buf + i, n - i);
				for (j = 0; j < m; j++)
					buf[i + j] = (uint8_t)rnd();
				n += m;
			}
			break;
		case 4: /* splice in the tail of another seed */
			if (nseeds > 0) {
				size_t s = rnd() % nseeds, off;
				i = n > 0 ? rnd() % (n + 1) : 0;
				off = seedlen[s] > 0 ? rnd() % seedlen[s] : 0;
				m = seedlen[s] - off;
				if (i + m > FUZZ_MAX_INPUT)
					m = FUZZ_MAX_INPUT - i;
				memcpy(buf + i, seeds[s] + off, m);
				n = i + m;
			}
			break;
		default: /* delete a byte */
			if (n > 0) {
				i = rnd() % n;
				memmove(buf + i, buf + i + 1, n - i - 1);
				n--;
			}
			break;
		}
	}
	return (n);
}

int
main(int argc, char **argv)
{
	unsigned long long runs = 10000, r;
	uint8_t *buf;
	size_t n, s;
	int i;

	rs = 0x9e3779b97f4a7c15ULL;
	signal(SIGABRT, on_abort);
	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "-runs=", 6) == 0)
			runs = strtoull(argv[i] + 6, NULL, 10);
		else if (strncmp(argv[i], "-seed=", 6) == 0)
			rs = strtoull(argv[i] + 6, NULL, 10) | 1;
		else if (argv[i][0] != '-')
			add_path(argv[i]);
	}
	for (s = 0; s < nseeds; s++) {
		/* a copy, so that a read past the end is caught by ASan */
		if ((buf = malloc(seedlen[s] + 1)) == NULL)
			abort();
		memcpy(buf, seeds[s], seedlen[s]);
		run_one(buf, seedlen[s]);
		free(buf);
	}
	if ((buf = malloc(FUZZ_MAX_INPUT)) == NULL)
		abort();
	for (r = 0; r < runs; r++) {
		if (nseeds > 0) {
			s = rnd() % nseeds;
			memcpy(buf, seeds[s], seedlen[s]);
			n = mutate(buf, seedlen[s]);
		} else {
			n = mutate(buf, 0);
		}
		uint8_t *in = malloc(n > 0 ? n : 1);
		if (in == NULL)
			abort();
		memcpy(in, buf, n);
		run_one(in, n);
		free(in);
	}
	printf("driver: %zu seeds replayed, %llu mutated runs\n", nseeds, runs);
	free(buf);
	for (s = 0; s < nseeds; s++)
		free(seeds[s]);
	free(seeds);
	free(seedlen);
	return (0);
}
