/*
 * backend-slurm: the Slurm backend, the only file that includes
 * <slurm/slurm.h>.
 * Jobs are submitted with the requesting user's uid and gid and carry the
 * attempt's tag in their comment ("llmctl:<tag>"), which is how a restarted
 * daemon finds what it submitted before it died.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include "backend.h"
#include "topo.h"
#include "util.h"

#define TAG_PREFIX "llmctl:"

/* In libslurm but missing from its public header. */
extern const char *slurm_job_reason_string(enum job_state_reason);

static int slurm_backend_init(const char *, char **);
static int slurm_backend_submit(
    const struct bjob_request *, int64_t *, char **, int *);
static int slurm_backend_list(int64_t *, struct bjob **, size_t *, char **);
static int slurm_backend_cancel(int64_t, char **);
static int slurm_backend_node(const char *, const char *, char **);
static void slurm_backend_fini(void);
static int slurm_backend_cluster(
    int64_t *, const struct bfailure *, size_t, struct bcluster **, char **);

const struct backend backend_slurm = {
	.name = "slurm",
	.init = slurm_backend_init,
	.submit = slurm_backend_submit,
	.list = slurm_backend_list,
	.cancel = slurm_backend_cancel,
	.cluster = slurm_backend_cluster,
	.node = slurm_backend_node,
	.fini = slurm_backend_fini,
};

/* Errors that say "slurmctld could not be reached", not "no". */
static int
slurm_error_transient(int err)
{
	return err < 1000 || (err >= 1000 && err < 2000) ||
	    (err >= 5000 && err < 6000) || (err >= 6000 && err < 7000) ||
	    err == ESLURM_ERROR_ON_DESC_TO_RECORD_COPY;
}

static int
slurm_backend_init(const char *conf_path, char **cause)
{
	(void)cause;
	slurm_init(conf_path);
	return 0;
}

static void
slurm_backend_fini(void)
{
	slurm_fini();
}

static int
slurm_backend_submit(
    const struct bjob_request *r, int64_t *id, char **cause, int *transient)
{
	job_desc_msg_t desc;
	submit_response_msg_t *resp = NULL;
	char *comment, *gres = NULL;
	int err;

	slurm_init_job_desc_msg(&desc);
	comment = xasprintf(TAG_PREFIX "%s", r->tag);
	desc.comment = comment;
	desc.name = (char *)r->name;
	desc.user_id = r->uid;
	desc.group_id = r->gid;
	desc.script = (char *)r->script;
	desc.environment = (char **)r->env;
	desc.env_size = (uint32_t)r->nenv;
	desc.work_dir = (char *)r->workdir;
	desc.std_out = (char *)r->output;
	desc.min_nodes = desc.max_nodes = (uint32_t)r->nodes;
	desc.num_tasks = (uint32_t)r->tasks;
	desc.ntasks_per_node = (uint16_t)r->tasks_per_node;
	if (r->gpus_per_node > 0) {
		gres = r->gpu_type != NULL
		    ? xasprintf("gres:gpu:%s:%d", r->gpu_type, r->gpus_per_node)
		    : xasprintf("gres:gpu:%d", r->gpus_per_node);
		desc.tres_per_node = gres;
	}
	if (r->cpus_per_gpu > 0 && r->gpus_per_node > 0)
		desc.cpus_per_task = (uint16_t)(r->cpus_per_gpu *
		    r->gpus_per_node / r->tasks_per_node);
	if (r->mem_per_node_mb > 0)
		desc.pn_min_memory = r->mem_per_node_mb;
	desc.partition = (char *)r->partition;
	desc.account = (char *)r->account;
	desc.qos = (char *)r->qos;
	if (r->time_limit_s > 0)
		desc.time_limit = (uint32_t)((r->time_limit_s + 59) / 60);
	desc.req_nodes = (char *)r->req_nodes;
	desc.exc_nodes = (char *)r->exc_nodes;
	if (r->switches > 0 && r->switch_wait_s > 0) {
		/* --switches=N@wait; slurmctld caps it at max_switch_wait */
		desc.req_switch = (uint32_t)r->switches;
		desc.wait4switch = (uint32_t)r->switch_wait_s;
	}
	if (r->warn_signal > 0 && r->time_limit_s > 0) {
		/* to every step, so the trainer itself can checkpoint */
		desc.warn_signal = (uint16_t)r->warn_signal;
		desc.warn_time = (uint16_t)r->warn_time_s;
		/* launcher script: the batch shell passes it on itself */
		if (r->warn_batch)
			desc.warn_flags = KILL_JOB_BATCH;
	}
	/* llmctld decides about retries; Slurm must not requeue behind it. */
	desc.requeue = 0;
	/*
	 * With spares the batch script starts a new step without a failed
	 * node (sbatch --no-kill); else Slurm ends the job, as by default.
	 */
	if (r->no_kill)
		desc.kill_on_node_fail = 0;

	if (slurm_submit_batch_job(&desc, &resp) != SLURM_SUCCESS) {
		err = slurm_get_errno();
		*transient = slurm_error_transient(err);
		set_cause(cause, "%s", slurm_strerror(err));
		free(comment);
		free(gres);
		return -1;
	}
	*id = resp->job_id;
	slurm_free_submit_response_response_msg(resp);
	free(comment);
	free(gres);
	return 0;
}

