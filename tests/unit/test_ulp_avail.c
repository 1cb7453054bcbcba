// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_ulp_avail.c - which TCP ULPs the kernel offers (shard/ulp_avail.c):
 * the list /proc/sys/net/ipv4/tcp_available_ulp gives, read and searched
 * for "tls", with odd and hostile content (a name inside another, cut
 * short, after a NUL, no newline, binary, too long for the buffer), and
 * the BIO a profile's bio setting becomes with and without it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ulp_avail.h"
#include "xts_shm.h"

static bool has(const char *text, const char *name)
{
	return ulp_list_has(text, strlen(text), name);
}

static void t_words(void **st)
{
	(void)st;
	assert_true(has("tls", "tls"));
	assert_true(has("mptcp tls\n", "tls"));
	assert_true(has("tls mptcp\n", "tls"));
	assert_true(has("espintcp  tls\tmptcp", "tls"));
	assert_true(has("\n\n tls \n", "tls"));
	assert_false(has("mptcp\n", "tls"));
	assert_false(has("", "tls"));
	assert_false(has("\n", "tls"));
	/* only whole words */
	assert_false(has("tlsx mptcp", "tls"));
	assert_false(has("xtls", "tls"));
	assert_false(has("mptcp tl", "tls"));
	assert_false(has("mptcp-tls", "tls"));
	assert_false(has("TLS", "tls"));
	assert_false(has("mptcp", ""));
}

static void t_hostile(void **st)
{
	static char big[1 << 16];
	const char nul_before[] = "mptcp\0tls\n";
	const char nul_inside[] = "t\0ls";
	const char cut[] = {'m', 'p', 't', 'c', 'p', ' ', 't', 'l', 's'};
	unsigned char bin[256];

	(void)st;
	/* a NUL ends the list: what follows does not count */
	assert_false(ulp_list_has(nul_before, sizeof(nul_before) - 1, "tls"));
	assert_false(ulp_list_has(nul_inside, sizeof(nul_inside) - 1, "tls"));
	/* no terminator at all: the length bounds the search */
	assert_true(ulp_list_has(cut, sizeof(cut), "tls"));
	assert_false(ulp_list_has(cut, sizeof(cut) - 1, "tls")); /* "tl" */
	assert_false(ulp_list_has(cut, 0, "tls"));
	/* every byte value, no NUL: no "tls" word in it, and no overrun */
	for (unsigned i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)(i ? i : 'x');
	assert_false(ulp_list_has((const char *)bin, sizeof(bin), "tls"));
	/* a huge list of near misses, then the word at its very end */
	for (size_t i = 0; i + 5 < sizeof(big); i += 5)
		memcpy(big + i, "tlsx ", 5);
	memcpy(big + sizeof(big) - 5, " tls", 4);
	big[sizeof(big) - 1] = 0;
	assert_true(ulp_list_has(big, sizeof(big), "tls"));
	big[sizeof(big) - 2] = 'x';
	assert_false(ulp_list_has(big, sizeof(big), "tls"));
}

/* The file as the kernel has it, and as it might not be. */
static void t_read(void **st)
{
	char path[] = "/tmp/test_ulp_avail.XXXXXX", buf[16];
	int fd = mkstemp(path);

	(void)st;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "mptcp tls\n", 10), 10);
	assert_int_equal(ulp_list_read(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "mptcp tls"); /* the newline dropped */
	assert_true(ulp_list_has(buf, sizeof(buf), "tls"));
	/* longer than the buffer: cut, NUL-ended, never overrun */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(pwrite(fd, "mptcp espintcp smc tls\n", 23, 0), 23);
	assert_int_equal(ulp_list_read(path, buf, 8), 0);
	assert_string_equal(buf, "mptcp e");
	assert_false(ulp_list_has(buf, sizeof(buf), "tls"));
	/* empty: nothing offered */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(ulp_list_read(path, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	close(fd);
	unlink(path);
	/* no such file (a kernel without TCP ULPs): -ENOENT, an empty list */
	assert_int_equal(ulp_list_read(path, buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "");
	assert_int_equal(ulp_list_read(path, buf, 0), -EINVAL);
	/* a directory: an error, not a crash */
	assert_int_equal(ulp_list_read("/", buf, sizeof(buf)), -EISDIR);
}

static void t_bio(void **st)
{
	(void)st;
	assert_false(tls_bio_socket(XTS_TLS_BIO_AUTO, false));
	assert_true(tls_bio_socket(XTS_TLS_BIO_AUTO, true));
	assert_false(tls_bio_socket(XTS_TLS_BIO_OWN, true));
	assert_false(tls_bio_socket(XTS_TLS_BIO_OWN, false));
	assert_true(tls_bio_socket(XTS_TLS_BIO_SOCKET, false));
	assert_true(tls_bio_socket(XTS_TLS_BIO_SOCKET, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_words),
	    cmocka_unit_test(t_hostile),
	    cmocka_unit_test(t_read),
	    cmocka_unit_test(t_bio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
