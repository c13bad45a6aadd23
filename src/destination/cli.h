/* migrate-dst's command line: parsing and validation into its configuration (config.h),
 * no side effects.  Returns CLI_OK, CLI_EXIT (help or version printed) or CLI_USAGE with
 * *err saying what is wrong; the main turns that into exit 1. */
#ifndef MIG_DST_CLI_H
#define MIG_DST_CLI_H

#include <stdio.h>

#include "config.h"
#include "err.h"

int cli_parse_dst(int argc, char **argv, struct dst_config *c, FILE *out, struct mig_err **err);
void cli_dst_usage(FILE *out);

#endif
