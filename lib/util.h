/*
 * util: allocation that never returns NULL, string helpers and the error
 * convention shared by lib/, the daemon and the CLI.
 *
 * lib/ never exits and never logs; the only exception is running out of
 * memory, which aborts (a broken invariant, not an error to report).
 */
#ifndef LLMCTL_UTIL_H
#define LLMCTL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xreallocarray(void *, size_t, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
char *xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

/* Fill *cause (if cause is not NULL) with a formatted message; returns -1. */
int set_cause(char **cause, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Read a whole file, at most max bytes; -1 with *cause on error or overflow. */
int read_file(
    const char *path, size_t max, char **buf, size_t *len, char **cause);

/* Random hex string of 2*nbytes characters from getrandom(2). */
char *random_hex(size_t nbytes);

/* Quote s for /bin/sh with single quotes; the result is always safe. */
char *sh_quote(const char *s);

/* FNV-1a of a string, for hash tables. */
uint64_t str_hash(const char *s);
/* The value of a hex digit, -1 if c is not one. */
int hex_digit(int c);

/* Milliseconds from CLOCK_MONOTONIC and seconds from the wall clock. */
int64_t mono_ms(void);
int64_t wall_s(void);

#endif
