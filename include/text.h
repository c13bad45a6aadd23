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

/* s with every control character (below 0x20, and 0x7f) written as \xNN, malloc'ed: text
 * from a peer or a program printed to a terminal cannot move the cursor, clear the screen
 * or retitle the window. */
char *text_escape(const char *s);

/* n bytes as 2n lower-case hex digits and a NUL into out (2n + 1 bytes). */
void text_hex(const unsigned char *bytes, size_t n, char *out);

/* A host name or address an administrator may give as DEST or --back-host: 1-253 of
 * [A-Za-z0-9._:%-], not starting with '-' (it would be an option to ssh and rsync). */
int text_valid_host(const char *h);

/* An SSH user name: 1-32 of [A-Za-z0-9._-], not starting with '-'. */
int text_valid_user(const char *u);

/* An absolute, normalized path of [A-Za-z0-9._/+-] (no "//", no "." or ".." component, no
 * trailing '/' but for "/" itself): safe in any shell, and it means what it says.  For
 * paths a peer gives us (the destination's base dir). */
int text_valid_abs_path(const char *p);

#endif
