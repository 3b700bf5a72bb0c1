/*
 * output: how llmctl prints data: aligned tables that fit OUTPUT_WIDTH
 * columns, "key: value" views, times and ages, and pretty JSON or YAML for
 * -o json and -o yaml.
 *
 * Every string from the daemon passes through here and has its control
 * characters replaced, so a job name or reason cannot move the cursor or
 * forge lines. A struct table is owned by its creator (table_free()).
 */
#ifndef LLMCTL_OUTPUT_H
#define LLMCTL_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define OUTPUT_WIDTH 100

enum output_format {
	OUTPUT_TABLE,
	OUTPUT_JSON,
	OUTPUT_YAML,
};

/* "table", "json" or "yaml"; -1 (with a message printed) for the rest. */
int output_parse_format(const char *, enum output_format *);

/* Pretty JSON, two-space indent, keys in the daemon's order, newline. */
void output_json(FILE *, const json_t *);
/* The same value as a YAML document (cli/output-yaml.c). */
void output_yaml(FILE *, const json_t *);
/* output_json() or output_yaml() as fmt says; OUTPUT_TABLE is json. */
void output_data(FILE *, const json_t *, enum output_format fmt);

struct table;

struct table *table_create(size_t ncols, const char *const *headers);
void table_free(struct table *);
/* Append a cell, copied and sanitised; NULL or "" print as "-". */
void table_add(struct table *, const char *);
/* Leave the header line out when printing (--noheader). */
void table_noheader(struct table *);
/* Print rows with columns shrunk (widest, then last) to fit width. */
void table_print(struct table *, FILE *, size_t width);
size_t table_rows(const struct table *);

/*
 * Format obj[key] into buf for display: strings as they are, numbers in
 * decimal, true/false, "-" for null or missing. Returns buf.
 */
const char *output_field(
    const json_t *obj, const char *key, char *buf, size_t len);
/* Unix time obj[key] as "YYYY-MM-DD HH:MM:SS" local time, or "-". */
const char *output_time(
    const json_t *obj, const char *key, char *buf, size_t len);
/* Same but shorter ("MM-DD HH:MM") for tables. */
const char *output_time_short(
    const json_t *obj, const char *key, char *buf, size_t len);
/* Age of unix time obj[key] at now: "45s", "12m", "5h", "3d", or "-". */
const char *output_age(
    const json_t *obj, const char *key, int64_t now, char *buf, size_t len);

/* Print s with control characters replaced (no newline added). */
void output_string(FILE *, const char *);
/* A copy of s with control characters replaced; the caller frees it. */
char *output_sanitise(const char *);
/* Columns s takes on a terminal: UTF-8 code points. */
size_t output_width(const char *);
/* Bytes for people: "512B", "1.5K", "34M", "1.2G" (powers of 1024). */
const char *output_bytes(int64_t, char *buf, size_t len);

#endif
