/*
 * beatgen: offer heartbeats to llmctld's TCP listener at a fixed rate, as
 * the ranks of many jobs would, over kept-alive connections
 * (tests/bench/heartbeat-bench.sh).
 *
 *   beatgen HOST PORT TOKENS WORLD RATE SECONDS CONNS
 *
 * TOKENS holds a heartbeat token per line; each names a job of WORLD
 * ranks. Beats go round the ranks of every job in turn, each with the
 * step it reached (one more each round), RATE a second in all, for
 * SECONDS, over CONNS connections: one request in flight on each. Prints
 * what was offered and answered, and the answers' latency.
 */
#define _GNU_SOURCE /* strcasestr */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
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

static int
dial(const char *host, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd, one = 1;

	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
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
	struct pollfd pfd[MAX_CONNS];
	char line[256], req[1024], bodybuf[64];
	long world, rate, seconds, nconns, offered = 0, ok = 0, bad = 0, k;
	double t0, end, *lat;
	size_t nlat = 0;
	FILE *f;
	ssize_t r;
	int i, st, n;

	if (argc != 8) {
		fprintf(stderr,
		    "usage: beatgen HOST PORT TOKENS WORLD RATE "
		    "SECONDS CONNS\n");
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
	if (ntokens == 0 || world < 1 || rate < 1 || nconns < 1 ||
	    nconns > MAX_CONNS) {
		fprintf(stderr, "beatgen: bad arguments\n");
		return 2;
	}
	lat = calloc(rate * seconds + 1, sizeof(*lat));
	for (i = 0; i < nconns; i++)
		conns[i].fd = dial(argv[1], atoi(argv[2]));
	t0 = now();
	end = t0 + seconds;
	while (now() < end || nlat + bad < (size_t)offered) {
		for (i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];

			/* the next beat due, on an idle connection */
			if (c->busy || now() >= end ||
			    offered >= (long)((now() - t0) * rate))
				continue;
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
		for (i = 0; i < nconns; i++) {
			pfd[i].fd = conns[i].busy ? conns[i].fd : -1;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, nconns, 1) == -1 && errno != EINTR)
			return 1;
		for (i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];

			if (pfd[i].fd == -1 || !(pfd[i].revents & POLLIN))
				continue;
			r = recv(c->fd, c->buf + c->len,
			    sizeof(c->buf) - 1 - c->len, 0);
			if (r <= 0) {
				fprintf(stderr, "beatgen: connection closed\n");
				return 1;
			}
			c->len += r;
			if ((st = answered(c)) == 0)
				continue;
			c->busy = 0;
			if (st == 200) {
				ok++;
				lat[nlat++] = now() - c->sent_at;
			} else
				bad++;
		}
		if (now() > end + 10)
			break;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("offered %ld beats in %ld s (%.0f/s), answered 200: %ld, "
	       "other: %ld, latency p50 %.2f ms p99 %.2f ms\n",
	    offered, seconds, offered / (double)seconds, ok, bad,
	    nlat ? lat[nlat / 2] * 1000 : 0,
	    nlat ? lat[(size_t)(nlat * 0.99)] * 1000 : 0);
	return 0;
}
