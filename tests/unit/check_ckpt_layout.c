/*
 * check_ckpt_layout: the checkpoint layouts of the training frameworks
 * (PyTorch DCP, Megatron-LM, DeepSpeed, Hugging Face, Lightning, a single
 * file): which entry is complete, which is a save in progress, its step,
 * and which one a restart resumes from. Entries are made with each
 * framework's file names in its write order; timestamps are set where the
 * rule depends on them.
 *
 * As root the job's user is nobody (65534), else the caller.
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "unit.h"

static char	base[PATH_MAX];
static char	ckdir[PATH_MAX];
static uid_t	juid;
static gid_t	jgid;

static void	fmt(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	ck_assert_msg(n >= 0 && (size_t)n < size, "path too long");
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	fmt(base, sizeof(base), "%s/check_ckpt_layout.XXXXXX", tmp);
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_eq(chmod(base, 0755), 0);
	juid = geteuid() == 0 ? 65534 : getuid();
	jgid = geteuid() == 0 ? 65534 : getgid();
	fmt(ckdir, sizeof(ckdir), "%s/ckpts", base);
	ck_assert_int_eq(mkdir(ckdir, 0755), 0);
	ck_assert_int_eq(lchown(ckdir, juid, jgid), 0);
}

static void
teardown(void)
{
	char cmd[PATH_MAX * 2 + 32];

	fmt(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
}

static const char *
at(const char *rel)
{
	static char p[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	fmt(p[i], sizeof(p[i]), "%s/%s", ckdir, rel);
	return p[i];
}

static void
mkd(const char *rel)
{
	ck_assert_msg(mkdir(at(rel), 0755) == 0, "mkdir %s", rel);
	ck_assert_int_eq(lchown(at(rel), juid, jgid), 0);
}

static void
mkbuf(const char *rel, const void *data, size_t len)
{
	int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_msg(fd != -1, "create %s", rel);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(lchown(at(rel), juid, jgid), 0);
}

static void
mkf(const char *rel, const char *data)
{
	mkbuf(rel, data, strlen(data));
}

/* What torch.save writes: a zip archive, its end record last. */
static void
mkzip(const char *rel, int whole)
{
	char z[64 + 22];

	memset(z, 'x', sizeof(z));
	memcpy(z, "PK\3\4", 4);
	memset(z + 64, 0, 22);
	memcpy(z + 64, "PK\5\6", 4);
	mkbuf(rel, z, whole ? sizeof(z) : 40);
}

/* Set a file's mtime to now + off seconds (its ctime becomes now). */
static void
age(const char *rel, int off)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += off;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, at(rel), ts,
	    AT_SYMLINK_NOFOLLOW), 0);
}

static void
scan_as(const char *pattern, const char *file, int settle,
    const struct ckpt *known, size_t nknown, struct ckpt **v, size_t *n)
{
	char *cause = NULL;

	ck_assert_msg(checkpoint_scan(ckdir, pattern, file, settle, juid,
	    jgid, known, nknown, 0, v, n, &cause) == 0, "scan: %s", cause);
}

static void
scan(struct ckpt **v, size_t *n)
{
	scan_as("step_{step}", NULL, 0, NULL, 0, v, n);
}

static const struct ckpt *
find(const struct ckpt *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].path, at(name)) == 0)
			return &v[i];
	ck_abort_msg("no entry %s", name);
	return NULL;
}

/* name is complete with step, or has a problem starting with want. */
static void
expect(const struct ckpt *v, size_t n, const char *name, int64_t step,
    const char *want)
{
	const struct ckpt *k = find(v, n, name);

	ck_assert_msg(k->step == step, "%s: step %lld, want %lld", name,
	    (long long)k->step, (long long)step);
	if (want == NULL) {
		ck_assert_msg(k->complete && k->problem == NULL,
		    "%s: not complete: %s", name,
		    k->problem != NULL ? k->problem : "(no problem)");
		return;
	}
	ck_assert_msg(!k->complete && k->problem != NULL &&
	    strncmp(k->problem, want, strlen(want)) == 0,
	    "%s: problem \"%s\", want \"%s...\"", name,
	    k->problem != NULL ? k->problem : "(none)", want);
}

static void
expect_newest(const struct ckpt *v, size_t n, const char *name)
{
	const struct ckpt *k = checkpoint_newest(v, n);

	ck_assert_msg(k != NULL, "no newest, want %s", name);
	ck_assert_str_eq(k->path, at(name));
}

