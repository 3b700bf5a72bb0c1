/*
 * replay: run a libFuzzer target once over every file of its seed corpus
 * without clang, so `make check` builds the fuzz targets with the rest of
 * the code (they cannot drift from it) and the seeds keep passing under
 * whatever sanitizers the build has.
 *
 *   replay_api DIR_OR_FILE...
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay_file(const char *path)
{
	char *buf = NULL, *cause = NULL;
	size_t len;

	if (read_file(path, 1 << 20, &buf, &len, &cause) != 0) {
		fprintf(stderr, "replay: %s\n", cause);
		free(cause);
		return -1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	free(buf);
	return 0;
}

static int
replay_path(const char *path, int *n)
{
	struct dirent **names;
	struct stat sb;
	char *p;
	int i, count, rc = 0;

	if (stat(path, &sb) == -1) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		(*n)++;
		return replay_file(path);
	}
	if ((count = scandir(path, &names, NULL, alphasort)) == -1) {
		perror(path);
		return -1;
	}
	for (i = 0; i < count; i++) {
		p = xasprintf("%s/%s", path, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && stat(p, &sb) == 0 &&
		    S_ISREG(sb.st_mode)) {
			(*n)++;
			if (replay_file(p) != 0)
				rc = -1;
		}
		free(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

int
main(int argc, char **argv)
{
	int i, n = 0, rc = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++)
		if (replay_path(argv[i], &n) != 0)
			rc = 1;
	printf("replay: %d inputs\n", n);
	return rc;
}
