/* SPDX-License-Identifier: MIT */
/* Private to ddi*.c: one DDI request of one device. */
#pragma once

#include "backend.h"

struct ddi {
	struct be_req *r;
	struct be_store *s;
	const char *tenant;
	const char *cid;
	struct be_device_auth dev; /* dev.id is 0 while the device does not exist */
	struct be_action lapsed;   /* open action whose maintenance window has passed (id 0: none) */
	char base[600];            /* scheme://host for links of the request's own scheme */
};

/* hawkBit's error body: {"exceptionClass","errorCode","message"}. */
void ddi_error(struct be_req *r, int status, const char *code, const char *msg);
/* 500 for a store failure (the store logged it). */
void ddi_internal(struct be_req *r, const char *what);
/* Loads an action of this device from its id in the path; -ENOENT if there is none. */
int ddi_action(struct ddi *d, const char *id, struct be_action *ret);

/* ddi-poll.c: the root resource (inside the poll's read transaction) and what follows it */
void ddi_poll(struct ddi *d);
void ddi_cancel_lapsed(struct ddi *d);

/* ddi-deployment.c: what a device reads */
void ddi_deployment_base(struct ddi *d, const char *id);
void ddi_installed_base(struct ddi *d, const char *id);
void ddi_cancel_action(struct ddi *d, const char *id);
void ddi_modules(struct ddi *d, char **seg, size_t n);

/* ddi-feedback.c: what a device writes */
void ddi_feedback(struct ddi *d, const char *id, bool cancel);
void ddi_config_data(struct ddi *d);
void ddi_put_installed(struct ddi *d);

/* ddi-artifact.c */
void ddi_artifact(struct ddi *d, int64_t package, const char *filename);