/* torch.distributed.checkpoint: shards by every rank, then .metadata. */
static void
dcp(const char *dir, int shards_after_metadata, int with_metadata)
{
	char p[PATH_MAX];

	mkd(dir);
	fmt(p, sizeof(p), "%s/__0_0.distcp", dir);
	mkf(p, "rank 0 shard");
	age(p, -20);
	fmt(p, sizeof(p), "%s/__1_0.distcp", dir);
	mkf(p, "rank 1 shard");
	age(p, shards_after_metadata ? -1 : -20);
	if (!with_metadata)
		return;
	fmt(p, sizeof(p), "%s/.metadata", dir);
	mkf(p, "pickled Metadata");
	age(p, -10);
}

START_TEST(test_dcp)
{
	struct ckpt *v;
	size_t n;

	dcp("step-100", 0, 1);
	dcp("step-200", 0, 0);		/* killed before the coordinator */
	dcp("step-300", 1, 1);		/* saved into again */
	dcp("step_50", 0, 1);		/* under the default pattern's name */
	mkd("step-400");
	mkf("step-400/.metadata", "no shards");
	scan(&v, &n);
	ck_assert_uint_eq(n, 5);
	expect(v, n, "step-100", 100, NULL);
	expect(v, n, "step-200", 200, CKPT_IN_PROGRESS ": no .metadata");
	expect(v, n, "step-300", 300, CKPT_IN_PROGRESS ": a shard is newer");
	expect(v, n, "step_50", 50, NULL);
	expect(v, n, "step-400", 400, ".metadata but no .distcp shards");
	expect_newest(v, n, "step-100");
	ck_assert(checkpoint_in_progress(find(v, n, "step-200")->problem));
	ck_assert(!checkpoint_in_progress(find(v, n, "step-400")->problem));
	checkpoint_free(v, n);
}
END_TEST

/* Megatron-LM: iter_%07d dirs, the tracker written after all ranks saved. */
START_TEST(test_megatron)
{
	struct ckpt *v;
	size_t n;

	mkd("iter_0000500");
	mkd("iter_0000500/mp_rank_00");
	mkzip("iter_0000500/mp_rank_00/model_optim_rng.pt", 1);
	mkd("iter_0001000");
	mkd("iter_0001000/mp_rank_00");
	mkzip("iter_0001000/mp_rank_00/model_optim_rng.pt", 1);
	mkd("iter_0001000/mp_rank_01");
	mkzip("iter_0001000/mp_rank_01/model_optim_rng.pt", 1);
	mkf("latest_checkpointed_iteration.txt", "1000");
	mkd("iter_0001500");		/* the next save, cut short */
	mkd("iter_0001500/mp_rank_00");
	mkzip("iter_0001500/mp_rank_00/model_optim_rng.pt", 1);
	scan(&v, &n);
	ck_assert_uint_eq(n, 3);
	expect(v, n, "iter_0000500", 500, NULL);
	expect(v, n, "iter_0001000", 1000, NULL);
	expect(v, n, "iter_0001500", 1500, CKPT_IN_PROGRESS ": newer than "
	    "latest_checkpointed_iteration.txt (1000)");
	expect_newest(v, n, "iter_0001000");
	checkpoint_free(v, n);

	/* a rank's file cut short spoils even an entry the tracker passed */
	mkzip("iter_0001000/mp_rank_01/model_optim_rng.pt", 0);
	scan(&v, &n);
	expect(v, n, "iter_0001000", 1000, CKPT_IN_PROGRESS ": "
	    "mp_rank_01/model_optim_rng.pt is cut short");
	expect_newest(v, n, "iter_0000500");
	checkpoint_free(v, n);

	/* no tracker yet: the first save is still being written */
	ck_assert_int_eq(unlink(at("latest_checkpointed_iteration.txt")), 0);
	scan(&v, &n);
	expect(v, n, "iter_0000500", 500, CKPT_IN_PROGRESS);
	ck_assert_ptr_null(checkpoint_newest(v, n));
	checkpoint_free(v, n);
}
END_TEST

/* DeepSpeed: global_stepN dirs, the tag in "latest" once saved. */
START_TEST(test_deepspeed)
{
	struct ckpt *v;
	size_t n;

	mkd("global_step10");
	mkzip("global_step10/mp_rank_00_model_states.pt", 1);
	mkd("global_step20");
	mkzip("global_step20/mp_rank_00_model_states.pt", 1);
	mkzip("global_step20/zero_pp_rank_0_mp_rank_00_optim_states.pt", 1);
	mkzip("global_step20/zero_pp_rank_1_mp_rank_00_optim_states.pt", 1);
	mkf("latest", "global_step20");
	mkd("global_step30");
	mkzip("global_step30/mp_rank_00_model_states.pt", 1);
	mkzip("global_step30/zero_pp_rank_0_mp_rank_00_optim_states.pt", 0);
	scan(&v, &n);
	ck_assert_uint_eq(n, 3);
	expect(v, n, "global_step10", 10, NULL);
	expect(v, n, "global_step20", 20, NULL);
	expect(v, n, "global_step30", 30, CKPT_IN_PROGRESS);
	expect_newest(v, n, "global_step20");
	checkpoint_free(v, n);

	/* a tag of the user's own is not a step */
	mkf("latest", "best-model\n");
	scan(&v, &n);
	expect(v, n, "global_step20", 20, CKPT_IN_PROGRESS ": latest names "
	    "no step");
	checkpoint_free(v, n);
}
END_TEST

