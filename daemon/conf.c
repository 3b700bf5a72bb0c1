/* conf: read llmctld.conf with libyaml against a table of known keys. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <strings.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "backend.h"
#include "conf.h"
#include "log.h"
#include "notify.h"
#include "spec.h"
#include "util.h"

enum conf_type {
	CONF_STRING,
	CONF_PATH,
	CONF_DURATION_MS,
	CONF_INT,
};

static int resolve_log_level(struct conf *, const char *, char **);
static int resolve_group(struct conf *, const char *, char **);
static int resolve_signal(struct conf *, const char *, char **);
static int resolve_addr_port(struct conf *, const char *, char **);
static int resolve_backend(struct conf *, const char *, char **);
static int resolve_webhook(struct conf *, const char *, char **);
static int resolve_webhook_allow(struct conf *, const char *, char **);
static int resolve_straggler_factor(struct conf *, const char *, char **);
static int resolve_quarantine_score(struct conf *, const char *, char **);
static int resolve_drain_score(struct conf *, const char *, char **);

/*
 * The keys, their types and defaults. A string key that names something
 * (a group, a signal, an address) has a resolver, run as the value is read:
 * it checks the value and stores what it names in the conf, so every bad
 * value is reported with its FILE:LINE:COL, by llmctld -n and on SIGHUP
 * alike, and nothing else parses it again. An integer has a range.
 */
