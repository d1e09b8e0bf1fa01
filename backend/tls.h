/* SPDX-License-Identifier: MIT */
#pragma once

#include <openssl/ssl.h>
#include "backend.h"

struct evhttp_request;

int be_tls_ctx_new(const struct be_config *cfg, SSL_CTX **ret);
/* 1 and the CN in buf if the client presented a verified certificate, 0 if none,
 * -EINVAL if its CN is unusable. */
int be_tls_peer_cn(struct evhttp_request *req, char *buf, size_t len);
