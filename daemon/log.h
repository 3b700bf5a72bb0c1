/*
 * log: the daemon's logging. stderr in the foreground, syslog (the journal)
 * as a service. log_warn appends strerror(errno); log_warnx does not.
 */
#ifndef LLMCTLD_LOG_H
#define LLMCTLD_LOG_H

#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

void log_init(int foreground, enum log_level level);
int log_level_parse(const char *, enum log_level *);
void log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_job(int64_t job, const char *, ...)
    __attribute__((format(printf, 2, 3)));
void fatal(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