static const struct conf_key {
	const char *name;
	enum conf_type type;
	size_t offset;
	const char *dflt;
	int reload; /* SIGHUP may change it in place */
	int (*resolve)(struct conf *, const char *, char **);
	int64_t min; /* CONF_INT */
	int64_t max;
} conf_keys[] = {
	{ .name = "socket",
	    .type = CONF_PATH,
	    .offset = offsetof(struct conf, socket),
	    .dflt = "/run/llmctl/llmctld.sock" },
	{ .name = "database",
	    .type = CONF_PATH,
	    .offset = offsetof(struct conf, database),
	    .dflt = "/var/lib/llmctl/llmctld.db" },
	{ .name = "state_dir",
	    .type = CONF_PATH,
	    .offset = offsetof(struct conf, state_dir),
	    .dflt = "/var/lib/llmctl" },
	{ .name = "slurm_conf",
	    .type = CONF_PATH,
	    .offset = offsetof(struct conf, slurm_conf) },
	{ .name = "poll_interval",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, poll_interval_ms),
	    .dflt = "5",
	    .reload = 1 },
	{ .name = "log_level",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, log_level),
	    .dflt = "info",
	    .reload = 1,
	    .resolve = resolve_log_level },
	{ .name = "admin_group",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, admin_group),
	    .reload = 1,
	    .resolve = resolve_group },
	{ .name = "master_port_base",
	    .type = CONF_INT,
	    .offset = offsetof(struct conf, master_port_base),
	    .dflt = "29500",
	    .min = 1,
	    .max = 65535 },
	{ .name = "master_port_count",
	    .type = CONF_INT,
	    .offset = offsetof(struct conf, master_port_count),
	    .dflt = "2000",
	    .min = 1,
	    .max = 65535 },
	{ .name = "warn_signal",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, warn_signal),
	    .dflt = "none",
	    .reload = 1,
	    .resolve = resolve_signal },
	{ .name = "warn_time",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, warn_time_ms),
	    .dflt = "120",
	    .reload = 1 },
	{ .name = "heartbeat_listen",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, heartbeat_listen),
	    .resolve = resolve_addr_port },
	{ .name = "heartbeat_url",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, heartbeat_url) },
	{ .name = "replan_after",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, replan_after_ms),
	    .dflt = "60",
	    .reload = 1 },
	{ .name = "scan_timeout",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, scan_timeout_ms),
	    .dflt = "30",
	    .reload = 1 },
	{ .name = "backend",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, backend),
	    .dflt = "slurm",
	    .resolve = resolve_backend },
	{ .name = "max_connections",
	    .type = CONF_INT,
	    .offset = offsetof(struct conf, max_connections),
	    .dflt = "1024",
	    .reload = 1,
	    .min = 1,
	    .max = 65535 },
	{ .name = "heartbeat_max_connections",
	    .type = CONF_INT,
	    .offset = offsetof(struct conf, heartbeat_max_connections),
	    .dflt = "16384",
	    .reload = 1,
	    .min = 1,
	    .max = 1048576 },
	{ .name = "max_connections_per_user",
	    .type = CONF_INT,
	    .offset = offsetof(struct conf, max_connections_per_user),
	    .dflt = "32",
	    .reload = 1,
	    .min = 1,
	    .max = 65535 },
	{ .name = "request_timeout",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, request_timeout_ms),
	    .dflt = "5",
	    .reload = 1 },
	{ .name = "webhook_url",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, webhook_url),
	    .reload = 1,
	    .resolve = resolve_webhook },
	{ .name = "webhook_allow",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, webhook_allow),
	    .reload = 1,
	    .resolve = resolve_webhook_allow },
	{ .name = "webhook_timeout",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, webhook_timeout_ms),
	    .dflt = "5",
	    .reload = 1 },
	{ .name = "webhook_retries",
	    .type = CONF_INT,
	    .offset = offsetof(struct conf, webhook_retries),
	    .dflt = "3",
	    .reload = 1,
	    .min = 0,
	    .max = 10 },
	{ .name = "webhook_queue",
	    .type = CONF_INT,
	    .offset = offsetof(struct conf, webhook_queue),
	    .dflt = "1000",
	    .reload = 1,
	    .min = 1,
	    .max = 100000 },
	{ .name = "goodput_alert",
	    .type = CONF_INT,
	    .offset = offsetof(struct conf, goodput_alert),
	    .dflt = "0",
	    .reload = 1,
	    .min = 0,
	    .max = 100 },
	{ .name = "goodput_alert_after",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, goodput_alert_after_ms),
	    .dflt = "1h",
	    .reload = 1 },
	{ .name = "straggler_factor",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, straggler_factor_s),
	    .dflt = "1.5",
	    .reload = 1,
	    .resolve = resolve_straggler_factor },
	{ .name = "straggler_window",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, straggler_window_ms),
	    .dflt = "120",
	    .reload = 1 },
	{ .name = "node_half_life",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, node_half_life_ms),
	    .dflt = "24h",
	    .reload = 1 },
	{ .name = "node_quarantine_score",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, node_quarantine_score_s),
	    .dflt = "1.5",
	    .reload = 1,
	    .resolve = resolve_quarantine_score },
	{ .name = "node_quarantine",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, node_quarantine_ms),
	    .dflt = "1h",
	    .reload = 1 },
	{ .name = "node_quarantine_max",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, node_quarantine_max_ms),
	    .dflt = "7d",
	    .reload = 1 },
	{ .name = "node_probation",
	    .type = CONF_DURATION_MS,
	    .offset = offsetof(struct conf, node_probation_ms),
	    .dflt = "24h",
	    .reload = 1 },
	{ .name = "node_drain_score",
	    .type = CONF_STRING,
	    .offset = offsetof(struct conf, node_drain_score_s),
	    .dflt = "off",
	    .reload = 1,
	    .resolve = resolve_drain_score },
};

static int conf_set(
    struct conf *, const struct conf_key *, const char *, char **);

static int
resolve_log_level(struct conf *conf, const char *value, char **why)
{
	if (log_level_parse(value, &conf->level) != 0)
		return set_cause(why,
		    "expected error, warn, info or debug, "
		    "got \"%s\"",
		    value);
	return 0;
}

