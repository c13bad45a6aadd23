#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fs.h"
#include "text.h"

int auth_nonce(char nonce[AUTH_HEX], struct mig_err **err)
{
	unsigned char b[32];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mig_err_set(err, errno, "getrandom");
		got += (size_t)n;
	}
	text_hex(b, sizeof(b), nonce);
	return 0;
}

int auth_parse(const char *text, char token[AUTH_HEX], struct mig_err **err)
{
	while (*text == ' ' || *text == '\n' || *text == '\t')
		text++;
	size_t n = strspn(text, "0123456789abcdefABCDEF");
	const char *rest = text + n;
	while (*rest == ' ' || *rest == '\n' || *rest == '\r' || *rest == '\t')
		rest++;
	if (n != AUTH_HEX - 1 || *rest)
		return mig_err_set(err, 0, "malformed token (want 64 hex digits)");
	for (size_t i = 0; i < n; i++)
		token[i] = (char)(text[i] | 0x20); /* lower case */
	token[n] = '\0';
	return 0;
}

/* Opens path refusing links, and checks that it is ours and private. */
static int open_private(const char *path, struct mig_err **err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mig_err_set(err, errno, "token file %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return mig_err_set(err, errno, "token file %s", path);
	}
	const char *why = NULL;
	if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_uid != geteuid())
		why = "owned by another user";
	else if (st.st_mode & 077)
		why = "readable or writable by others";
	if (why) {
		close(fd);
		return mig_err_set(err, 0,
				   "token file %s is %s (mode %04o): refusing it; chmod 600 %s",
				   path, why, (unsigned)(st.st_mode & 07777), path);
	}
	return fd;
}

int auth_read(const char *path, char token[AUTH_HEX], struct mig_err **err)
{
	int fd = open_private(path, err);
	if (fd < 0)
		return -1;
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return mig_err_set(err, errno, "read %s", path);
	buf[n] = '\0';
	if (auth_parse(buf, token, err) < 0)
		return mig_err_wrap(err, "token file %s", path);
	return 0;
}

int auth_load_or_create(const char *path, char token[AUTH_HEX], struct mig_err **err)
{
	if (fs_exists(path))
		return auth_read(path, token, err);
	char *dir = mig_xstrdup(path);
	char *slash = strrchr(dir, '/');
	int r = 0;
	if (slash && slash != dir) {
		*slash = '\0';
		r = fs_mkdir_p(dir, 0700, err);
	}
	free(dir);
	if (r < 0 || auth_nonce(token, err) < 0)
		return -1;
	/* O_EXCL: never write through a file (or link) someone put there meanwhile. */
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mig_err_set(err, errno, "create token file %s", path);
	char line[AUTH_HEX + 1];
	snprintf(line, sizeof(line), "%s\n", token);
	ssize_t w = write(fd, line, strlen(line));
	if (close(fd) < 0 || w != (ssize_t)strlen(line))
		return mig_err_set(err, errno, "write token file %s", path);
	return 0;
}

/* HMAC-SHA256 of text keyed with key (text), as hex. */
static void hmac_hex(const char *key, const char *text, char out[AUTH_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)text, strlen(text),
		  md, &mdlen))
		abort(); /* only on out of memory */
	text_hex(md, 32, out);
}

void auth_session_key(const char *token, const char *cnonce, const char *snonce, char key[AUTH_HEX])
{
	char *text = mig_strdup_printf("migrate session v2:%s:%s", cnonce, snonce);
	hmac_hex(token, text, key);
	free(text);
}

void auth_pages_proof(const struct auth_keys *k, const char *nonce, char out[AUTH_HEX])
{
	char *text = mig_strdup_printf("migrate pages v1:%s", nonce);
	hmac_hex(k->key, text, out);
	free(text);
}

int auth_pages_check(const struct auth_keys *k, const char *nonce, const char *proof)
{
	char want[AUTH_HEX];
	auth_pages_proof(k, nonce, want);
	return proof && strlen(proof) == AUTH_HEX - 1 &&
	       CRYPTO_memcmp(want, proof, AUTH_HEX - 1) == 0;
}

static const char *dir_label(enum auth_dir d)
{
	return d == AUTH_REQUEST ? "req" : "rep";
}

static void msg_mac(const struct auth_keys *k, enum auth_dir d, unsigned long seq, const char *json,
		    char out[AUTH_HEX])
{
	char *text = mig_strdup_printf("%s:%lu:%s", dir_label(d), seq, json);
	hmac_hex(k->key, text, out);
	free(text);
}

void auth_sign(struct auth_keys *k, enum auth_dir d, cJSON *msg)
{
	unsigned long seq = d == AUTH_REQUEST ? k->req_seq++ : k->rep_seq++;
	cJSON_DeleteItemFromObjectCaseSensitive(msg, "mac");
	cJSON_DeleteItemFromObjectCaseSensitive(msg, "seq");
	cJSON_AddNumberToObject(msg, "seq", (double)seq);
	char *text = cJSON_PrintUnformatted(msg);
	if (!text)
		abort();
	char m[AUTH_HEX];
	msg_mac(k, d, seq, text, m);
	free(text);
	cJSON_AddStringToObject(msg, "mac", m);
}

int auth_verify(struct auth_keys *k, enum auth_dir d, cJSON *msg, struct mig_err **err)
{
	unsigned long *next = d == AUTH_REQUEST ? &k->req_seq : &k->rep_seq;
	cJSON *a = cJSON_DetachItemFromObjectCaseSensitive(msg, "mac");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(msg, "seq");
	int r = 0;
	if (!cJSON_IsString(a) || strlen(a->valuestring) != AUTH_HEX - 1 || !cJSON_IsNumber(s)) {
		r = mig_err_set(err, 0, "authentication required (fields 'seq' and 'mac')");
	} else if (s->valuedouble != (double)*next) {
		r = mig_err_set(err, 0, "authentication failed (out-of-order or replayed message)");
	} else {
		char *text = cJSON_PrintUnformatted(msg);
		char m[AUTH_HEX];
		msg_mac(k, d, *next, text ? text : "", m);
		free(text);
		if (CRYPTO_memcmp(m, a->valuestring, AUTH_HEX - 1) != 0)
			r = mig_err_set(err, 0, "authentication failed (wrong token)");
	}
	cJSON_Delete(a);
	if (r == 0)
		(*next)++;
	return r;
}
