/* migrate-src's command line: parsing and validation into a plan (plan.h), no side
 * effects.  The parser never exits: it returns CLI_OK, CLI_EXIT (help or version was
 * printed) or CLI_USAGE with *err saying what is wrong; the main turns that into exit 1. */
#ifndef MIG_SRC_CLI_H
#define MIG_SRC_CLI_H

#include <stdio.h>

#include "err.h"
#include "plan.h"

#define MAX_PRE_DUMPS 64
#define MAX_REPEAT    1000

struct src_cli {
	struct plan plan;
	int check;	 /* --check: the doctor (doctor.h) instead of a migration */
	int no_progress; /* --no-progress */
	char dest_buf[256];
};

int cli_parse_src(int argc, char **argv, struct src_cli *o, FILE *out, struct mig_err **err);
void cli_src_usage(FILE *out);

#endif
