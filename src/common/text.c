/* One-line summaries and hex (text.h). */
#include "text.h"

#include <string.h>

#include "err.h"

char *text_one_line(const char *s, size_t keep_tail)
{
	while (*s && strchr(" \t\r\n", *s))
		s++;
	size_t len = strlen(s);
	if (keep_tail > 0 && len > keep_tail)
		s += len - keep_tail;
	char *out = mig_xmalloc(strlen(s) * 3 + 1), *o = out;
	while (*s) {
		if (*s != '\n' && *s != '\r') {
			*o++ = *s++;
			continue;
		}
		while (*s == '\n' || *s == '\r')
			s++;
		memcpy(o, " | ", 3);
		o += 3;
	}
	*o = '\0';
	while (o > out && (o[-1] == ' ' || o[-1] == '|'))
		*--o = '\0';
	return out;
}

void text_hex(const unsigned char *bytes, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}
