/* SPDX-License-Identifier: MIT */
/* TLS server context (TLS 1.2+) and the client certificate's common name (mutual TLS). */
#include <errno.h>
#include <string.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "loopline/log.h"
#include "tls.h"

static void log_ssl_error(const char *what, const char *path)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof(buf));
	log_error("%s %s: %s", what, path, e ? buf : "unknown error");
	ERR_clear_error();
}

int be_tls_ctx_new(const struct be_config *cfg, SSL_CTX **ret)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5:!DSS") != 1) {
		log_ssl_error("cipher list", "");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
		log_ssl_error("cannot load certificate", cfg->tls_cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
		log_ssl_error("cannot load private key", cfg->tls_key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_error("private key does not match", cfg->tls_cert);
		goto fail;
	}
	if (cfg->client_cert != BE_CLIENT_CERT_OFF) {
		int mode = SSL_VERIFY_PEER;

		if (SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca, NULL) != 1) {
			log_ssl_error("cannot load client CA", cfg->tls_client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(cfg->tls_client_ca));
		if (cfg->client_cert == BE_CLIENT_CERT_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		SSL_CTX_set_verify(ctx, mode, NULL);
		/* With peer verification OpenSSL refuses to resume a session unless the
		 * context names its sessions; without this every resumed handshake fails. */
		static const unsigned char sid_ctx[] = "loopline-backend";
		SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
		SSL_CTX_set_verify_depth(ctx, 4);
	}
	/* Sessions are resumed with tickets; no server-side cache shared between threads. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	*ret = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return -EINVAL;
}

int be_tls_peer_cn(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *cert;
	X509_NAME *name;
	int n;

	if (!ssl)
		return 0;
	cert = SSL_get0_peer_certificate(ssl);
	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
		return 0;
	name = X509_get_subject_name(cert);
	n = X509_NAME_get_text_by_NID(name, NID_commonName, buf, (int)len);
	if (n <= 0 || (size_t)n >= len || strlen(buf) != (size_t)n)
		return -EINVAL; /* no CN, too long, or embedded NUL */
	return 1;
}