/* Hugging Face Trainer: weights, optimizer, ..., trainer_state.json last. */
static void
hf(const char *dir, const char *state)
{
	char p[PATH_MAX];

	mkd(dir);
	fmt(p, sizeof(p), "%s/model.safetensors", dir);
	mkf(p, "safetensors");
	fmt(p, sizeof(p), "%s/optimizer.pt", dir);
	mkzip(p, 1);
	fmt(p, sizeof(p), "%s/scheduler.pt", dir);
	mkzip(p, 1);
	fmt(p, sizeof(p), "%s/rng_state.pth", dir);
	mkzip(p, 1);
	if (state == NULL)
		return;
	fmt(p, sizeof(p), "%s/trainer_state.json", dir);
	mkf(p, state);
}

START_TEST(test_hf)
{
	struct ckpt *v;
	size_t n;

	hf("checkpoint-500", "{\n  \"best_metric\": null,\n  \"epoch\": 1.0,\n"
	    "  \"global_step\": 500,\n  \"log_history\": []\n}\n");
	hf("checkpoint-1000", NULL);
	hf("checkpoint-1500", "{\n  \"epoch\": 3.0,\n  \"global_step\": 15");
	hf("checkpoint-2000", "{ \"global_step\": 1999 }");
	hf("checkpoint-2500", "{ \"epoch\": 5 }");
	mkd("tmp-checkpoint-3000");	/* not a name the Trainer resumes */
	scan(&v, &n);
	ck_assert_uint_eq(n, 5);
	expect(v, n, "checkpoint-500", 500, NULL);
	expect(v, n, "checkpoint-1000", 1000, CKPT_IN_PROGRESS ": no "
	    "trainer_state.json");
	expect(v, n, "checkpoint-1500", 1500, CKPT_IN_PROGRESS ": "
	    "trainer_state.json is cut short");
	expect(v, n, "checkpoint-2000", 2000, "trainer_state.json: "
	    "global_step is not");
	expect(v, n, "checkpoint-2500", 2500, "trainer_state.json: no "
	    "global_step");
	expect_newest(v, n, "checkpoint-500");
	checkpoint_free(v, n);
}
END_TEST

/* Lightning: epoch=E-step=S.ckpt files, and last.ckpt saved with them. */
START_TEST(test_lightning)
{
	struct ckpt *v;
	size_t n;

	mkzip("epoch=0-step=100.ckpt", 1);
	mkzip("epoch=1-step=200.ckpt", 1);
	mkzip("last.ckpt", 1);
	mkzip("epoch=2-step=300.ckpt", 0);	/* killed mid-save */
	mkzip("notes.ckpt", 1);			/* no step: not a save */
	scan(&v, &n);
	ck_assert_uint_eq(n, 4);
	expect(v, n, "epoch=0-step=100.ckpt", 100, NULL);
	expect(v, n, "epoch=1-step=200.ckpt", 200, NULL);
	expect(v, n, "epoch=2-step=300.ckpt", 300, CKPT_IN_PROGRESS ": cut "
	    "short");
	expect(v, n, "last.ckpt", 200, NULL);
	checkpoint_free(v, n);

	/* save_last="link": a symlink is never followed */
	ck_assert_int_eq(unlink(at("last.ckpt")), 0);
	ck_assert_int_eq(symlink("epoch=1-step=200.ckpt", at("last.ckpt")),
	    0);
	ck_assert_int_eq(lchown(at("last.ckpt"), juid, jgid), 0);
	scan(&v, &n);
	expect(v, n, "last.ckpt", 200, "symlink, not followed");
	expect_newest(v, n, "epoch=1-step=200.ckpt");
	checkpoint_free(v, n);
}
END_TEST

