/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cfg_opt.h - the option-table engine behind every XTS configuration file
 * (xts.conf for xtsd, xportd.conf for xportd): libconfig is touched here
 * and in the files' own parsers only, and each file is one table of
 * options, each with its type, range, default, reloadability and help.
 *
 * cfg_opt_load() reads the file through cfg_text() (one regular file, no
 * @include, 64-bit integers read whole), fills the defaults from the
 * table, walks the file (every setting must be a known option of the
 * right type and range), lets the file's own code handle its special
 * options (lists of rules) and cross-option rules, and reports the first
 * problem as "FILE:LINE: OPTION: reason".
 */
#ifndef XTS_CFG_OPT_H
#define XTS_CFG_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <libconfig.h>

#define CFG_ERR_LEN   512
#define CFG_MAX_BYTES (1u << 20) /* a bigger file is not a configuration */

enum cfg_type {
	CFG_T_U32,    /* integer in [min, max] */
	CFG_T_U64,    /* integer in [min, max], 64 bits */
	CFG_T_STR,    /* string of at most size-1 bytes; names: the values allowed */
	CFG_T_ENUM,   /* one of names, stored as its index (uint32_t) */
	CFG_T_MODE,   /* an octal file mode string, "0000".."0777" (uint32_t) */
	CFG_T_GROUP,  /* a group { ... } of the options named "group.*" */
	CFG_T_ACL,    /* xts.conf: a list of ACL rule strings (cfg_acl_parse) */
	CFG_T_SHARDS, /* xts.conf: the list of per-shard groups */
	CFG_T_CUSTOM, /* anything else: the file's own hook parses it */
	CFG_T_LISTEN, /* string "ADDR:PORT" to listen on (cfg_listen_parse), "": none */
};

enum cfg_reload {
	CFG_RESTART,	 /* reload refuses a change: it needs a restart */
	CFG_RELOAD,	 /* reload applies it */
	CFG_RELOAD_DOWN, /* reload may lower it, or raise it back to the start value
			  * (it sized a table at start) */
};

struct cfg_opt {
	const char *name; /* "name" or "group.name" */
	enum cfg_type type;
	enum cfg_reload reload;
	size_t off, size;	  /* the value in the file's struct (0, 0: none of its own) */
	long long min, max, def;  /* integers */
	const char *sdef;	  /* strings, enums, modes: the default as written */
	const char *const *names; /* CFG_T_ENUM, CFG_T_STR: the values allowed (NULL-ended) */
	const char *help;	  /* one line */
};

/* A load in progress: the table, the struct it fills, where errors go. */
struct cfg_ld {
	const char *file;
	char *err; /* CFG_ERR_LEN bytes */
	void *base;
	const struct cfg_opt *opts;
	size_t nopts;
	config_t *lc;
	/* After the table's defaults, before the walk: defaults the table
	 * cannot say (NULL: none). */
	void (*init)(void *base);
	/* An option of a type the engine does not know (CFG_T_ACL,
	 * CFG_T_SHARDS, CFG_T_CUSTOM), met during the walk: 0 or cfg_fail(). */
	int (*special)(struct cfg_ld *ld, const struct cfg_opt *o, config_setting_t *s,
		       const char *path);
	/* After the walk: rules that span options.  NULL: none. */
	int (*check)(struct cfg_ld *ld);
};

/* Load FILE into base (size bytes; the table's offsets point into it) as
 * described at the top.  0, or -EINVAL (-errno for I/O) with the reason
 * in ld->err.  On error base is left untouched. */
int cfg_opt_load(struct cfg_ld *ld, size_t size);

/* ld->err = "FILE:LINE: path: why"; returns -EINVAL.  s NULL: line 0. */
int cfg_fail(struct cfg_ld *ld, config_setting_t *s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The setting at path, or the root (for the line of an error about an
 * option the file does not set). */
config_setting_t *cfg_where(struct cfg_ld *ld, const char *path);
/* An integer setting in [lo, hi] into *v: 0, or cfg_fail() with why. */
int cfg_int_in(struct cfg_ld *ld, config_setting_t *s, const char *path, long long lo, long long hi,
	       long long *v);
/* The index of v in names (NULL-ended), or -1. */
int cfg_pick(const char *const *names, const char *v);
/* "a, b or c" into buf. */
const char *cfg_one_of(const char *const *names, char *buf, size_t len);
/* The table's defaults into base. */
void cfg_opt_defaults(const struct cfg_opt *opts, size_t n, void *base);

/* cfg_text.c: FILE's text as libconfig may safely read it: a regular file
 * of at most CFG_MAX_BYTES, no @include, no NUL, integers past 32 bits
 * suffixed so that libconfig 1.5 does not truncate them.  0 (*text
 * malloc'ed) or -errno with "FILE[:LINE]: reason" in err. */
int cfg_text(const char *file, char **text, char err[CFG_ERR_LEN]);

/* An address to listen on, "1.2.3.4:9464" or "[::1]:9464" (numbers only,
 * no names: nothing to resolve at load; port 1..65535): 0 or -EINVAL. */
struct sockaddr_storage;
int cfg_listen_parse(const char *s, struct sockaddr_storage *ss, unsigned *len);

/* n bytes of s as an unsigned number in @base, digits only (no sign, no
 * space, no prefix), at most @max: 0, -EINVAL or -ERANGE. */
int cfg_digits(const char *s, size_t n, unsigned base, unsigned long max, unsigned long *v);

#endif
