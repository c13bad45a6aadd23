/* What both programs agree on (mig.h). */
#include "mig.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const tech_names[TECH_COUNT] = {"cold", "pre-copy", "post-copy", "hybrid"};

const char *technique_name(enum technique t)
{
	return (unsigned)t < TECH_COUNT ? tech_names[t] : "unknown";
}

int technique_parse(const char *s, enum technique *t)
{
	static const struct {
		const char *name;
		enum technique t;
	} names[] = {
	    {"cold", TECH_COLD},	  {"pre-copy", TECH_PRECOPY},  {"precopy", TECH_PRECOPY},
	    {"post-copy", TECH_POSTCOPY}, {"postcopy", TECH_POSTCOPY}, {"lazy", TECH_POSTCOPY},
	    {"hybrid", TECH_HYBRID},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*t = names[i].t;
			return 0;
		}
	}
	return -1;
}

int technique_lazy(enum technique t)
{
	return t == TECH_POSTCOPY || t == TECH_HYBRID;
}

int technique_precopy(enum technique t)
{
	return t == TECH_PRECOPY || t == TECH_HYBRID;
}

const char *compress_name(enum compress c)
{
	static const char *const names[] = {"none", "zlib", "zstd"};
	return (unsigned)c < 3 ? names[c] : "?";
}

int compress_parse(const char *s, enum compress *c)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, compress_name((enum compress)i))) {
			*c = (enum compress)i;
			return 0;
		}
	return -1;
}

int mig_valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 128)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("_.-", c)))
			return 0;
	}
	return 1;
}

void mig_print_version(FILE *out, const char *prog)
{
	fprintf(out, "%s %s (git %s)\n", prog, MIG_VERSION, MIG_GIT_REV);
}

int mig_parse_int(const char *s, int lo, int hi, int *out)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int mig_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "1", "yes", "y", "on"};
	static const char *const no[] = {"false", "0", "no", "n", "off"};
	for (size_t i = 0; i < 5; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

int mig_cli_bad_option(int c, char **argv, struct mig_err **err)
{
	if (c == ':')
		return mig_err_set(err, 0, "option '%s' needs an argument", argv[optind - 1]);
	return mig_err_set(err, 0, "unknown option '%s'", argv[optind - 1]);
}
