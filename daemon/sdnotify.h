/*
 * sdnotify: systemd's service notification protocol (sd_notify(3)), the only
 * module that includes libsystemd. READY=1 once llmctld answers, RELOADING=1
 * and READY=1 around a SIGHUP reload, STOPPING=1 on shutdown, a one-line
 * STATUS= (jobs running, whether slurmctld answers) refreshed on a timer,
 * and WATCHDOG=1 from the event loop at half of WATCHDOG_USEC, so a loop
 * that stops turning is restarted. All of it does nothing when NOTIFY_SOCKET
 * is unset (started by hand) or llmctl was built without libsystemd.
 */
#ifndef LLMCTL_SDNOTIFY_H
#define LLMCTL_SDNOTIFY_H

struct llmctld;
struct sdnotify;

/* Owned by the caller; its timers run on d->base. */
struct sdnotify *sdnotify_create(struct llmctld *d);
void sdnotify_ready(struct sdnotify *);
void sdnotify_reloading(struct sdnotify *);
void sdnotify_stopping(struct sdnotify *);
void sdnotify_free(struct sdnotify *);

#endif
