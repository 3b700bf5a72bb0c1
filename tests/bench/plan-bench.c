/*
 * plan-bench: how fast the planner is and how many switches it uses, next
 * to Slurm's own choice on the same fragmented cluster.
 *
 *   plan-bench frag TOPOLOGY.CONF SEED BUSY
 *	prints the nodes a fragmentation seed makes busy, as one hostlist
 *	line, for `scontrol update State=DRAIN`
 *   plan-bench run [-c TOPOLOGY.CONF | -g LEAVES:PER_LEAF:SPINES]
 *	[-s SEEDS] [-b BUSY] [-r REPS] [-j SIZES] [-S SLURM_CHOICES]
 *	times plan_make() on each fragmentation and job size; with -S (lines
 *	"SEED NODES HOSTLIST" from sbatch --test-only) scores Slurm's choice
 *
 * The cluster follows tests/cluster/slurm-cluster's names (c1.., leaf0..,
 * spine0.., core) so both see the same nodes; busy nodes are drained.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostlist.h"
#include "plan.h"
#include "topo.h"
#include "util.h"

#define MAX_SIZES 32

struct score {
	int level; /* of the spanning switch */
	int leaves;
	int spines; /* level-1 switches */
};

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double
unit(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

/* topology.conf as slurm-cluster writes it for --nodes 0 --cloud N. */
static char *
synthetic_conf(int leaves, int per, int spines)
{
	char *conf = xstrdup(""), *tmp;
	int l, s, per_spine = (leaves + spines - 1) / spines;

	for (l = 0; l < leaves; l++) {
		tmp = xasprintf("%sSwitchName=leaf%d Nodes=c[%d-%d]\n", conf, l,
		    l * per + 1, (l + 1) * per);
		free(conf);
		conf = tmp;
	}
	for (s = 0; s < spines; s++) {
		tmp = xasprintf("%sSwitchName=spine%d Switches=leaf[%d-%d]\n",
		    conf, s, s * per_spine,
		    (s + 1) * per_spine - 1 < leaves ? (s + 1) * per_spine - 1
		                                     : leaves - 1);
		free(conf);
		conf = tmp;
	}
	if (spines > 1) {
		tmp = xasprintf("%sSwitchName=core Switches=spine[0-%d]\n",
		    conf, spines - 1);
		free(conf);
		conf = tmp;
	}
	return conf;
}

/*
 * The cluster of a topology.conf with 8-GPU nodes, fragmented by seed: each
 * leaf gets a busy fraction drawn up to busy and each of its nodes is
 * drained with that chance.
 */
static struct topo *
build(const char *conf, uint64_t seed, double busy)
{
	struct topo *t = topo_create();
	struct topo_node_info info = {
		.gpus = 8, .free_gpus = 0xff, .nvlink_domain = -1
	};
	struct hostlist hl = { 0 };
	char *copy = xstrdup(conf), *line, *save, *name, *sw, *nd, *cause;
	uint64_t rng = seed * 1000003 + 17;
	double u;
	size_t i;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "SwitchName=", 11) != 0)
			continue;
		name = line + 11;
		sw = strstr(line, " Switches=");
		nd = strstr(line, " Nodes=");
		*strchr(name, ' ') = '\0';
		if (sw != NULL)
			sw += 10;
		if (nd != NULL) {
			nd += 7;
			nd[strcspn(nd, " ")] = '\0';
			u = busy * unit(&rng);
			if (hostlist_expand(&hl, nd, &cause) != 0) {
				fprintf(stderr, "plan-bench: %s\n", cause);
				exit(1);
			}
			for (i = 0; i < hl.n; i++) {
				info.name = hl.names[i];
				info.state =
				    unit(&rng) < u ? TOPO_DRAIN : TOPO_IDLE;
				topo_add_node(t, &info, NULL);
			}
			hostlist_clear(&hl);
		}
		if (sw != NULL)
			sw[strcspn(sw, " ")] = '\0';
		topo_add_switch(t, name, sw, nd, NULL);
	}
	free(copy);
	if (topo_finish(t, &cause) != 0) {
		fprintf(stderr, "plan-bench: %s\n", cause);
		exit(1);
	}
	return t;
}

