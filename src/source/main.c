/* migrate-src: migrates a running runC container to a host running migrate-dst. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "facts.h"
#include "doctor.h"
#include "log.h"
#include "loop.h"
#include "output.h"
#include "stop.h"

int main(int argc, char **argv)
{
	struct src_cli c;
	struct mig_err *err = NULL;
	/* The TCP test dump's throwaway process is a copy of this program (facts.h). */
	if (getenv(FACTS_TCP_CHILD_ENV))
		return facts_tcp_child();
	log_init("migrate-src", LOG_INFO);
	int rc = cli_parse_src(argc, argv, &c, stdout, &err);
	if (rc == CLI_EXIT)
		return 0;
	if (rc != CLI_OK) {
		log_error("%s (see migrate-src --help)", mig_err_msg(err));
		mig_err_free(&err);
		return EXIT_USAGE;
	}
	struct plan *p = &c.plan;
	log_set_level(p->out.verbose > 0 ? LOG_DEBUG : p->out.verbose < 0 ? LOG_ERROR : LOG_INFO);
	p->out.progress = p->out.progress && isatty(STDERR_FILENO);
	/* A signal must not kill us between checkpoint and restore: that would lose the
	 * container.  It is noted and acted on at the next step boundary (stop.h). */
	stop_install();
	if (c.check) {
		struct doctor_result res;
		rc = doctor_run(p, &res);
		output_doctor(p, &res);
		doctor_result_free(&res);
		return rc;
	}
	struct loop_summary sum;
	rc = loop_run(p, output_run, NULL, &sum, &err);
	if (err) {
		log_error("%s", mig_err_msg(err));
		mig_err_free(&err);
		return rc;
	}
	output_summary(p, &sum);
	return rc;
}