/* NULL (on a reload that dropped the key): no admin group. */
static int
resolve_group(struct conf *conf, const char *value, char **why)
{
	struct group gr, *res = NULL;
	char buf[4096];

	conf->admin_gid = (gid_t)-1;
	if (value == NULL)
		return 0;
	if (getgrnam_r(value, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
		return set_cause(why, "no such group \"%s\"", value);
	conf->admin_gid = res->gr_gid;
	return 0;
}

static int
resolve_signal(struct conf *conf, const char *value, char **why)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ .name = "USR1", .sig = SIGUSR1 },
		{ .name = "USR2", .sig = SIGUSR2 },
		{ .name = "TERM", .sig = SIGTERM },
		{ .name = "INT", .sig = SIGINT },
		{ .name = "HUP", .sig = SIGHUP },
		{ .name = "none", .sig = 0 },
	};
	const char *name = value;
	size_t i;

	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < nitems(sigs); i++) {
		if (strcasecmp(name, sigs[i].name) == 0) {
			conf->warn_signo = sigs[i].sig;
			return 0;
		}
	}
	return set_cause(why,
	    "expected USR1, USR2, TERM, INT, HUP or none, "
	    "got \"%s\"",
	    value);
}

/* ADDRESS:PORT; the address is what is before the last colon. */
static int
resolve_addr_port(struct conf *conf, const char *value, char **why)
{
	const char *colon = strrchr(value, ':');
	char *end;
	long port;

	if (colon == NULL || colon == value)
		return set_cause(
		    why, "expected ADDRESS:PORT, got \"%s\"", value);
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || port <= 0 ||
	    port > 65535)
		return set_cause(why,
		    "expected a port 1-65535 after the "
		    "colon, got \"%s\"",
		    value);
	free(conf->heartbeat_host);
	conf->heartbeat_host = xstrndup(value, colon - value);
	conf->heartbeat_port = (int)port;
	return 0;
}

static int
resolve_backend(struct conf *conf, const char *value, char **why)
{
	if ((conf->backend_ops = backend_find(value)) == NULL)
		return set_cause(why,
		    "unknown backend \"%s\" (slurm or "
		    "fake)",
		    value);
	return 0;
}

/* The admin's own URL: any destination, but a plain http(s) URL. */
static int
resolve_webhook(struct conf *conf, const char *value, char **why)
{
	(void)conf;
	if (value == NULL)
		return 0;
	return notify_url_check(value, why);
}

/* Space- or comma-separated URL prefixes, each a plain http(s) URL. */
static int
resolve_webhook_allow(struct conf *conf, const char *value, char **why)
{
	(void)conf;
	if (value == NULL)
		return 0;
	return notify_allow_check(value, why);
}

/* A number above min, or "off" (0) where off_ok; into *out. */
static int
resolve_number(
    const char *value, double min, int off_ok, double *out, char **why)
{
	char *end;
	double d;

	if (value == NULL || (off_ok && strcmp(value, "off") == 0)) {
		*out = 0;
		return 0;
	}
	errno = 0;
	d = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !(d > min) || d > 1e6)
		return set_cause(why,
		    "expected a number above %g%s, got \"%s\"", min,
		    off_ok ? " or off" : "", value);
	*out = d;
	return 0;
}

static int
resolve_straggler_factor(struct conf *conf, const char *value, char **why)
{
	return resolve_number(value, 1, 1, &conf->straggler_factor, why);
}

static int
resolve_quarantine_score(struct conf *conf, const char *value, char **why)
{
	return resolve_number(value, 0, 1, &conf->node_quarantine_score, why);
}

static int
resolve_drain_score(struct conf *conf, const char *value, char **why)
{
	return resolve_number(value, 0, 1, &conf->node_drain_score, why);
}

