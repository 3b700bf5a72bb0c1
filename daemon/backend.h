/*
 * backend: the scheduler as llmctld sees it, a struct of function pointers
 * chosen by name ("slurm", or "fake" in unit tests). Calls block; the daemon
 * makes them only from the worker thread (worker.h).
 */
#ifndef LLMCTLD_BACKEND_H
#define LLMCTLD_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum bjob_state {
	BJOB_PENDING,
	BJOB_RUNNING,
	BJOB_COMPLETED,
	BJOB_FAILED, /* non-zero exit */
	BJOB_CANCELLED,
	BJOB_TIMEOUT,
	BJOB_NODE_FAIL,
	BJOB_PREEMPTED,
	BJOB_OTHER, /* boot failure, deadline, OOM, ... */
};

/* What one attempt asks of the scheduler. All strings are borrowed. */
struct bjob_request {
	const char *tag;
	const char *name;
	uid_t uid;
	gid_t gid;
	const char *script;
	char *const *env;
	size_t nenv;
	const char *workdir;
	const char *output;
	int nodes;
	int tasks;
	int tasks_per_node;
	int gpus_per_node;
	const char *gpu_type;
	int cpus_per_gpu;
	uint64_t mem_per_node_mb;
	const char *partition;
	const char *account;
	const char *qos;
	int64_t time_limit_s;
	const char *req_nodes; /* comma list or NULL */
	const char *exc_nodes;
	int switches; /* leaf switches to wait for, 0: none */
	int switch_wait_s; /* how long, 0: no wait, no constraint */
	int warn_signal; /* 0: none */
	int warn_time_s;
	int warn_batch; /* to the batch shell only */
	int no_kill; /* the job outlives a failed node (spares) */
};

/* A job as the scheduler reports it; owned by the array that holds it. */
struct bjob {
	int64_t id;
	char *tag; /* NULL: not one of ours */
	uid_t uid;
	enum bjob_state state;
	int exit_code; /* valid when state is final */
	int signal; /* signal that ended it, 0: none */
	char *nodes;
	char *batch_host; /* the node running the batch script, or NULL */
	int64_t submit_time; /* when Slurm accepted it, 0: unknown */
	int64_t start_time;
	int64_t end_time;
	char *reason;
	char *partition; /* untagged only: where it waits (comma list) */
};

/* Recent failures of a node, from the store, for the planner to avoid. */
struct bfailure {
	char *name;
	int failures;
};

/*
 * A snapshot of the cluster: the live topology, the same nodes as if all
 * were idle (to tell "not now" from "never"), and each node's address.
 */
struct bcluster {
	struct topo *live;
	struct topo *ideal;
	char **addr; /* by live node index; may be NULL */
	int64_t loaded_at;
};

struct backend {
	const char *name;
	int (*init)(const char *conf_path, char **cause);
	/*
	 * Submit; *transient is set when the error may go away (slurmctld
	 * unreachable), so the caller retries instead of failing the job.
	 */
	int (*submit)(const struct bjob_request *, int64_t *id, char **cause,
	    int *transient);
	/*
	 * Every job carrying an llmctl tag, and other users' jobs pending for
	 * nodes (tag NULL: reason None, Resources or Priority; id, uid,
	 * state and partition only); one RPC. *stamp: in, the stamp of
	 * the table the caller keeps (0: none); out, the new table's. 1: the
	 * table has not changed since *stamp (nothing returned: keep the old
	 * one), 0: the jobs are returned, -1: error.
	 */
	int (*list)(
	    int64_t *stamp, struct bjob **jobs, size_t *n, char **cause);
	int (*cancel)(int64_t id, char **cause);
	/*
	 * Topology and node states; failures are folded into the nodes.
	 * *stamp as for list: 1, the nodes have not changed since *stamp (one
	 * RPC, no snapshot returned); 0, a new snapshot (two RPCs).
	 */
	int (*cluster)(int64_t *stamp, const struct bfailure *, size_t,
	    struct bcluster **, char **cause);
	/* Drain the node with reason, or resume it (reason NULL). */
	int (*node)(const char *name, const char *reason, char **cause);
	void (*fini)(void);
};

const struct backend *backend_find(const char *name);
void bjob_list_free(struct bjob *, size_t);
void bcluster_free(struct bcluster *);
void bfailure_list_free(struct bfailure *, size_t);
int bfailure_lookup(const struct bfailure *, size_t, const char *);
int bjob_final(enum bjob_state);
const char *bjob_state_name(enum bjob_state);

extern const struct backend backend_slurm;
extern const struct backend backend_fake;

#endif