static void
score_nodes(const struct topo *t, const int *nodes, size_t n, struct score *s)
{
	int *used = xcalloc(t->nswitches, sizeof(int)), lca, b;
	size_t i;

	memset(s, 0, sizeof(*s));
	lca = t->nodes[nodes[0]].leaf;
	for (i = 0; i < n; i++) {
		while (!topo_switch_contains(t, lca, t->nodes[nodes[i]].leaf))
			lca = t->switches[lca].parent;
		for (b = t->nodes[nodes[i]].leaf; b != -1 && !used[b];
		     b = t->switches[b].parent)
			used[b] = 1;
	}
	for (i = 0; i < t->nswitches; i++)
		if (used[i] && topo_switch_contains(t, lca, (int)i)) {
			s->leaves += t->switches[i].level == 0;
			s->spines += t->switches[i].level == 1;
		}
	s->level = t->switches[lca].level;
	free(used);
}

static int
cmp_double_cb(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Slurm's choice for seed and size from the -S file, or NULL. */
static char *
slurm_choice(const char *file, int seed, int size)
{
	FILE *f;
	char line[65536], list[65536];
	int s, n;

	if (file == NULL || (f = fopen(file, "r")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%d %d %65535s", &s, &n, list) == 3 &&
		    s == seed && n == size) {
			fclose(f);
			return xstrdup(list);
		}
	fclose(f);
	return NULL;
}

static int
frag(int argc, char **argv)
{
	struct topo *t;
	char *conf;
	size_t len, i;
	int first = 1;

	if (argc != 5 || read_file(argv[2], 1 << 24, &conf, &len, NULL) != 0)
		return 2;
	t = build(conf, strtoull(argv[3], NULL, 10), atof(argv[4]));
	for (i = 0; i < t->nnodes; i++)
		if (t->nodes[i].state == TOPO_DRAIN) {
			printf("%s%s", first ? "" : ",", t->nodes[i].name);
			first = 0;
		}
	printf("\n");
	topo_free(t);
	free(conf);
	return 0;
}

/* Fewest leaves that could hold n free nodes, spines ignored. */
static int
leaf_bound(const struct topo *t, int n)
{
	int *cap = xcalloc(t->nswitches, sizeof(int)), i, j, x, k = 0;
	size_t v;

	for (v = 0; v < t->nnodes; v++)
		if (t->nodes[v].state == TOPO_IDLE)
			cap[t->nodes[v].leaf]++;
	for (i = 1; i < (int)t->nswitches; i++)
		for (j = i; j > 0 && cap[j] > cap[j - 1]; j--) {
			x = cap[j];
			cap[j] = cap[j - 1];
			cap[j - 1] = x;
		}
	while (n > 0 && k < (int)t->nswitches)
		n -= cap[k++];
	free(cap);
	return n > 0 ? -1 : k;
}

static int
run(int argc, char **argv)
{
	const char *conffile = NULL, *gen = "64:32:8", *slurm = NULL;
	const char *sizes = "8,16,32,64,128,256,512";
	int nseeds = 10, reps = 20, size[MAX_SIZES], nsize = 0, c, L, P, S;
	int si, seed, r, k, feasible, worse, better, equal, bound;
	double busy = 0.9, *times, *cpu, t0, c0, pl, ps, sl, ss, lb;
	char *conf, *copy, *tok, *save, *choice, *cause = NULL;
	struct plan_request req = { .gpus_per_node = 0 };
	struct hostlist hl = { 0 };
	struct score sp, ss1;
	struct plan *p;
	struct topo *t;
	size_t len, nt, i;
	int *nodes;

	while ((c = getopt(argc, argv, "c:g:s:b:r:j:S:")) != -1)
		switch (c) {
		case 'c':
			conffile = optarg;
			break;
		case 'g':
			gen = optarg;
			break;
		case 's':
			nseeds = atoi(optarg);
			break;
		case 'b':
			busy = atof(optarg);
			break;
		case 'r':
			reps = atoi(optarg);
			break;
		case 'j':
			sizes = optarg;
			break;
		case 'S':
			slurm = optarg;
			break;
		default:
			return 2;
		}
	if (conffile != NULL) {
		if (read_file(conffile, 1 << 24, &conf, &len, &cause) != 0) {
			fprintf(stderr, "plan-bench: %s\n", cause);
			return 1;
		}
	} else {
		if (sscanf(gen, "%d:%d:%d", &L, &P, &S) != 3)
			return 2;
		conf = synthetic_conf(L, P, S);
	}
	copy = xstrdup(sizes);
	for (tok = strtok_r(copy, ",", &save); tok != NULL && nsize < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save))
		size[nsize++] = atoi(tok);
	free(copy);
	times = xreallocarray(NULL, (size_t)nseeds * reps + 1, sizeof(*times));
	cpu = xreallocarray(NULL, (size_t)nseeds * reps + 1, sizeof(*cpu));
	t = build(conf, 1, busy);
	printf("cluster: %zu nodes, %d levels; each leaf busy up to %.0f%%; "
	       "%d fragmentations x %d runs per size\n\n",
	    t->nnodes, t->nlevels, busy * 100, nseeds, reps);
	topo_free(t);
	printf("| nodes | wall median ms | wall p99 ms | cpu median ms | "
	       "cpu p99 ms | leaves plan | leaves bound | spines plan |%s\n",
	    slurm != NULL
	        ? " leaves Slurm | spines Slurm | Slurm vs plan (worse/equal/better "
	          "for Slurm) |"
	        : "");
	printf("|---|---|---|---|---|---|---|---|%s\n",
	    slurm != NULL ? "---|---|---|" : "");
	for (si = 0; si < nsize; si++) {
		nt = 0;
		feasible = worse = better = equal = 0;
		pl = ps = sl = ss = lb = 0;
		for (seed = 1; seed <= nseeds; seed++) {
			t = build(conf, (uint64_t)seed, busy);
			req.nodes = size[si];
			p = NULL;
			for (r = 0; r < reps; r++) {
				plan_free(p);
				t0 = now_ms(CLOCK_MONOTONIC);
				c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
				p = plan_make(t, &req, NULL);
				cpu[nt] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
				times[nt++] = now_ms(CLOCK_MONOTONIC) - t0;
			}
			if (p == NULL) {
				topo_free(t);
				continue;
			}
			feasible++;
			nodes = xreallocarray(NULL, p->nnodes, sizeof(int));
			for (i = 0; i < p->nnodes; i++)
				nodes[i] = p->nodes[i].topo_index;
			score_nodes(t, nodes, p->nnodes, &sp);
			free(nodes);
			pl += sp.leaves;
			ps += sp.spines;
			bound = leaf_bound(t, size[si]);
			lb += bound;
			choice = slurm_choice(slurm, seed, size[si]);
			if (choice != NULL &&
			    hostlist_expand(&hl, choice, NULL) == 0 &&
			    hl.n > 0) {
				nodes = xreallocarray(NULL, hl.n, sizeof(int));
				for (i = k = 0; i < hl.n; i++)
					if ((nodes[k] = topo_find_node(
					         t, hl.names[i])) != -1)
						k++;
				score_nodes(t, nodes, (size_t)k, &ss1);
				free(nodes);
				sl += ss1.leaves;
				ss += ss1.spines;
				if (ss1.level != sp.level)
					c = ss1.level > sp.level ? 1 : -1;
				else if (ss1.spines != sp.spines)
					c = ss1.spines > sp.spines ? 1 : -1;
				else
					c = ss1.leaves > sp.leaves   ? 1
					    : ss1.leaves < sp.leaves ? -1
					                             : 0;
				worse += c > 0;
				equal += c == 0;
				better += c < 0;
			}
			hostlist_clear(&hl);
			free(choice);
			plan_free(p);
			topo_free(t);
		}
		qsort(times, nt, sizeof(*times), cmp_double_cb);
		qsort(cpu, nt, sizeof(*cpu), cmp_double_cb);
		if (feasible == 0) {
			printf("| %d | | | | | no fit | | |\n", size[si]);
			continue;
		}
		printf(
		    "| %d | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f | %.2f |",
		    size[si], times[nt / 2], times[(nt * 99) / 100],
		    cpu[nt / 2], cpu[(nt * 99) / 100], pl / feasible,
		    lb / feasible, ps / feasible);
		if (slurm != NULL && worse + equal + better > 0)
			printf(" %.2f | %.2f | %d/%d/%d |",
			    sl / (worse + equal + better),
			    ss / (worse + equal + better), worse, equal,
			    better);
		printf("\n");
	}
	free(times);
	free(cpu);
	free(conf);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "frag") == 0)
		return frag(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "run") == 0)
		return run(argc - 1, argv + 1);
	fprintf(stderr,
	    "usage: plan-bench frag TOPOLOGY.CONF SEED BUSY\n"
	    "       plan-bench run [-c TOPOLOGY.CONF | -g LEAVES:PER:SPINES] "
	    "[-s SEEDS] [-b BUSY]\n"
	    "                      [-r REPS] [-j SIZES] [-S SLURM_CHOICES]\n");
	return 2;
}
