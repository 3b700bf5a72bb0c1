/*
 * beatgen: offer heartbeats to llmctld's TCP listener at a fixed rate, as
 * the ranks of many jobs would, over kept-alive connections
 * (tests/bench/heartbeat-bench.sh).
 *
 *   beatgen HOST PORT TOKENS WORLD RATE SECONDS CONNS [PER_HOST]
 *
 * TOKENS holds a heartbeat token per line; each names a job of WORLD
 * ranks. Beats go round the ranks of every job in turn, each with the
 * step it reached (one more each round), RATE a second in all, for
 * SECONDS, over CONNS connections: one request in flight on each. With
 * PER_HOST, the connections come from 127.1.0.1, 127.1.0.2, ... PER_HOST
 * each, as the ranks of nodes with PER_HOST GPUs would (llmctld caps the
 * connections per address). Prints what was offered and answered, and
 * the answers' latency; with BEATGEN_PID set, that process's CPU from the
 * first beat to the last answer (connecting left out).
 */
#define _GNU_SOURCE /* strcasestr */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 65536
#define MAX_TOKENS 65536

struct conn {
	int fd;
	int busy; /* a request in flight */
	double sent_at;
	char buf[4096];
	size_t len;
};

static char *tokens[MAX_TOKENS];
static int ntokens;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connection i; from 127.1.0.0 + 1 + i / per if per > 0. */
static int
dial(const char *host, int port, long i, long per)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in src = { .sin_family = AF_INET };
	int fd, one = 1;

	sin.sin_port = htons(port);
	src.sin_addr.s_addr = htonl(0x7f010000u + 1 + (per > 0 ? i / per : 0));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    (per > 0 && bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		perror("beatgen: connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* An answer is whole in c->buf: its status, or 0 if not yet. */
static int
answered(struct conn *c)
{
	char *end, *cl;
	size_t head, body = 0;

	c->buf[c->len] = '\0';
	if ((end = strstr(c->buf, "\r\n\r\n")) == NULL)
		return 0;
	head = end + 4 - c->buf;
	if ((cl = strcasestr(c->buf, "\r\nContent-Length:")) != NULL &&
	    cl < end)
		body = strtoul(cl + 17, NULL, 10);
	if (c->len < head + body)
		return 0;
	c->len = 0;
	return atoi(c->buf + 9);
}

/* Seconds of CPU process pid has used, or -1 (BEATGEN_PID unset). */
static double
cpu_of(const char *pid)
{
	char path[64];
	unsigned long ut, st;
	FILE *f;
	int n;

	if (pid == NULL)
		return -1;
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fscanf(f,
	    "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu",
	    &ut, &st);
	fclose(f);
	return n == 2 ? (ut + st) / (double)sysconf(_SC_CLK_TCK) : -1;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static struct conn conns[MAX_CONNS];
	static int idle[MAX_CONNS]; /* a ring of the connections at rest */
	struct epoll_event ev, evs[256];
	char line[256], req[1024], bodybuf[64];
	long world, rate, seconds, nconns, per = 0, offered = 0, ok = 0;
	long bad = 0, k, head = 0, nidle;
	double t0, end, *lat, c0, c1, t1;
	const char *pid = getenv("BEATGEN_PID");
	size_t nlat = 0;
	FILE *f;
	ssize_t r;
	int i, st, n, ep;

	if (argc != 8 && argc != 9) {
		fprintf(stderr,
		    "usage: beatgen HOST PORT TOKENS WORLD RATE "
		    "SECONDS CONNS [PER_HOST]\n");
		return 2;
	}
	if ((f = fopen(argv[3], "r")) == NULL) {
		perror(argv[3]);
		return 1;
	}
	while (ntokens < MAX_TOKENS && fscanf(f, "%255s%*[^\n]", line) == 1)
		tokens[ntokens++] = strdup(line);
	fclose(f);
	world = atol(argv[4]);
	rate = atol(argv[5]);
	seconds = atol(argv[6]);
	nconns = atol(argv[7]);
	if (argc == 9)
		per = atol(argv[8]);
	if (ntokens == 0 || world < 1 || rate < 1 || nconns < 1 ||
	    nconns > MAX_CONNS || per < 0) {
		fprintf(stderr, "beatgen: bad arguments\n");
		return 2;
	}
	lat = calloc(rate * seconds + 1, sizeof(*lat));
	if ((ep = epoll_create1(0)) == -1) {
		perror("beatgen: epoll_create1");
		return 1;
	}
	for (i = 0; i < nconns; i++) {
		conns[i].fd = dial(argv[1], atoi(argv[2]), i, per);
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
		idle[i] = i;
	}
	nidle = nconns;
	c0 = cpu_of(pid);
	t0 = now();
	end = t0 + seconds;
	while (now() < end || nlat + bad < (size_t)offered) {
		/* the beats due, each on the connection longest at rest */
		while (nidle > 0 && now() < end &&
		    offered < (long)((now() - t0) * rate)) {
			struct conn *c = &conns[idle[head]];

			head = (head + 1) % nconns;
			nidle--;
			k = offered++;
			n = snprintf(bodybuf, sizeof(bodybuf),
			    "{\"rank\":%ld,\"step\":%ld}", k % world,
			    k / (world * ntokens));
			n = snprintf(req, sizeof(req),
			    "POST /v1/heartbeat HTTP/1.1\r\nHost: llmctld\r\n"
			    "Authorization: Bearer %s\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: %d\r\n\r\n%s",
			    tokens[(k / world) % ntokens], n, bodybuf);
			if (send(c->fd, req, n, MSG_NOSIGNAL) != n) {
				perror("beatgen: send");
				return 1;
			}
			c->busy = 1;
			c->sent_at = now();
		}
		n = epoll_wait(ep, evs, 256, 1);
		if (n == -1 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			int ci = (int)evs[i].data.u32;
			struct conn *c = &conns[ci];

			r = recv(c->fd, c->buf + c->len,
			    sizeof(c->buf) - 1 - c->len, 0);
			if (r <= 0) {
				fprintf(stderr, "beatgen: connection closed\n");
				return 1;
			}
			c->len += r;
			if (!c->busy || (st = answered(c)) == 0)
				continue;
			c->busy = 0;
			idle[(head + nidle++) % nconns] = ci;
			if (st == 200) {
				ok++;
				lat[nlat++] = now() - c->sent_at;
			} else
				bad++;
		}
		if (now() > end + 10)
			break;
	}
	c1 = cpu_of(pid);
	t1 = now();
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("offered %ld beats in %ld s (%.0f/s) over %ld connections, "
	       "answered 200: %ld, other: %ld, latency p50 %.2f ms "
	       "p99 %.2f ms\n",
	    offered, seconds, offered / (double)seconds, nconns, ok, bad,
	    nlat ? lat[nlat / 2] * 1000 : 0,
	    nlat ? lat[(size_t)(nlat * 0.99)] * 1000 : 0);
	if (c0 >= 0 && c1 >= 0)
		printf("process %s: %.1f%% of one core over %.1f s\n", pid,
		    (c1 - c0) / (t1 - t0) * 100, t1 - t0);
	return 0;
}
