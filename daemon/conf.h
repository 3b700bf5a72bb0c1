/*
 * conf: llmctld.conf, a flat YAML mapping. Keys are declared in one table
 * with their type and default; every error is reported as FILE:LINE:COL.
 */
#ifndef LLMCTLD_CONF_H
#define LLMCTLD_CONF_H

#include <stdint.h>
#include <sys/types.h>

#include "log.h"

struct backend;

struct conf {
	char *path;
	char *socket; /* Unix socket for the API */
	char *database; /* SQLite file */
	char *state_dir; /* logs/, shared with the nodes */
	char *slurm_conf; /* NULL: libslurm's default */
	int64_t poll_interval_ms;
	char *log_level;
	enum log_level level; /* resolved from log_level */
	char *admin_group; /* members see and change all jobs */
	gid_t admin_gid; /* its gid, -1: none */
	int64_t master_port_base; /* MASTER_PORT range per attempt */
	int64_t master_port_count;
	char *backend; /* "slurm" */
	const struct backend *backend_ops; /* resolved from backend */
	int64_t warn_time_ms; /* signal before the time limit */
	char *warn_signal; /* its name: USR1, USR2, TERM, none */
	int warn_signo; /* and number, 0: none */
	char *heartbeat_listen; /* "addr:port" for the TCP listener */
	char *heartbeat_host; /* resolved from heartbeat_listen */
	int heartbeat_port;
	char *heartbeat_url; /* what workers POST to */
	int64_t replan_after_ms; /* pending this long on planned nodes:
					   plan again */
	int64_t max_connections; /* open at once, on the Unix socket */
	int64_t heartbeat_max_connections; /* on the TCP listener */
	int64_t max_connections_per_user; /* per uid, or TCP address */
	int64_t request_timeout_ms; /* for a whole request */
	int64_t scan_timeout_ms; /* a checkpoint scan's deadline */
	char *webhook_url; /* every job's notifications, or NULL */
	char *webhook_allow; /* URL prefixes jobs may name */
	int64_t webhook_timeout_ms; /* one delivery's deadline */
	int64_t webhook_retries; /* tries after the first */
	int64_t webhook_queue; /* deliveries waiting, at most */
	int64_t goodput_alert; /* ETTR percent to tell a job about, 0: off */
	int64_t goodput_alert_after_ms; /* only once its wall is this long */
	char *straggler_factor_s; /* "1.5" or "off" */
	double straggler_factor; /* resolved; 0: off */
	int64_t straggler_window_ms; /* measured over, and hysteresis */
	int64_t node_half_life_ms; /* of a node's failure score */
	char *node_quarantine_score_s;
	double node_quarantine_score; /* resolved; 0: never quarantine */
	int64_t node_quarantine_ms; /* the first; doubles each time */
	int64_t node_quarantine_max_ms;
	int64_t node_probation_ms; /* watched after a quarantine */
	char *node_drain_score_s;
	double node_drain_score; /* resolved; 0: never drain in Slurm */
};

/*
 * Parse path (NULL: defaults only); NULL with *cause on any error, one
 * FILE:LINE:COL line per bad value. Names in values are resolved here.
 */
struct conf *conf_load(const char *path, char **cause);
/* SIGHUP: take new's reloadable values, report each key that differs. */
void conf_reload(struct conf *cur, struct conf *new,
    void (*report)(const char *key, int applied, void *), void *arg);
void conf_free(struct conf *);

#endif