/* last.ckpt alone, and checkpoint.file: versions by size and time. */
START_TEST(test_single_file)
{
	struct ckpt *v, *w;
	size_t n, m;

	mkzip("snapshot.pt", 1);
	scan_as("step_{step}", "snapshot.pt", 3600, NULL, 0, &v, &n);
	ck_assert_uint_eq(n, 1);
	expect(v, n, "snapshot.pt", 1, NULL);
	expect_newest(v, n, "snapshot.pt");

	/* unchanged: the same version */
	scan_as("step_{step}", "snapshot.pt", 3600, v, n, &w, &m);
	expect(w, m, "snapshot.pt", 1, NULL);
	checkpoint_free(w, m);

	/* overwritten in place, cut short: a newer version, not usable */
	mkzip("snapshot.pt", 0);
	age("snapshot.pt", 5);
	scan_as("step_{step}", "snapshot.pt", 3600, v, n, &w, &m);
	expect(w, m, "snapshot.pt", 2, CKPT_IN_PROGRESS);
	checkpoint_free(v, n);

	/* a file that is not a zip counts once settled */
	mkf("snapshot.pt", "pickle, legacy format");
	age("snapshot.pt", 10);
	scan_as("step_{step}", "snapshot.pt", 3600, w, m, &v, &n);
	expect(v, n, "snapshot.pt", 3, CKPT_IN_PROGRESS ": changed within");
	checkpoint_free(w, m);
	age("snapshot.pt", -7200);
	scan_as("step_{step}", "snapshot.pt", 3600, v, n, &w, &m);
	expect(w, m, "snapshot.pt", 4, NULL);
	checkpoint_free(v, n);
	checkpoint_free(w, m);
}
END_TEST

/* torch.save(tmp); os.replace(tmp, name): whole at once, however new. */
START_TEST(test_renamed)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	struct ckpt *v;
	size_t n;

	mkf("model.pt.tmp", "legacy pickle, whole");
	nanosleep(&pause, NULL);
	ck_assert_int_eq(rename(at("model.pt.tmp"), at("model.pt")), 0);
	scan_as("step_{step}", "model.pt", 3600, NULL, 0, &v, &n);
	ck_assert_uint_eq(n, 1);
	expect(v, n, "model.pt", 1, NULL);
	checkpoint_free(v, n);

	/* last.ckpt with no step-named file beside it */
	mkzip("last.ckpt", 1);
	scan(&v, &n);
	ck_assert_uint_eq(n, 1);
	expect(v, n, "last.ckpt", 1, NULL);
	checkpoint_free(v, n);
}
END_TEST

/* A pattern of the user's own turns the framework layouts off. */
START_TEST(test_own_pattern)
{
	struct ckpt *v;
	size_t n;
	char *cause = NULL;

	hf("checkpoint-5", "{\"global_step\": 5}");
	mkd("ckpt_7");
	mkf("ckpt_7/COMPLETE", "");
	scan_as("ckpt_{step}", NULL, 0, NULL, 0, &v, &n);
	ck_assert_uint_eq(n, 1);
	expect(v, n, "ckpt_7", 7, NULL);
	checkpoint_free(v, n);

	ck_assert_int_eq(checkpoint_scan(ckdir, "step_{step}", "../x", 0,
	    juid, jgid, NULL, 0, 0, &v, &n, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "must be a name"));
	free(cause);
}
END_TEST

/* Mixed layouts in one dir: the newest complete step wins. */
START_TEST(test_mixed)
{
	struct ckpt *v;
	size_t n;

	hf("checkpoint-40", "{\"global_step\": 40}");
	dcp("step-60", 0, 1);
	dcp("step-80", 0, 0);
	mkd("step_70");
	mkf("step_70/model.pt", "weights");	/* no marker */
	scan(&v, &n);
	ck_assert_uint_eq(n, 4);
	expect(v, n, "step_70", 70, "no COMPLETE marker or manifest");
	expect_newest(v, n, "step-60");
	checkpoint_free(v, n);
}
END_TEST