/* Store value into the field that key describes; -1 and *why if invalid. */
static int
conf_set(struct conf *conf, const struct conf_key *key, const char *value,
    char **why)
{
	char **sp = (char **)((char *)conf + key->offset);
	int64_t *ip = (int64_t *)((char *)conf + key->offset);
	int64_t secs;
	char *end, *cause = NULL;
	long long n;

	switch (key->type) {
	case CONF_PATH:
		if (value[0] != '/')
			return set_cause(why, "expected an absolute path");
		/* FALLTHROUGH */
	case CONF_STRING:
		if (key->resolve != NULL && key->resolve(conf, value, why) != 0)
			return -1;
		free(*sp);
		*sp = xstrdup(value);
		return 0;
	case CONF_DURATION_MS:
		if (value[0] != '\0' &&
		    strspn(value, "0123456789.") == strlen(value) &&
		    strchr(value, '.') != NULL) {
			/* fractional seconds: "0.5" */
			double d = strtod(value, &end);
			if (*end != '\0' || d <= 0 || d > 86400)
				return set_cause(why, "bad duration");
			*ip = (int64_t)(d * 1000);
			return 0;
		}
		if (spec_parse_duration(value, &secs, &cause) != 0) {
			*why = cause;
			return -1;
		}
		if (secs <= 0)
			return set_cause(why, "must be positive");
		*ip = secs * 1000;
		return 0;
	case CONF_INT:
		errno = 0;
		n = strtoll(value, &end, 10);
		if (errno != 0 || *end != '\0' || end == value ||
		    n < key->min || n > key->max)
			return set_cause(why, "expected an integer %lld-%lld",
			    (long long)key->min, (long long)key->max);
		*ip = n;
		return 0;
	}
	return set_cause(why, "unknown type");
}

static void
add_error(char **errors, const char *path, const yaml_mark_t *mark,
    const char *key, const char *msg)
{
	char *line, *joined;

	line = xasprintf("%s:%zu:%zu: %s%s%s", path, mark->line + 1,
	    mark->column + 1, key != NULL ? key : "", key != NULL ? ": " : "",
	    msg);
	if (*errors == NULL)
		*errors = line;
	else {
		joined = xasprintf("%s\n%s", *errors, line);
		free(*errors);
		free(line);
		*errors = joined;
	}
}

/*
 * The one check across keys: the MASTER_PORT range must fit, reported at
 * the line of master_port_count (or of master_port_base if only it is set).
 */
static void
conf_check_ports(const struct conf *conf, const char *path,
    const yaml_mark_t *marks, char **errors)
{
	const yaml_mark_t *base = NULL, *count = NULL, *at;
	size_t i;

	if (conf->master_port_base + conf->master_port_count <= 65536)
		return;
	for (i = 0; i < nitems(conf_keys); i++) {
		if (conf_keys[i].offset ==
		    offsetof(struct conf, master_port_base))
			base = &marks[i];
		if (conf_keys[i].offset ==
		    offsetof(struct conf, master_port_count))
			count = &marks[i];
	}
	at = count->line != 0 || count->column != 0 ? count : base;
	add_error(errors, path, at,
	    at == count ? "master_port_count" : "master_port_base",
	    "master_port_base + master_port_count must "
	    "stay below 65536");
}

static int
conf_parse_yaml(struct conf *conf, const char *path, const char *buf,
    size_t len, char **errors)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *k, *v;
	yaml_node_pair_t *pair;
	const struct conf_key *key;
	yaml_mark_t marks[nitems(conf_keys)];
	char *why;
	size_t i;

	memset(marks, 0, sizeof(marks));
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		add_error(errors, path, &parser.problem_mark, NULL,
		    parser.problem != NULL ? parser.problem : "bad YAML");
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) {
		/* empty file: all defaults */
	} else if (root->type != YAML_MAPPING_NODE) {
		add_error(errors, path, &root->start_mark, NULL,
		    "expected a mapping of settings");
	} else {
		for (pair = root->data.mapping.pairs.start;
		     pair < root->data.mapping.pairs.top; pair++) {
			k = yaml_document_get_node(&doc, pair->key);
			v = yaml_document_get_node(&doc, pair->value);
			if (k->type != YAML_SCALAR_NODE) {
				add_error(errors, path, &k->start_mark, NULL,
				    "expected a key");
				continue;
			}
			key = NULL;
			for (i = 0; i < nitems(conf_keys); i++)
				if (strcmp(conf_keys[i].name,
				        (char *)k->data.scalar.value) == 0)
					key = &conf_keys[i];
			if (key == NULL) {
				add_error(errors, path, &k->start_mark,
				    (char *)k->data.scalar.value,
				    "unknown setting");
				continue;
			}
			if (v->type != YAML_SCALAR_NODE) {
				add_error(errors, path, &v->start_mark,
				    key->name, "expected a single value");
				continue;
			}
			why = NULL;
			if (conf_set(conf, key, (char *)v->data.scalar.value,
			        &why) != 0) {
				add_error(errors, path, &v->start_mark,
				    key->name, why);
				free(why);
			}
			marks[key - conf_keys] = v->start_mark;
		}
	}
	conf_check_ports(conf, path, marks, errors);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return *errors == NULL ? 0 : -1;
}

