/*
 * checkpoint-layout: the names and files by which the checkpoint layouts of
 * the common training frameworks are recognised (docs/design.md section 8,
 * llmctl-job(5)). Runs in the scan child, as the job's user, so it keeps to
 * the same async-signal-safe rules as checkpoint-fs.c: no allocation, no
 * stdio, only system calls and string functions.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checkpoint-int.h"

#define ZIP_EOCD_LEN 22 /* end of central directory record */
#define ZIP_COMMENT_MAX 65535

/* A directory name: a prefix, then the step as digits, nothing after. */
static const struct {
	const char *prefix;
	enum ckpt_layout layout;
} dir_names[] = {
	{ "step-", L_DCP }, /* torchtitan */
	{ "step_", L_DCP }, /* only when it is not the pattern */
	{ "iter_", L_MEGATRON }, /* iter_0001000 */
	{ "global_step", L_DEEPSPEED },
	{ "checkpoint-", L_HF },
};

/* The value of n decimal digits, or -1 when they are not (or too many). */
int64_t
ckpt_number(const char *p, size_t n)
{
	int64_t v = 0;
	size_t i;

	if (n == 0 || n > CKPT_MAX_DIGITS)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* The step a name stands for under checkpoint.pattern, or -1. */
static int64_t
pattern_step(const struct scan *s, const char *name)
{
	size_t len = strlen(name);

	if (len < s->plen + s->slen + 1 ||
	    memcmp(name, s->prefix, s->plen) != 0 ||
	    memcmp(name + len - s->slen, s->suffix, s->slen) != 0)
		return -1;
	return ckpt_number(name + s->plen, len - s->plen - s->slen);
}

static int
ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && strcmp(name + n - k, suffix) == 0;
}

/*
 * Lightning's ModelCheckpoint names files from its filename template, by
 * default "epoch={epoch}-step={step}", with "-vN" added on a clash: the
 * step is the digits after "step=".
 */
static int64_t
lightning_step(const char *name)
{
	const char *at = strstr(name, "step=");
	size_t n;

	if (at == NULL)
		return -1;
	at += 5;
	n = strspn(at, "0123456789");
	return ckpt_number(at, n);
}

enum ckpt_layout
ckpt_classify(const struct scan *s, const char *name, int64_t *step)
{
	size_t i, plen;

	if (s->file != NULL && strcmp(name, s->file) == 0) {
		*step = 0; /* a version, counted by the scan */
		return L_FILE;
	}
	if ((*step = pattern_step(s, name)) != -1)
		return L_STEP;
	if (!s->layouts)
		return L_NONE;
	for (i = 0; i < sizeof(dir_names) / sizeof(dir_names[0]); i++) {
		plen = strlen(dir_names[i].prefix);
		if (strncmp(name, dir_names[i].prefix, plen) == 0 &&
		    (*step = ckpt_number(name + plen, strlen(name) - plen)) !=
		        -1)
			return dir_names[i].layout;
	}
	if (!ends_with(name, ".ckpt"))
		return L_NONE;
	if (strcmp(name, "last.ckpt") == 0) {
		*step = 0;
		return L_LAST;
	}
	if ((*step = lightning_step(name)) != -1)
		return L_LIGHTNING;
	return L_NONE;
}

/* Files torch.save() writes under the usual names of these frameworks. */
int
ckpt_torch_file(const char *name)
{
	return ends_with(name, ".pt") || ends_with(name, ".pth") ||
	    ends_with(name, ".bin") || ends_with(name, ".ckpt");
}

/*
 * Whether fd (size bytes) is a save cut short: empty, or a zip archive
 * (torch.save's format since PyTorch 1.6) whose end of central directory
 * record, written last, is missing. A file that is not a zip at all is not
 * judged here. buf is scratch of at least ZIP_EOCD_LEN + ZIP_COMMENT_MAX.
 */
int
ckpt_zip_torn(int fd, off_t size, char *buf, size_t bufsize)
{
	ssize_t got;
	size_t want, i;
	off_t from;

	if (size == 0)
		return 1;
	if (pread(fd, buf, 4, 0) != 4 || memcmp(buf, "PK\3\4", 4) != 0)
		return 0;
	if (size < ZIP_EOCD_LEN)
		return 1;
	/* torch.save writes no comment: the record is the last 22 bytes */
	if (pread(fd, buf, ZIP_EOCD_LEN, size - ZIP_EOCD_LEN) == ZIP_EOCD_LEN &&
	    memcmp(buf, "PK\5\6", 4) == 0 && buf[20] == 0 && buf[21] == 0)
		return 0;
	want = (size_t)size < ZIP_EOCD_LEN + ZIP_COMMENT_MAX
	    ? (size_t)size
	    : ZIP_EOCD_LEN + ZIP_COMMENT_MAX;
	if (want > bufsize)
		want = bufsize;
	from = size - (off_t)want;
	if ((got = pread(fd, buf, want, from)) != (ssize_t)want)
		return 1;
	/* the record, then a comment as long as it says, ends the file */
	for (i = want - ZIP_EOCD_LEN + 1; i-- > 0;)
		if (memcmp(buf + i, "PK\5\6", 4) == 0 &&
		    i + ZIP_EOCD_LEN +
		            ((size_t)(unsigned char)buf[i + 20] |
		                (size_t)(unsigned char)buf[i + 21] << 8) ==
		        want)
			return 0;
	return 1;
}

/*
 * The step in a tracker file of dirfd (Megatron's iteration, DeepSpeed's
 * tag after prefix), or -1 when there is none, it is not a regular file of
 * uid, or it holds something else ("release", a tag of the user's own).
 */
int64_t
ckpt_read_tracker(int dirfd, const char *name, uid_t uid, char *buf,
    size_t size, const char *prefix)
{
	struct stat st;
	ssize_t got;
	size_t n, plen = strlen(prefix);
	int fd;

	fd =
	    openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != uid) {
		close(fd);
		return -1;
	}
	while ((got = read(fd, buf, size - 1)) == -1 && errno == EINTR)
		;
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = '\0';
	n = (size_t)got;
	while (n > 0 &&
	    (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	        buf[n - 1] == '\t'))
		n--;
	if (n < plen || memcmp(buf, prefix, plen) != 0)
		return -1;
	return ckpt_number(buf + plen, n - plen);
}
