/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_check.h - what the fuzz harnesses assert with. */
#ifndef XTS_FUZZ_CHECK_H
#define XTS_FUZZ_CHECK_H

/* Not assert(): it must fire in every build type. */
#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

#endif
