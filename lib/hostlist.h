/*
 * hostlist: Slurm host expressions ("gpu[001-004,010],login1",
 * "rack[1-2]-n[01-02]"), expanded in Slurm's order; docs/design.md section
 * 14 has the grammar and where it differs from Slurm's. Expansion is
 * bounded so that hostile input cannot ask for a billion names.
 */
#ifndef LLMCTL_HOSTLIST_H
#define LLMCTL_HOSTLIST_H

#include <stddef.h>

#define HOSTLIST_MAX 65536 /* names one expression may expand to */

struct hostlist {
	char **names; /* owned, in expression order */
	size_t n;
};

/*
 * Append the names of expr to hl; -1 and *cause on a syntax error or an
 * expression with no names. On error hl may hold some of the names.
 */
int hostlist_expand(struct hostlist *hl, const char *expr, char **cause);
/* Comma-joined names (no brackets): what Slurm's req_nodes accepts. */
char *hostlist_join(const struct hostlist *hl);
int hostlist_contains(const struct hostlist *hl, const char *name);
void hostlist_clear(struct hostlist *hl);

#endif
