/*
 * store-int: what store.c shares with the store's other files
 * (store-nodes.c), never with the rest of the daemon.
 */
#ifndef LLMCTLD_STORE_INT_H
#define LLMCTLD_STORE_INT_H

#include <sqlite3.h>

struct store;

/* A statement for sql, kept for its next use (store.c's cache). */
sqlite3_stmt *store_prepare(struct store *, const char *);
/* Hand a statement from store_prepare() back; never finalize one. */
void store_release(struct store *, sqlite3_stmt *);
/* Run a statement that returns no rows, release it; 0 or -1. */
int store_step_done(struct store *, sqlite3_stmt *);
/* Rows the last statement changed. */
int store_changes(struct store *);
void bind_text(sqlite3_stmt *, int, const char *);
char *column_text(sqlite3_stmt *, int);

#endif
