/* SPDX-License-Identifier: BSD-2-Clause */
/* xpd_cli.h - `xportd status|socks`: the client side (xpd_cli.c). */
#ifndef XTS_XPD_CLI_H
#define XTS_XPD_CLI_H

/* argv[0] is the command.  Exit status: 0, 1 (failed), 2 (usage). */
int xpd_cli(const char *conf, const char *sock, int argc, char **argv);

#endif
