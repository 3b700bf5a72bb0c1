/*
 * spec-units: durations and memory sizes as a spec writes them, both ways,
 * and the names of the spec's enumerations. Values are checked for overflow
 * before they are multiplied, so "99999999999d" is an error, not a wrap.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec-int.h"
#include "util.h"

#define DURATION_MAX (3650LL * 86400) /* ten years */
#define MEMORY_MAX_MB (1ULL << 30) /* 1024T */

static int digits(const char **, int, int64_t *);

static const char *const launcher_names[] = {
	[LAUNCHER_SRUN] = "srun",
	[LAUNCHER_TORCHRUN] = "torchrun",
	[LAUNCHER_MPI] = "mpi",
	[LAUNCHER_SCRIPT] = "script",
};

static const char *const fabric_names[] = {
	[FABRIC_UNSET] = "unset",
	[FABRIC_ETHERNET] = "ethernet",
	[FABRIC_INFINIBAND] = "infiniband",
};

static const struct {
	const char *name;
	int signo;
} signals[] = {
	[SPEC_SIG_NONE] = { "none", 0 },
	[SPEC_SIG_USR1] = { "USR1", SIGUSR1 },
	[SPEC_SIG_USR2] = { "USR2", SIGUSR2 },
	[SPEC_SIG_TERM] = { "TERM", SIGTERM },
	[SPEC_SIG_INT] = { "INT", SIGINT },
	[SPEC_SIG_HUP] = { "HUP", SIGHUP },
	[SPEC_SIG_URG] = { "URG", SIGURG },
};

static const char *const policy_names[] = {
	[POLICY_PACK] = "pack",
	[POLICY_SPREAD] = "spread",
	[POLICY_ANY] = "any",
};

const char *
spec_launcher_name(enum spec_launcher l)
{
	if ((size_t)l >= nitems(launcher_names))
		return "unknown";
	return launcher_names[l];
}

const char *
spec_fabric_name(enum spec_fabric f)
{
	if ((size_t)f >= nitems(fabric_names))
		return "unknown";
	return fabric_names[f];
}

const char *
spec_signal_name(enum spec_signal s)
{
	if ((size_t)s >= nitems(signals))
		return "unknown";
	return signals[s].name;
}

int
spec_signal_number(enum spec_signal s)
{
	if ((size_t)s >= nitems(signals))
		return 0;
	return signals[s].signo;
}

const char *
spec_policy_name(enum spec_policy p)
{
	if ((size_t)p >= nitems(policy_names))
		return "unknown";
	return policy_names[p];
}

/*
 * At least one and at most max decimal digits at *sp (max 0: up to 18, so
 * the value fits an int64_t); advances *sp.
 */
static int
digits(const char **sp, int max, int64_t *v)
{
	const char *s = *sp;
	int n = 0;

	if (max == 0)
		max = 18;
	*v = 0;
	while (*s >= '0' && *s <= '9') {
		if (++n > max)
			return -1;
		*v = *v * 10 + (*s++ - '0');
	}
	if (n == 0)
		return -1;
	*sp = s;
	return 0;
}

int
spec_parse_duration(const char *s, int64_t *secs, char **cause)
{
	const char *p = s;
	char *q;
	int64_t v, days = 0, f[3];
	int nf = 0, has_days = 0;

	if (digits(&p, 0, &v) != 0)
		goto bad;
	if (*p == '\0')
		*secs = v;
	else if (p[1] == '\0' && strchr("smhd", *p) != NULL) {
		if (v > DURATION_MAX)
			goto range;
		*secs = v *
		    (*p == 's'          ? 1
		            : *p == 'm' ? 60
		            : *p == 'h' ? 3600
		                        : 86400);
	} else if (*p == '-' || *p == ':') {
		/* Slurm's forms: D-H, D-H:M, D-H:M:S, M:S, H:M:S. */
		if (*p == '-') {
			if (v > DURATION_MAX / 86400)
				goto range;
			days = v;
			has_days = 1;
			p++;
		} else {
			if (p - s > 2)
				goto bad;
			f[nf++] = v;
			p++;
		}
		for (;;) {
			if (nf == 3 || digits(&p, 2, &f[nf]) != 0)
				goto bad;
			nf++;
			if (*p == '\0')
				break;
			if (*p++ != ':')
				goto bad;
		}
		if (!has_days && nf == 2) {
			if (f[1] > 59)
				goto bad;
			*secs = f[0] * 60 + f[1];
		} else {
			while (nf < 3)
				f[nf++] = 0;
			if ((has_days && f[0] > 23) || f[1] > 59 || f[2] > 59)
				goto bad;
			*secs = days * 86400 + f[0] * 3600 + f[1] * 60 + f[2];
		}
	} else
		goto bad;
	if (*secs > DURATION_MAX)
		goto range;
	return 0;
bad:
	q = spec_show(s, strlen(s));
	set_cause(cause,
	    "expected a duration like 90s, 30m, 12h, 2d or "
	    "D-HH:MM:SS, got %s",
	    q);
	free(q);
	return -1;
range:
	q = spec_show(s, strlen(s));
	set_cause(
	    cause, "duration %s is longer than %lldd", q, DURATION_MAX / 86400);
	free(q);
	return -1;
}

int
spec_parse_memory(const char *s, uint64_t *mb, char **cause)
{
	const char *p = s;
	char *q;
	uint64_t mult = 1;
	int64_t v;
	int unit = 1;

	if (digits(&p, 0, &v) != 0)
		goto bad;
	switch (*p) {
	case 'M':
	case 'm':
		break;
	case 'G':
	case 'g':
		mult = 1024;
		break;
	case 'T':
	case 't':
		mult = 1024 * 1024;
		break;
	default:
		unit = 0;
		break;
	}
	p += unit;
	if (*p != '\0' &&
	    (!unit || (strcmp(p, "B") != 0 && strcmp(p, "iB") != 0)))
		goto bad;
	if (v == 0)
		return set_cause(cause, "memory size must be more than 0");
	if ((uint64_t)v > MEMORY_MAX_MB / mult) {
		q = spec_show(s, strlen(s));
		set_cause(cause, "memory size %s is larger than 1024T", q);
		free(q);
		return -1;
	}
	*mb = (uint64_t)v * mult;
	return 0;
bad:
	q = spec_show(s, strlen(s));
	set_cause(cause, "expected a size like 512G, 64000M or 1T, got %s", q);
	free(q);
	return -1;
}

/* The largest unit that is exact: 600 is "10m", 90 is "90s", 0 is "0". */
char *
spec_format_duration(int64_t s)
{
	if (s == 0)
		return xstrdup("0");
	if (s % 86400 == 0)
		return xasprintf("%lldd", (long long)(s / 86400));
	if (s % 3600 == 0)
		return xasprintf("%lldh", (long long)(s / 3600));
	if (s % 60 == 0)
		return xasprintf("%lldm", (long long)(s / 60));
	return xasprintf("%llds", (long long)s);
}

char *
spec_format_memory(uint64_t mb)
{
	if (mb != 0 && mb % (1024 * 1024) == 0)
		return xasprintf("%lluT", (unsigned long long)(mb >> 20));
	if (mb != 0 && mb % 1024 == 0)
		return xasprintf("%lluG", (unsigned long long)(mb >> 10));
	return xasprintf("%lluM", (unsigned long long)mb);
}

int
spec_world_size(const struct spec *sp)
{
	return sp->resources.nodes * sp->resources.tasks_per_node;
}
