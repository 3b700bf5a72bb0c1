/* check_sha256: the FIPS 180-4 examples, NIST vectors and sha256sum agree. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"
#include "unit.h"

static const struct {
	const char *msg;
	size_t repeat; /* msg is fed this many times */
	const char *hex;
} vectors[] = {
	{ .msg = "",
	    .repeat = 1,
	    .hex = "e3b0c44298fc1c149afbf4c8996fb924"
	           "27ae41e4649b934ca495991b7852b855" },
	{ .msg = "abc",
	    .repeat = 1,
	    .hex = "ba7816bf8f01cfea414140de5dae2223"
	           "b00361a396177a9cb410ff61f20015ad" },
	{ .msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    .repeat = 1,
	    .hex = "248d6a61d20638b8e5c026930c3e6039"
	           "a33ce45964ff2167f6ecedd419db06c1" },
	{ .msg = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	         "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    .repeat = 1,
	    .hex = "cf5b16a778af8380036ce59e7b049237"
	           "0b249b11e8f07a51afac45037afee9d1" },
	{ .msg = "a",
	    .repeat = 1000000,
	    .hex = "cdc76e5c9914fb9281a1c7e284d73e67"
	           "f1809a48a497200e046d39ccc7112cd0" },
	/* 55, 56 and 64 bytes: the padding boundaries. */
	{ .msg = "a",
	    .repeat = 55,
	    .hex = "9f4390f8d30c2dd92ec9f095b65e2b9a"
	           "e9b0a925a5258e241c9f1e910f734318" },
	{ .msg = "a",
	    .repeat = 56,
	    .hex = "b35439a4ac6f0948b6d6f9e3c6af0f5f"
	           "590ce20f1bde7090ef7970686ec6738a" },
	{ .msg = "a",
	    .repeat = 64,
	    .hex = "ffe054fe7ae0cb6dc65c3af9b61d5209"
	           "f439851db43d0ba5997337df154668eb" },
};

START_TEST(test_vectors)
{
	struct sha256 c;
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEXLEN + 1];
	size_t i;

	sha256_init(&c);
	for (i = 0; i < vectors[_i].repeat; i++)
		sha256_update(&c, vectors[_i].msg, strlen(vectors[_i].msg));
	sha256_final(&c, d);
	sha256_hex(d, hex);
	ck_assert_str_eq(hex, vectors[_i].hex);
}
END_TEST

/* Any split of the input gives the same digest as one update. */
START_TEST(test_split)
{
	const char *m = vectors[3].msg;
	size_t len = strlen(m), cut;
	struct sha256 c;
	uint8_t d[SHA256_LEN];
	char hex[SHA256_HEXLEN + 1];

	for (cut = 0; cut <= len; cut++) {
		sha256_init(&c);
		sha256_update(&c, m, cut);
		sha256_update(&c, m + cut, len - cut);
		sha256_final(&c, d);
		sha256_hex(d, hex);
		ck_assert_msg(strcmp(hex, vectors[3].hex) == 0, "cut %zu", cut);
	}
	sha256_buf(m, len, d);
	sha256_hex(d, hex);
	ck_assert_str_eq(hex, vectors[3].hex);
}
END_TEST

/* A file of odd size hashed through sha256_fd equals sha256sum(1). */
START_TEST(test_fd)
{
	char path[] = "/tmp/check_sha256.XXXXXX", cmd[128], want[80];
	char hex[SHA256_HEXLEN + 1], small[7];
	uint8_t d[SHA256_LEN];
	uint64_t nread;
	unsigned char *data;
	size_t len = 3 * 65536 + 123, i;
	FILE *p;
	int fd;

	data = malloc(len);
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < len; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	/* A tiny buffer exercises partial blocks between reads. */
	ck_assert_int_eq(sha256_fd(fd, small, sizeof(small), d, &nread), 0);
	close(fd);
	ck_assert_uint_eq(nread, len);
	sha256_hex(d, hex);

	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(want, sizeof(want), p));
	pclose(p);
	unlink(path);
	want[SHA256_HEXLEN] = '\0';
	ck_assert_str_eq(hex, want);
	free(data);
}
END_TEST

START_TEST(test_fd_error)
{
	uint8_t d[SHA256_LEN];
	char buf[64];

	ck_assert_int_eq(sha256_fd(-1, buf, sizeof(buf), d, NULL), -1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(
	    tc, test_vectors, 0, sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_fd);
	tcase_add_test(tc, test_fd_error);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
