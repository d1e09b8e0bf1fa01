/* SPDX-License-Identifier: MIT */
#include "loopline/common.h"

#ifndef LP_VERSION
#define LP_VERSION "0.0.0"
#endif

const char *lp_version_string(void)
{
	return LP_VERSION;
}
