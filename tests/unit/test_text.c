/* text.h: the one-line summary that replaced two helpers of different behaviour (proc.c's
 * stderr tails, facts.c's tool output), hex, and the escaping of peer text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "text.h"

static void check(const char *in, size_t keep, const char *want)
{
	char *got = text_one_line(in, keep);
	assert_string_equal(got, want);
	free(got);
}

/* As proc.c's stderr tails: leading white space dropped, every run of line breaks one
 * " | " ("rsync exited with code 12: line 1 | line 2"). */
static void test_line_breaks(void **state)
{
	(void)state;
	check("line 1\nline 2", 0, "line 1 | line 2");
	check("\n\n  a\r\n\r\nb", 0, "a | b");
	check("one", 0, "one");
	check("", 0, "");
	check(" \n\t", 0, "");
}

/* As facts.c's: only the end is kept (where a tool says what went wrong), and no trailing
 * " | " when the output ends with a line break. */
static void test_keep_tail(void **state)
{
	(void)state;
	check("Looks good.\n", 400, "Looks good.");
	check("first\nsecond\nError (x): the cause\n", 21, "Error (x): the cause");
	check("abcdef", 3, "def");
	check("abc", 3, "abc");
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char *got = text_one_line(big, 400);
	assert_int_equal(strlen(got), 400);
	free(got);
}

static void test_hex(void **state)
{
	(void)state;
	const unsigned char b[] = {0x00, 0x7f, 0xab, 0xff};
	char out[9];
	text_hex(b, sizeof(b), out);
	assert_string_equal(out, "007fabff");
	text_hex(b, 0, out);
	assert_string_equal(out, "");
}

static void escaped(const char *in, const char *want)
{
	char *got = text_escape(in);
	assert_string_equal(got, want);
	free(got);
}

/* Peer text on a terminal: C0, DEL, C1 (raw and as UTF-8) and broken UTF-8 escaped; ASCII and
 * well-formed UTF-8 kept. */
static void test_escape(void **state)
{
	(void)state;
	escaped("plain text: 1-2 /x_y", "plain text: 1-2 /x_y");
	escaped("a\x1b[2Jb\x07\x7f", "a\\x1b[2Jb\\x07\\x7f");
	escaped("\xc3\xa9t\xc3\xa9 \xe2\x82\xac 5 \xf0\x9f\x98\x80",
		"\xc3\xa9t\xc3\xa9 \xe2\x82\xac 5 \xf0\x9f\x98\x80");
	escaped("csi\x9b"
		"2J",
		"csi\\x9b2J"); /* a raw C1 CSI */
	escaped("csi\xc2\x9b"
		"2J",
		"csi\\xc2\\x9b2J");		   /* U+009B, CSI in UTF-8 */
	escaped("\xc2\xa0nbsp", "\xc2\xa0nbsp");   /* U+00A0 is text */
	escaped("cut \xe2\x82", "cut \\xe2\\x82"); /* a sequence cut short */
	escaped("\xff\xfe", "\\xff\\xfe");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_breaks),
	    cmocka_unit_test(test_keep_tail),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
