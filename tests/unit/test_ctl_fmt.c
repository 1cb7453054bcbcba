// SPDX-License-Identifier: BSD-2-Clause
/*
 * test_ctl_fmt.c - xtsctl's units and tables (ctl/ctl_fmt.c) and the
 * daemons' log line (supervisor/xts_log.c): unit boundaries, rounding up
 * into the next unit, durations, the "-" of an unpinned CPU, columns
 * aligned under their header across pages, and a log line's timestamp,
 * pid, level and its cut at XTS_LOG_LINE_MAX with the newline kept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ctl_fmt.h"
#include "xts_log.h"

static void test_bytes(void **state)
{
	char b[FMT_LEN];

	(void)state;
	assert_string_equal(fmt_bytes(0, b), "0 B");
	assert_string_equal(fmt_bytes(1023, b), "1023 B");
	assert_string_equal(fmt_bytes(1024, b), "1.0 KiB");
	assert_string_equal(fmt_bytes(12897485, b), "12.3 MiB");
	/* 1023.96 KiB is not "1024.0 KiB" */
	assert_string_equal(fmt_bytes(1048535, b), "1.0 MiB");
	assert_string_equal(fmt_bytes(3ull << 30, b), "3.0 GiB");
	assert_string_equal(fmt_bytes(UINT64_MAX, b), "16.0 EiB");
	assert_string_equal(fmt_byte_rate(12897485.0, b), "12.3 MiB/s");
	assert_string_equal(fmt_byte_rate(-5, b), "0 B/s");
}

static void test_rates(void **state)
{
	char b[FMT_LEN];

	(void)state;
	assert_string_equal(fmt_rate(0, "pps", b), "0 pps");
	assert_string_equal(fmt_rate(830.4, "pps", b), "830 pps");
	assert_string_equal(fmt_rate(999.6, "pps", b), "1.0 kpps");
	assert_string_equal(fmt_rate(1234567, "pps", b), "1.2 Mpps");
	assert_string_equal(fmt_rate(2.5e9, "pps", b), "2.5 Gpps");
	assert_string_equal(fmt_rate(12, "/s", b), "12/s");
	assert_string_equal(fmt_rate(12000, "/s", b), "12.0k/s");
}

static void test_durations(void **state)
{
	char b[FMT_LEN];

	(void)state;
	assert_string_equal(fmt_dur(0, b), "0s");
	assert_string_equal(fmt_dur(59, b), "59s");
	assert_string_equal(fmt_dur(60, b), "1m00s");
	assert_string_equal(fmt_dur(3599, b), "59m59s");
	assert_string_equal(fmt_dur(3 * 3600 + 12 * 60 + 5, b), "3h12m");
	assert_string_equal(fmt_dur(86400 * 2 + 3 * 3600, b), "2d03h");
	assert_string_equal(fmt_epoch(0x1234abcd, b), "1234abcd");
	assert_string_equal(fmt_epoch(7, b), "00000007");
	assert_string_equal(fmt_place("-1"), "-");
	assert_string_equal(fmt_place(""), "-");
	assert_string_equal(fmt_place("3"), "3");
}

/* The table printed into a memory buffer. */
static char *render(struct tbl *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	tbl_flush(t, f);
	fclose(f);
	return buf;
}

static void test_table(void **state)
{
	static const char *const cols[] = {">ID", "STATE", ">BYTES"};
	struct tbl t;
	char *out;

	(void)state;
	tbl_init(&t, 3, cols);
	tbl_cell(&t, "1");
	tbl_cell(&t, "running");
	tbl_cell(&t, "12.3 MiB");
	tbl_cell(&t, "10");
	tbl_cell(&t, NULL); /* a missing value shows as "-" */
	tbl_cell(&t, "0 B");
	out = render(&t);
	assert_string_equal(out, "ID  STATE       BYTES\n"
				 " 1  running  12.3 MiB\n"
				 "10  -             0 B\n");
	free(out);
	/* a second page: no second header, the widths kept */
	tbl_cell(&t, "7");
	tbl_cell(&t, "open");
	tbl_cell(&t, "1 B");
	out = render(&t);
	assert_string_equal(out, " 7  open          1 B\n");
	free(out);
	tbl_free(&t);
}

/* The wide form (stats past 14 shards): tables one under the other, each
 * with the row names and at most @per value columns, the last one with
 * what is left. */
