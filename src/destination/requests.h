/* migrate-dst: the answer to each request of a connection (the list is in dst.h). */
#ifndef MIG_DST_REQUESTS_H
#define MIG_DST_REQUESTS_H

#include <cjson/cJSON.h>

#include "dst.h"
#include "session.h"

/* Authenticates req (every type but hello) and answers it; errors become
 * {"ok":false,"error":...}.  NULL for a "file" message taken in without a reply. */
cJSON *dst_handle_request(struct dst_ctx *d, struct dst_session *s, cJSON *req);

/* Sends msg on the session's connection, MACed once hello keyed it (every message of ours:
 * replies, "restoring", "lazy_done"). */
int dst_send(struct dst_session *s, cJSON *msg, struct mig_err **err);

/* What a stream that did not end in a restore left in the image dir: it would only take
 * the space (a full disk is one way to get here).  Fails with what it could not remove. */
int dst_drop_partial_image(struct dst_session *s, struct mig_err **err);

#endif