static enum bjob_state
slurm_state(uint32_t state)
{
	switch (state & JOB_STATE_BASE) {
	case JOB_PENDING:
		return BJOB_PENDING;
	case JOB_RUNNING:
	case JOB_SUSPENDED:
		return BJOB_RUNNING;
	case JOB_COMPLETE:
		return BJOB_COMPLETED;
	case JOB_CANCELLED:
		return BJOB_CANCELLED;
	case JOB_FAILED:
		return BJOB_FAILED;
	case JOB_TIMEOUT:
		return BJOB_TIMEOUT;
	case JOB_NODE_FAIL:
		return BJOB_NODE_FAIL;
	case JOB_PREEMPTED:
		return BJOB_PREEMPTED;
	default:
		return BJOB_OTHER;
	}
}

/*
 * slurmctld answers "no change" (SLURM_NO_CHANGE_IN_DATA, a few bytes) when
 * its table is no newer than the stamp, its own last_update of the table
 * the caller keeps, less one second (so a change within the stamp's second
 * is never missed).
 */
static int
no_change(int64_t stamp)
{
	return stamp != 0 && slurm_get_errno() == SLURM_NO_CHANGE_IN_DATA;
}

/*
 * Another user's job that waits in Slurm's queue for nodes: just submitted
 * (no reason yet), or held back by resources or by jobs ahead of it; not
 * one that waits for a dependency, a begin time, a hold or a limit.
 */
static int
waits_for_nodes(const slurm_job_info_t *ji)
{
	if ((ji->job_state & JOB_STATE_BASE) != JOB_PENDING)
		return 0;
	return ji->state_reason == WAIT_NO_REASON ||
	    ji->state_reason == WAIT_RESOURCES ||
	    ji->state_reason == WAIT_PRIORITY;
}

static int
slurm_backend_list(int64_t *stamp, struct bjob **out, size_t *n, char **cause)
{
	job_info_msg_t *msg = NULL;
	slurm_job_info_t *ji;
	struct bjob *jobs, *b;
	uint32_t i;

	if (slurm_load_jobs((time_t)*stamp, &msg, SHOW_ALL) != SLURM_SUCCESS) {
		if (no_change(*stamp))
			return 1;
		return set_cause(
		    cause, "%s", slurm_strerror(slurm_get_errno()));
	}
	*stamp = (int64_t)msg->last_update;
	jobs = xcalloc(msg->record_count + 1, sizeof(*jobs));
	*n = 0;
	for (i = 0; i < msg->record_count; i++) {
		ji = &msg->job_array[i];
		if (ji->comment == NULL ||
		    strncmp(ji->comment, TAG_PREFIX, strlen(TAG_PREFIX)) != 0) {
			if (waits_for_nodes(ji)) {
				b = &jobs[(*n)++];
				b->id = ji->job_id;
				b->uid = ji->user_id;
				b->state = BJOB_PENDING;
				b->partition = xstrdup(
				    ji->partition != NULL ? ji->partition : "");
			}
			continue;
		}
		b = &jobs[(*n)++];
		b->id = ji->job_id;
		b->tag = xstrdup(ji->comment + strlen(TAG_PREFIX));
		b->uid = ji->user_id;
		b->state = slurm_state(ji->job_state);
		if (WIFEXITED(ji->exit_code))
			b->exit_code = WEXITSTATUS(ji->exit_code);
		else if (WIFSIGNALED(ji->exit_code)) {
			b->signal = WTERMSIG(ji->exit_code);
			b->exit_code = 128 + b->signal;
		}
		/* COMPLETING jobs are still cleaning up: not over yet */
		if (bjob_final(b->state) && (ji->job_state & JOB_COMPLETING))
			b->state = BJOB_RUNNING;
		if (ji->nodes != NULL && ji->nodes[0] != '\0')
			b->nodes = xstrdup(ji->nodes);
		if (ji->batch_host != NULL && ji->batch_host[0] != '\0')
			b->batch_host = xstrdup(ji->batch_host);
		b->submit_time = ji->submit_time;
		b->start_time = ji->start_time;
		b->end_time = ji->end_time;
		if (ji->state_desc != NULL)
			b->reason = xstrdup(ji->state_desc);
		else if (ji->state_reason != WAIT_NO_REASON)
			b->reason =
			    xstrdup(slurm_job_reason_string(ji->state_reason));
	}
	slurm_free_job_info_msg(msg);
	*out = jobs;
	return 0;
}

