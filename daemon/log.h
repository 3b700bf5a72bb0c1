/*
 * log: the daemon's logging. stderr in the foreground, syslog (the journal)
 * as a service. log_warn appends strerror(errno); log_warnx does not.
 * Messages are escaped (log_escape): one call is always one line.
 */
#ifndef LLMCTLD_LOG_H
#define LLMCTLD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* A rate limit for one kind of repeated line (log_limited), any thread. */
#define LOG_LIMIT_LINES 5
#define LOG_LIMIT_WINDOW 10 /* seconds */
struct log_limit {
	time_t start; /* window start, monotonic */
	unsigned lines; /* written in this window */
	unsigned suppressed; /* dropped since the last line */
};

void log_init(int foreground, enum log_level level);
void log_reopen(void);
void log_set_level(enum log_level);
const char *log_level_name(enum log_level);
size_t log_escape(const char *, char *, size_t);
void log_limited(struct log_limit *, enum log_level, const char *, ...)
    __attribute__((format(printf, 3, 4)));
int log_level_parse(const char *, enum log_level *);
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_job(int64_t job, const char *, ...)
    __attribute__((format(printf, 2, 3)));
void fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
