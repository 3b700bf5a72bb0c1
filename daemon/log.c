/*
 * log: leveled logging to stderr or syslog, safe from any thread. Every
 * message is escaped before it is written (log_escape), so a client string
 * with a newline in it cannot forge a line, whichever caller logs it.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static void log_write(enum log_level, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int log_foreground = 1;
static enum log_level log_max = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_init(int foreground, enum log_level level)
{
	log_foreground = foreground;
	log_max = level;
	if (!foreground)
		openlog("llmctld", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_level_parse(const char *s, enum log_level *level)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_reopen(void)
{
	/* stderr belongs to whoever started us (the journal, a file) */
	if (!log_foreground) {
		closelog();
		openlog("llmctld", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

void
log_set_level(enum log_level level)
{
	log_max = level;
}

const char *
log_level_name(enum log_level level)
{
	return level_names[level];
}

/* Length of the UTF-8 sequence at s (at most len bytes), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t len)
{
	uint32_t cp;
	size_t n, i;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len < n)
		return 0;
	cp = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls and the Unicode line breaks end lines in some viewers */
	if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
		return 0;
	return n;
}

/*
 * Copy in to out (size outlen, at least 1), writing control characters as
 * \n, \r or \xNN and bytes that are not valid UTF-8 as \xNN. Tabs and
 * printable text, including UTF-8, stay as they are. Truncates whole
 * escapes; returns the length of out.
 */
size_t
log_escape(const char *in, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, len = strlen(in), n, i;
	char esc[5];

	for (i = 0; i < len; i += n) {
		n = 1;
		if (s[i] == '\n')
			strcpy(esc, "\\n");
		else if (s[i] == '\r')
			strcpy(esc, "\\r");
		else if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f ||
		    (s[i] >= 0x80 && (n = utf8_len(s + i, len - i)) == 0)) {
			snprintf(esc, sizeof(esc), "\\x%02x", s[i]);
			n = 1;
		} else {
			if (o + n >= outlen)
				break;
			memcpy(out + o, s + i, n);
			o += n;
			continue;
		}
		if (o + strlen(esc) >= outlen)
			break;
		memcpy(out + o, esc, strlen(esc));
		o += strlen(esc);
	}
	out[o] = '\0';
	return o;
}

static void
log_vwrite(enum log_level level, const char *err, const char *fmt, va_list ap)
{
	static const int prio[] = {
		[LOG_LEVEL_ERROR] = LOG_ERR,
		[LOG_LEVEL_WARN] = LOG_WARNING,
		[LOG_LEVEL_INFO] = LOG_INFO,
		[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	};
	char raw[2048], msg[4 * sizeof(raw)];
	struct timespec ts;
	struct tm tm;

	if (level > log_max)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_escape(raw, msg, sizeof(msg));
	if (!log_foreground) {
		if (err != NULL)
			syslog(prio[level], "%s: %s", msg, err);
		else
			syslog(prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s%s%s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], msg,
	    err != NULL ? ": " : "", err != NULL ? err : "");
}

#define LOG_BODY(level, err) \
	do { \
		va_list ap; \
		va_start(ap, fmt); \
		log_vwrite(level, err, fmt, ap); \
		va_end(ap); \
	} while (0)

static void
log_write(enum log_level level, const char *fmt, ...)
{
	LOG_BODY(level, NULL);
}

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, err);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_WARN, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_DEBUG, NULL);
}

void
log_job(int64_t job, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("job %lld: %s", (long long)job, msg);
}

/*
 * At most LOG_LIMIT_LINES lines per LOG_LIMIT_WINDOW seconds through one
 * limiter; the first line of the next window says how many were dropped.
 * One lock for all limiters: libevent may warn from the worker thread.
 */
void
log_limited(struct log_limit *lim, enum log_level level, const char *fmt, ...)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	struct timespec ts;
	unsigned suppressed;
	char msg[2048];
	va_list ap;

	if (level > log_max)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&lock);
	if (lim->start == 0 || ts.tv_sec - lim->start >= LOG_LIMIT_WINDOW) {
		lim->start = ts.tv_sec;
		lim->lines = 0;
	}
	if (lim->lines >= LOG_LIMIT_LINES) {
		lim->suppressed++;
		pthread_mutex_unlock(&lock);
		return;
	}
	lim->lines++;
	suppressed = lim->suppressed;
	lim->suppressed = 0;
	pthread_mutex_unlock(&lock);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (suppressed > 0)
		log_write(level, "%s (and %u more like this suppressed)", msg,
		    suppressed);
	else
		log_write(level, "%s", msg);
}

void
fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);

	LOG_BODY(LOG_LEVEL_ERROR, err);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_ERROR, NULL);
	exit(1);
}
