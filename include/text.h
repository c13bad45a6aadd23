/* Text for people from bytes and program output: one-line summaries of multi-line output
 * (stderr tails, CRIU logs) and hex. */
#ifndef MIG_TEXT_H
#define MIG_TEXT_H

#include <stddef.h>

/* s on one line, malloc'ed: leading white space dropped; when keep_tail > 0 and s is
 * longer, only its last keep_tail bytes (where tools say what went wrong); every run of
 * line breaks (CR, LF) becomes " | "; trailing spaces and '|' trimmed.
 * "a\n\nb\n" -> "a | b". */
char *text_one_line(const char *s, size_t keep_tail);

/* n bytes as 2n lower-case hex digits and a NUL into out (2n + 1 bytes). */
void text_hex(const unsigned char *bytes, size_t n, char *out);

#endif
