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

char *text_escape(const char *s)
{
	char *out = mig_xmalloc(strlen(s) * 4 + 1), *o = out;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c < 0x20 || *c == 0x7f) {
			static const char hexd[] = "0123456789abcdef";
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hexd[*c >> 4];
			*o++ = hexd[*c & 15];
		} else {
			*o++ = (char)*c;
		}
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