struct conf *
conf_load(const char *path, char **cause)
{
	struct conf *conf;
	char *buf = NULL, *errors = NULL;
	size_t len, i;

	conf = xcalloc(1, sizeof(*conf));
	conf->path = path != NULL ? xstrdup(path) : NULL;
	conf->admin_gid = (gid_t)-1;
	for (i = 0; i < nitems(conf_keys); i++) {
		if (conf_keys[i].dflt != NULL &&
		    conf_set(conf, &conf_keys[i], conf_keys[i].dflt, NULL) != 0)
			abort(); /* a bad default is a programming error */
	}
	if (path == NULL)
		return conf;
	if (read_file(path, 1024 * 1024, &buf, &len, cause) != 0) {
		conf_free(conf);
		return NULL;
	}
	if (conf_parse_yaml(conf, path, buf, len, &errors) != 0) {
		*cause = errors;
		free(buf);
		conf_free(conf);
		return NULL;
	}
	free(buf);
	return conf;
}

static int
conf_key_equal(
    const struct conf_key *key, const struct conf *a, const struct conf *b)
{
	const char *sa, *sb;

	if (key->type != CONF_STRING && key->type != CONF_PATH)
		return *(const int64_t *)((const char *)a + key->offset) ==
		    *(const int64_t *)((const char *)b + key->offset);
	sa = *(char *const *)((const char *)a + key->offset);
	sb = *(char *const *)((const char *)b + key->offset);
	return sa == sb || (sa != NULL && sb != NULL && strcmp(sa, sb) == 0);
}

/*
 * Move the reloadable values of new into cur (new gets the old ones, for
 * conf_free); report every key that differs and whether it was applied.
 */
void
conf_reload(struct conf *cur, struct conf *new,
    void (*report)(const char *, int, void *), void *arg)
{
	const struct conf_key *key;
	char **sa, **sb, *tmp;
	size_t i;

	for (i = 0; i < nitems(conf_keys); i++) {
		key = &conf_keys[i];
		if (conf_key_equal(key, cur, new))
			continue;
		report(key->name, key->reload, arg);
		if (!key->reload)
			continue;
		if (key->type == CONF_STRING || key->type == CONF_PATH) {
			sa = (char **)((char *)cur + key->offset);
			sb = (char **)((char *)new + key->offset);
			tmp = *sa;
			*sa = *sb;
			*sb = tmp;
			/* what it names, checked in new: cannot fail */
			if (key->resolve != NULL)
				(void)key->resolve(cur, *sa, NULL);
		} else
			*(int64_t *)((char *)cur + key->offset) =
			    *(int64_t *)((char *)new + key->offset);
	}
}

void
conf_free(struct conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < nitems(conf_keys); i++) {
		if (conf_keys[i].type == CONF_STRING ||
		    conf_keys[i].type == CONF_PATH)
			free(*(char **)((char *)conf + conf_keys[i].offset));
	}
	free(conf->heartbeat_host);
	free(conf->path);
	free(conf);
}
