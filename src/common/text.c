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

static char *put_hex(char *o, unsigned char c)
{
	static const char hexd[] = "0123456789abcdef";
	*o++ = '\\';
	*o++ = 'x';
	*o++ = hexd[c >> 4];
	*o++ = hexd[c & 15];
	return o;
}

/* The length of the well-formed UTF-8 sequence at c (2 to 4), or 0. */
static size_t utf8_len(const unsigned char *c)
{
	size_t n = *c >= 0xc2 && *c <= 0xdf   ? 2
		   : *c >= 0xe0 && *c <= 0xef ? 3
		   : *c >= 0xf0 && *c <= 0xf4 ? 4
					      : 0;
	for (size_t i = 1; i < n; i++)
		if (c[i] < 0x80 || c[i] > 0xbf)
			return 0;
	return n;
}

char *text_escape(const char *s)
{
	char *out = mig_xmalloc(strlen(s) * 4 + 1), *o = out;
	for (const unsigned char *c = (const unsigned char *)s; *c;) {
		size_t n = *c >= 0x80 ? utf8_len(c) : 1;
		/* Kept: printable ASCII and well-formed UTF-8 other than the C1 controls
		 * (U+0080-U+009F, 0xc2 0x80-0x9f), which terminals act on as they do on ESC.
		 * Escaped: C0 controls, DEL, C1 controls and every byte not part of well-formed
		 * UTF-8 (a terminal in 8-bit mode takes a raw 0x9b for CSI). */
		int keep =
		    n == 1 ? *c >= 0x20 && *c != 0x7f : n > 1 && !(c[0] == 0xc2 && c[1] <= 0x9f);
		if (!n)
			n = 1;
		for (size_t i = 0; i < n; i++, c++)
			if (keep)
				*o++ = (char)*c;
			else
				o = put_hex(o, *c);
	}
	*o = '\0';
	return out;
}

static int all_of(const char *s, const char *set)
{
	return strspn(s, set) == strlen(s);
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

int text_valid_host(const char *h)
{
	size_t n = strlen(h);
	return n > 0 && n <= 253 && h[0] != '-' && all_of(h, ALNUM "._:%-");
}

int text_valid_user(const char *u)
{
	size_t n = strlen(u);
	return n > 0 && n <= 32 && u[0] != '-' && all_of(u, ALNUM "._-");
}

int text_valid_abs_path(const char *p)
{
	if (p[0] != '/' || !all_of(p, ALNUM "._/+-") || strlen(p) > 1024)
		return 0;
	if (!strcmp(p, "/"))
		return 1;
	for (const char *c = p + 1;; c++) {
		size_t n = strcspn(c, "/");
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += n;
		if (!*c)
			return 1;
	}
}
