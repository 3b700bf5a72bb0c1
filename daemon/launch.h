/*
 * launch: what Slurm is given for one attempt: the batch script, its
 * environment and the per-attempt log directory. Nothing from the spec is
 * ever pasted into the script unquoted: the command and env values travel
 * in the job's environment, argv words through sh_quote().
 */
#ifndef LLMCTLD_LAUNCH_H
#define LLMCTLD_LAUNCH_H

#include <stddef.h>
#include <sys/types.h>

struct spec;

struct launch_ctx {
	int64_t job_id;
	int attempt;
	int master_port;
	uid_t uid;
	gid_t gid;
	const char *user;
	const char *home;
	const char *state_dir;
	const char *node_order; /* plan's nodes in rank order, or NULL */
	const char *spare_nodes; /* the plan's spares, or NULL */
	/* Slurm picks the nodes: the candidates, leaf by leaf, or NULL */
	const char *topo_order;
	const char *master_addr; /* rank 0's address, or NULL */
	const char *resume_from; /* newest verified checkpoint, or NULL */
	int64_t resume_step;
	const char *heartbeat_url; /* NULL: no heartbeats */
	const char *heartbeat_token;
	int warn_signo; /* the site's default warning, 0: none */
	int warn_time_s;
};

struct launch {
	char *script;
	char **env; /* NULL-terminated "K=V" */
	size_t nenv;
	char *log_dir; /* <state_dir>/logs/<job>/<attempt> */
	char *batch_log; /* batch script's own output */
	/* the time-limit warning Slurm is to send: the spec's, or the site's */
	int warn_signal; /* 0: none */
	int warn_time_s;
	int warn_batch; /* to the batch shell, not the steps */
};

struct launch *launch_build(
    const struct spec *, const struct launch_ctx *, char **cause);
void launch_free(struct launch *);

#endif
