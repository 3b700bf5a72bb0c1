/*
 * spec: the job spec, version 1 (docs/design.md section 2).
 *
 * spec_parse() reads YAML with libyaml into a struct spec, fills in every
 * default and checks every field and cross-field rule. Errors are collected
 * (at most SPEC_MAX_ERRORS) and returned in *cause as lines of the form
 * "FILE:LINE:COL: field.path: message", joined with '\n', no trailing '\n'.
 * A struct spec is owned by whoever parsed it and freed with spec_free().
 */
#ifndef LLMCTL_SPEC_H
#define LLMCTL_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SPEC_VERSION 1
#define SPEC_MAX_BYTES (1024 * 1024)
#define SPEC_MAX_SCALAR (64 * 1024)
#define SPEC_MAX_DEPTH 32
#define SPEC_MAX_ERRORS 20

enum spec_launcher {
	LAUNCHER_SRUN,
	LAUNCHER_TORCHRUN,
	LAUNCHER_MPI,
	LAUNCHER_SCRIPT, /* the command is the batch script, run once */
};

/* What the ranks' network is; NCCL and gloo are set up for it. */
enum spec_fabric {
	FABRIC_UNSET, /* nothing set */
	FABRIC_ETHERNET,
	FABRIC_INFINIBAND,
};

/* Signals a job may ask for before its time limit; 0 is "none". */
enum spec_signal {
	SPEC_SIG_NONE,
	SPEC_SIG_USR1,
	SPEC_SIG_USR2,
	SPEC_SIG_TERM,
	SPEC_SIG_INT,
	SPEC_SIG_HUP,
	SPEC_SIG_URG,
	SPEC_SIG_COUNT
};

enum spec_policy {
	POLICY_PACK,
	POLICY_SPREAD,
	POLICY_ANY,
};

struct spec_kv {
	char *key;
	char *value;
};

struct spec {
	int version;
	char *name;
	/* Exactly one of command (run by /bin/sh -c) and argv (exec'd). */
	char *command;
	char **argv; /* NULL-terminated */
	size_t argc;
	char *workdir; /* absolute; default from the caller */
	struct spec_kv *env; /* in file order */
	size_t nenv;

	struct {
		int nodes;
		int gpus_per_node; /* 0: CPU-only */
		int tasks_per_node; /* ranks per node; default
						   gpus_per_node, or 1 */
		char *gpu_type; /* NULL: any */
		int cpus_per_gpu; /* 0: Slurm's default */
		uint64_t mem_per_node_mb; /* 0: Slurm's default */
		char *partition; /* NULL: default partition */
		char *account;
		char *qos;
		int64_t time_limit_s; /* 0: partition default */
		int spare_nodes; /* held beside the nodes; 0: none */
	} resources;

	struct {
		int tensor; /* default 1 */
		int pipeline; /* default 1 */
		int data; /* derived */
		enum spec_launcher launcher; /* default srun */
	} parallel;

	struct {
		enum spec_policy policy; /* default pack */
		int max_leaf_switches; /* 0: no limit */
		int64_t max_wait_s; /* default 600 */
		char **exclude; /* expanded names */
		size_t nexclude;
	} placement;

	struct {
		char *dir; /* NULL: no checkpoints, no resume */
		char *pattern; /* default "step_{step}" */
		int keep; /* 0: keep all */
		char *file; /* one file overwritten in place */
		int64_t settle_s; /* default 30: file unchanged this long */
	} checkpoint;

	struct {
		int max_restarts; /* default 3 */
		int max_infra_restarts; /* default 10 */
		int64_t backoff_s; /* default 30 */
		int no_progress_limit; /* default 3 */
	} recovery;

	struct {
		int64_t heartbeat_timeout_s; /* default 600, 0: off */
		int64_t startup_timeout_s; /* default 1800 */
		char *preflight; /* NULL: none */
	} health;

	/* Like sbatch --signal=SIG@BEFORE; opt-in, no signal by default. */
	struct {
		enum spec_signal signal; /* default none */
		int64_t before_s; /* default 120 */
	} warning;

	/* NCCL/gloo variables, each unless env sets it (launch.c) */
	struct {
		enum spec_fabric type; /* default unset */
		char *interface; /* *_SOCKET_IFNAME, NULL: unset */
		char *hca; /* NCCL_IB_HCA, NULL: unset */
	} fabric;
	struct {
		char *webhook; /* NULL: no notifications */
		unsigned on; /* 1 << enum spec_notify; default all */
	} notify;
};

/*
 * Parse and validate buf (len bytes, need not be NUL-terminated). filename
 * is used in messages only. default_workdir (absolute) fills a missing
 * workdir; NULL leaves it NULL when absent.
 */
struct spec *spec_parse(const char *buf, size_t len, const char *filename,
    const char *default_workdir, char **cause);
void spec_free(struct spec *);

/* World size: nodes * tasks_per_node. */
int spec_world_size(const struct spec *);

/* Canonical JSON (all fields, defaults filled); spec_from_json inverts it. */
json_t *spec_to_json(const struct spec *);
struct spec *spec_from_json(const json_t *, char **cause);
/* Canonical YAML; parsing it gives an equal spec. */
char *spec_to_yaml(const struct spec *);

/* "90s", "30m", "12h", "2d", "D-HH:MM:SS", "HH:MM:SS", plain seconds. */
int spec_parse_duration(const char *, int64_t *secs, char **cause);
/* "512G", "64000M", "1T", plain megabytes. */
int spec_parse_memory(const char *, uint64_t *mb, char **cause);
/* The inverse, in the largest exact unit ("10m", "512G"); caller frees. */
char *spec_format_duration(int64_t secs);
char *spec_format_memory(uint64_t mb);

/*
 * What llmctl sets for every rank from the spec (fabric, OpenMP), minus
 * what the spec's env sets itself; returns how many, *out freed with
 * spec_kv_free().
 */
size_t spec_rank_env(const struct spec *, struct spec_kv **out);
void spec_kv_free(struct spec_kv *, size_t);
/* What notify.on may name; llmctld maps its events to these. */
enum spec_notify {
	NOTIFY_FAILED,
	NOTIFY_RESTARTED,
	NOTIFY_COMPLETED,
	NOTIFY_HANG,
	NOTIFY_GOODPUT, /* ETTR below llmctld.conf goodput_alert */
	NOTIFY_COUNT
};
#define SPEC_NOTIFY_ALL ((1u << NOTIFY_COUNT) - 1)
/* "failed", "restarted", "completed", "hang", "goodput"; NULL out of
 * range. */
const char *spec_notify_name(int);

const char *spec_launcher_name(enum spec_launcher);
const char *spec_policy_name(enum spec_policy);
const char *spec_fabric_name(enum spec_fabric);
/* "USR1", ...; spec_signal_number() gives its number, 0 for none. */
const char *spec_signal_name(enum spec_signal);
int spec_signal_number(enum spec_signal);

#endif