/* What llmctl checkpoints -o json calls each entry. */
START_TEST(test_layout_names)
{
	static const struct {
		const char *path, *pattern, *file, *want;
	} c[] = {
		{ "/c/step_10", "step_{step}", NULL, "step" },
		{ "/c/step-10", "step_{step}", NULL, "dcp" },
		{ "/c/iter_0000010", "step_{step}", NULL, "megatron" },
		{ "/c/global_step10", "step_{step}", NULL, "deepspeed" },
		{ "/c/checkpoint-10", "step_{step}", NULL, "hf" },
		{ "/c/epoch=1-step=10.ckpt", "step_{step}", NULL, "lightning" },
		{ "/c/last.ckpt", "step_{step}", NULL, "lightning" },
		{ "/c/snapshot.pt", "step_{step}", "snapshot.pt", "file" },
		{ "/c/snapshot.pt", "step_{step}", NULL, "unknown" },
		{ "/c/checkpoint-10", "ckpt_{step}", NULL, "unknown" },
		{ "/c/ckpt_10", "ckpt_{step}", NULL, "step" },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(strcmp(checkpoint_layout(c[i].path, c[i].pattern,
		    c[i].file), c[i].want) == 0, "%s: %s, want %s", c[i].path,
		    checkpoint_layout(c[i].path, c[i].pattern, c[i].file),
		    c[i].want);
}
END_TEST

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Make entry i of a layout (a step of its own, i) in ckdir. */
static void
make_entry(int layout, int i)
{
	char p[PATH_MAX], q[PATH_MAX];

	switch (layout) {
	case 0:
		fmt(p, sizeof(p), "step_%d", i);
		mkd(p);
		fmt(p, sizeof(p), "step_%d/model.pt", i);
		mkzip(p, 1);
		fmt(p, sizeof(p), "step_%d/COMPLETE", i);
		mkf(p, "");
		break;
	case 1:
		fmt(p, sizeof(p), "step-%d", i);
		dcp(p, 0, 1);
		break;
	case 2:
		fmt(p, sizeof(p), "iter_%07d", i);
		mkd(p);
		fmt(p, sizeof(p), "iter_%07d/model_optim_rng.pt", i);
		mkzip(p, 1);
		break;
	case 3:
		fmt(p, sizeof(p), "global_step%d", i);
		mkd(p);
		fmt(p, sizeof(p), "global_step%d/mp_rank_00_model_states.pt", i);
		mkzip(p, 1);
		break;
	case 4:
		fmt(p, sizeof(p), "checkpoint-%d", i);
		fmt(q, sizeof(q), "{\"global_step\": %d}", i);
		hf(p, q);
		break;
	default:
		fmt(p, sizeof(p), "epoch=%d-step=%d.ckpt", i, i);
		mkzip(p, 1);
		break;
	}
}

static void
trackers(void)
{
	mkf("latest_checkpointed_iteration.txt", "1000\n");
	mkf("latest", "global_step1000");
}

/*
 * 1,000 entries of each layout, one directory per layout, then all in one:
 * a scan stays far inside scan_timeout. Prints the times.
 */
START_TEST(test_thousand)
{
	static const char *const names[] = { "step", "dcp", "megatron",
	    "deepspeed", "hf", "lightning" };
	char top[PATH_MAX];
	struct ckpt *v;
	size_t n;
	int64_t t0, ms;
	int l, i;

	memcpy(top, ckdir, sizeof(top));
	for (l = 0; l < 6; l++) {
		fmt(ckdir, sizeof(ckdir), "%s/%s", top, names[l]);
		ck_assert_int_eq(mkdir(ckdir, 0755), 0);
		ck_assert_int_eq(lchown(ckdir, juid, jgid), 0);
		for (i = 1; i <= 1000; i++)
			make_entry(l, i);
		trackers();
		t0 = now_ms();
		scan(&v, &n);
		ms = now_ms() - t0;
		fprintf(stderr, "check_ckpt_layout: 1,000 %s entries scanned "
		    "in %lld ms\n", names[l], (long long)ms);
		ck_assert_uint_eq(n, 1000);
		ck_assert_int_eq(checkpoint_newest(v, n)->step, 1000);
		ck_assert_int_lt(ms, 10000);
		checkpoint_free(v, n);
	}
	memcpy(ckdir, top, sizeof(ckdir));
	for (l = 0; l < 6; l++)
		for (i = 1; i <= 1000; i++)
			make_entry(l, i);
	trackers();
	t0 = now_ms();
	scan(&v, &n);
	fprintf(stderr, "check_ckpt_layout: 6,000 entries (1,000 per layout) "
	    "in one dir scanned in %lld ms\n", (long long)(now_ms() - t0));
	/* the six layout dirs are entries of nothing */
	ck_assert_uint_eq(n, 6000);
	ck_assert_int_eq(checkpoint_newest(v, n)->step, 1000);
	checkpoint_free(v, n);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ckpt_layout");
	TCase *tc;

	tc = tcase_create("layouts");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dcp);
	tcase_add_test(tc, test_megatron);
	tcase_add_test(tc, test_deepspeed);
	tcase_add_test(tc, test_hf);
	tcase_add_test(tc, test_lightning);
	tcase_add_test(tc, test_single_file);
	tcase_add_test(tc, test_renamed);
	tcase_add_test(tc, test_own_pattern);
	tcase_add_test(tc, test_mixed);
	tcase_add_test(tc, test_thousand);
	tcase_add_test(tc, test_layout_names);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