static void test_table_wrap(void **state)
{
	static const char *const heads[] = {">A", ">B", ">C"};
	static const char *const names[] = {"state", "tx_bytes"};
	static const char *const cells[] = {"1", "2", "3", "10 B", "20 B", "300 B"};
	char *hv[20], *cv[2 * 20], *out = NULL, *p;
	size_t len = 0;
	unsigned nhead = 0, maxcells = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	assert_int_equal(tbl_wrap(f, "COUNTER", heads, 3, names, 2, cells, 2), 0);
	fclose(f);
	assert_string_equal(out, "COUNTER      A     B\n"
				 "state        1     2\n"
				 "tx_bytes  10 B  20 B\n"
				 "\n"
				 "COUNTER       C\n"
				 "state         3\n"
				 "tx_bytes  300 B\n");
	free(out);
	/* 19 shards and the total, 14 a table: 14, then 5 and the total */
	for (unsigned c = 0; c < 20; c++) {
		char b[16];

		snprintf(b, sizeof(b), c < 19 ? ">SHARD %u" : ">TOTAL", c);
		hv[c] = strdup(b);
		cv[c] = strdup("running");
		snprintf(b, sizeof(b), "%u", c);
		cv[20 + c] = strdup(b);
	}
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(tbl_wrap(f, "COUNTER", (const char *const *)hv, 20, names, 2,
				  (const char *const *)cv, 14),
			 0);
	fclose(f);
	for (p = out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		unsigned n = 1;

		if (!strncmp(p, "COUNTER", 7))
			nhead++;
		for (char *q = p; *q && *q != '\n'; q++)
			n += q[0] != ' ' && q > p && q[-1] == ' ' && q[-2] == ' ';
		maxcells = n > maxcells ? n : maxcells;
	}
	assert_int_equal(nhead, 2);
	assert_true(maxcells <= 15); /* the names and 14 values */
	p = strstr(out, "\n\nCOUNTER");
	assert_non_null(p); /* the second table under the first, a blank line between */
	assert_non_null(strstr(out, "SHARD 13\n"));
	assert_null(strstr(p + 2, "SHARD 13 "));
	assert_non_null(strstr(p, "SHARD 14  "));
	assert_non_null(strstr(p, "TOTAL\n"));
	assert_true(strstr(out, "TOTAL") > p); /* the total in the last table only */
	free(out);
	for (unsigned c = 0; c < 20; c++) {
		free(hv[c]);
		free(cv[c]);
		free(cv[20 + c]);
	}
}

static void test_log_line(void **state)
{
	char line[XTS_LOG_LINE_MAX], big[2 * XTS_LOG_LINE_MAX];
	/* 2026-11-30T08:20:07.123Z */
	unsigned long long ns = 1796026807ull * 1000000000ull + 123456789ull;
	unsigned n;

	(void)state;
	n = xts_log_fmt(line, sizeof(line), ns, "xtsd", 4242, 2, "shard 1: draining");
	assert_string_equal(line, "2026-11-30T08:20:07.123Z xtsd[4242]: info: shard 1: draining\n");
	assert_int_equal(n, strlen(line));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	n = xts_log_fmt(line, sizeof(line), ns, "xportd", 1, 0, big);
	assert_int_equal(n, sizeof(line) - 1);
	assert_int_equal(strlen(line), n);
	assert_memory_equal(line + n - 4, "...\n", 4);
	assert_memory_equal(line, "2026-11-30T08:20:07.123Z xportd[1]: error: xxx", 46);
	/* the journal's form: priority, no time (journald stamps it) */
	n = xts_log_fmt(line, sizeof(line), 0, "xtsd", 4242, 1, "shard 1: slow");
	assert_string_equal(line, "<4>xtsd[4242]: warning: shard 1: slow\n");
	assert_int_equal(n, strlen(line));
}

/* JOURNAL_STREAM names stderr by device and inode: only an exact match of
 * the fd's own is the journal (a pipe or file after a redirect is not). */
static void test_log_journal(void **state)
{
	char path[] = "/tmp/xts-journal.XXXXXX", env[64];
	struct stat st;
	int fd = mkstemp(path), other;

	(void)state;
	assert_true(fd >= 0);
	other = open("/dev/null", O_WRONLY);
	assert_true(other >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	assert_true(xts_log_is_journal(fd, env));
	assert_false(xts_log_is_journal(other, env));
	assert_false(xts_log_is_journal(fd, NULL));
	assert_false(xts_log_is_journal(fd, ""));
	assert_false(xts_log_is_journal(fd, "1:2:3"));
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	assert_false(xts_log_is_journal(fd, env));
	close(other);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bytes),	cmocka_unit_test(test_rates),
	    cmocka_unit_test(test_durations),	cmocka_unit_test(test_table),
	    cmocka_unit_test(test_table_wrap),	cmocka_unit_test(test_log_line),
	    cmocka_unit_test(test_log_journal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