static int
slurm_backend_cancel(int64_t id, char **cause)
{
	int err;

	if (slurm_kill_job((uint32_t)id, SIGKILL, 0) == SLURM_SUCCESS)
		return 0;
	err = slurm_get_errno();
	if (err == ESLURM_ALREADY_DONE)
		return 0;
	return set_cause(cause, "%s", slurm_strerror(err));
}

/* scontrol update nodename=NAME state=drain reason=...; or state=resume. */
static int
slurm_backend_node(const char *name, const char *reason, char **cause)
{
	update_node_msg_t msg;

	slurm_init_update_node_msg(&msg);
	msg.node_names = (char *)name;
	msg.node_state = reason != NULL ? NODE_STATE_DRAIN : NODE_RESUME;
	msg.reason = (char *)reason;
	msg.reason_uid = (uint32_t)getuid();
	if (slurm_update_node(&msg) == SLURM_SUCCESS)
		return 0;
	return set_cause(cause, "%s", slurm_strerror(slurm_get_errno()));
}

/* "gpu:8", "gpu:h100:8(S:0-1)": the GPU count and type of a node. */
static int
gres_gpus(const char *gres, char **type)
{
	const char *p = gres, *c;
	char *item, *save, *copy;
	int n = 0;

	*type = NULL;
	if (p == NULL)
		return 0;
	copy = xstrdup(p);
	for (item = strtok_r(copy, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		if (strncmp(item, "gpu:", 4) != 0)
			continue;
		item += 4;
		if ((c = strchr(item, ':')) != NULL &&
		    (*item < '0' || *item > '9')) {
			free(*type);
			*type = xstrndup(item, c - item);
			item = (char *)c + 1;
		}
		n += atoi(item);
	}
	free(copy);
	return n;
}

/* GresUsed "gpu:3(IDX:0-2)" or "gpu:3": the mask of GPUs in use. */
static uint64_t
gres_used_mask(const char *used, int gpus)
{
	const char *idx;
	uint64_t mask = 0;
	long a, b, i;
	char *end;
	int n;

	if (used == NULL)
		return 0;
	if ((idx = strstr(used, "IDX:")) != NULL && idx[4] != 'N') {
		for (idx += 4; *idx >= '0' && *idx <= '9'; idx = end) {
			a = b = strtol(idx, &end, 10);
			if (*end == '-')
				b = strtol(end + 1, &end, 10);
			for (i = a; i <= b && i < TOPO_MAX_GPUS; i++)
				mask |= (uint64_t)1 << i;
			if (*end == ',')
				end++;
		}
		return mask;
	}
	/* no indices: count the used ones from the low end */
	n = strncmp(used, "gpu:", 4) == 0 ? atoi(strrchr(used, ':') + 1) : 0;
	for (i = 0; i < n && i < gpus; i++)
		mask |= (uint64_t)1 << i;
	return mask;
}

static enum topo_state
node_state(uint32_t state)
{
	if (state & (NODE_STATE_DRAIN | NODE_STATE_FAIL))
		return TOPO_DRAIN;
	if (state & NODE_STATE_NO_RESPOND)
		return TOPO_DOWN;
	if (state & NODE_STATE_POWERED_DOWN)
		return TOPO_POWERED_DOWN;
	switch (state & NODE_STATE_BASE) {
	case NODE_STATE_IDLE:
		return TOPO_IDLE;
	case NODE_STATE_MIXED:
		return TOPO_MIXED;
	case NODE_STATE_ALLOCATED:
		return TOPO_ALLOCATED;
	default:
		return TOPO_DOWN;
	}
}

static int
slurm_backend_cluster(int64_t *stamp, const struct bfailure *fail, size_t nfail,
    struct bcluster **out, char **cause)
{
	topo_info_response_msg_t *tm = NULL;
	node_info_msg_t *nm = NULL;
	struct topo_node_info info;
	struct bcluster *c;
	node_info_t *ni;
	uint32_t i;
	char *type;
	int gpus, rc = -1;

	/* the switches change only with the nodes (a reconfigure) */
	if (slurm_load_node((time_t)*stamp, &nm,
	        SHOW_ALL | SHOW_DETAIL | SHOW_MIXED) != SLURM_SUCCESS) {
		if (no_change(*stamp))
			return 1;
		return set_cause(cause, "slurm_load_node: %s",
		    slurm_strerror(slurm_get_errno()));
	}
	if (slurm_load_topo(&tm) != SLURM_SUCCESS) {
		slurm_free_node_info_msg(nm);
		return set_cause(cause, "slurm_load_topo: %s",
		    slurm_strerror(slurm_get_errno()));
	}
	c = xcalloc(1, sizeof(*c));
	c->live = topo_create();
	c->ideal = topo_create();
	c->addr = xcalloc(nm->record_count + 1, sizeof(*c->addr));
	for (i = 0; i < tm->record_count; i++) {
		topo_info_t *ti = &tm->topo_array[i];
		const char *kids =
		    ti->switches != NULL && ti->switches[0] != '\0'
		    ? ti->switches
		    : NULL;
		const char *nodes = kids == NULL ? ti->nodes : NULL;

		if (topo_add_switch(c->live, ti->name, kids, nodes, cause) !=
		        0 ||
		    topo_add_switch(c->ideal, ti->name, kids, nodes, NULL) != 0)
			goto out;
	}
	for (i = 0; i < nm->record_count; i++) {
		ni = &nm->node_array[i];
		if (ni->name == NULL)
			continue;
		gpus = gres_gpus(ni->gres, &type);
		if (gpus > TOPO_MAX_GPUS)
			gpus = TOPO_MAX_GPUS;
		info = (struct topo_node_info){ .name = ni->name,
			.gpus = gpus,
			.gpu_type = type,
			.state = node_state(ni->node_state),
			.nvlink_domain = -1,
			.failures = bfailure_lookup(fail, nfail, ni->name) };
		info.free_gpus =
		    (gpus == TOPO_MAX_GPUS ? ~(uint64_t)0
		                           : (((uint64_t)1 << gpus) - 1)) &
		    ~gres_used_mask(ni->gres_used, gpus);
		c->addr[c->live->nnodes] =
		    xstrdup(ni->node_addr != NULL ? ni->node_addr : ni->name);
		if (topo_add_node(c->live, &info, cause) != 0) {
			free(type);
			goto out;
		}
		info.state = TOPO_IDLE;
		info.free_gpus = gpus == TOPO_MAX_GPUS
		    ? ~(uint64_t)0
		    : (((uint64_t)1 << gpus) - 1);
		info.failures = 0;
		topo_add_node(c->ideal, &info, NULL);
		free(type);
	}
	if (topo_finish(c->live, cause) != 0 ||
	    topo_finish(c->ideal, NULL) != 0)
		goto out;
	c->loaded_at = (int64_t)time(NULL);
	*stamp = (int64_t)nm->last_update;
	*out = c;
	c = NULL;
	rc = 0;
out:
	bcluster_free(c);
	slurm_free_topo_info_msg(tm);
	slurm_free_node_info_msg(nm);
	return rc;
}
