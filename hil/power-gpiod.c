/* SPDX-License-Identifier: MIT */
/*
 * Relay on a GPIO line through libgpiod v1 (Debian 12 ships 1.6). The line is requested
 * as an output on the first on/off and stays requested — nobody else can flip the relay —
 * until the power handle is closed. "on" is the logical value 1; active_low inverts it in
 * the kernel (GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW), as relay HATs driven low need.
 */
#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "power-driver.h"
#include "internal.h"

struct gpio_state {
	struct gpiod_chip *chip;
	struct gpiod_line *line;
	bool requested;
};

static int gpio_lookup(struct lp_hil_power *p, struct gpio_state *g, struct lp_diag *diag)
{
	int r;

	if (g->line)
		return 0;
	if (!g->chip) {
		errno = 0;
		g->chip = gpiod_chip_open_lookup(p->cfg->chip);
		if (!g->chip) {
			r = errno ? -errno : -ENODEV;
			return lp_diag_fail(diag, -ENODEV,
					    "%s: GPIO chip \"%s\" not found (%s); gpiodetect lists "
					    "the chips of this machine",
					    p->board->name, p->cfg->chip, strerror(-r));
		}
	}
	if (p->cfg->line_name)
		g->line = gpiod_chip_find_line(g->chip, p->cfg->line_name);
	else
		g->line = gpiod_chip_get_line(g->chip, (unsigned)p->cfg->line);
	if (!g->line) {
		if (p->cfg->line_name)
			return lp_diag_fail(diag, -ENODEV, "%s: GPIO chip %s has no line named \"%s\"",
					    p->board->name, p->cfg->chip, p->cfg->line_name);
		return lp_diag_fail(diag, -ENODEV, "%s: GPIO chip %s has no line %d (it has %u)",
				    p->board->name, p->cfg->chip, p->cfg->line,
				    gpiod_chip_num_lines(g->chip));
	}
	return 0;
}

static int gpio_set(struct lp_hil_power *p, int value, struct lp_diag *diag)
{
	struct gpio_state *g = p->drv;
	int r = gpio_lookup(p, g, diag);

	if (r < 0)
		return r;
	if (!g->requested) {
		if (gpiod_line_request_output_flags(g->line, p->cfg->consumer,
						    p->cfg->active_low ?
							    GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW :
							    0,
						    value) < 0) {
			r = -errno;
			char what[80];

			if (p->cfg->line_name)
				snprintf(what, sizeof(what), "\"%s\"", p->cfg->line_name);
			else
				snprintf(what, sizeof(what), "%d", p->cfg->line);
			return lp_diag_fail(diag, r,
					    "%s: cannot request GPIO %s line %s as output: %s%s",
					    p->board->name, p->cfg->chip, what, strerror(-r),
					    r == -EBUSY ? " (another process holds it; gpioinfo "
							  "shows the consumer)" : "");
		}
		g->requested = true;
		return 0;
	}
	if (gpiod_line_set_value(g->line, value) < 0) {
		r = -errno;
		return lp_diag_fail(diag, r, "%s: cannot set GPIO line: %s", p->board->name,
				    strerror(-r));
	}
	return 0;
}

static int gpio_open(struct lp_hil_power *p, struct lp_diag *diag)
{
	p->drv = calloc(1, sizeof(struct gpio_state));
	return p->drv ? 0 : -ENOMEM;
}

static void gpio_close(struct lp_hil_power *p)
{
	struct gpio_state *g = p->drv;

	if (!g)
		return;
	if (g->requested)
		gpiod_line_release(g->line);
	if (g->chip)
		gpiod_chip_close(g->chip);
	free(g);
	p->drv = NULL;
}

static int gpio_on(struct lp_hil_power *p, unsigned flags, struct lp_diag *diag)
{
	return gpio_set(p, 1, diag);
}

static int gpio_off(struct lp_hil_power *p, struct lp_diag *diag)
{
	return gpio_set(p, 0, diag);
}

static int gpio_status(struct lp_hil_power *p, enum lp_hil_power_state *ret,
		       struct lp_diag *diag)
{
	struct gpio_state *g = p->drv;
	int r = gpio_lookup(p, g, diag), v;

	if (r < 0)
		return r;
	if (!g->requested) {
		/* read without changing anything, then let go again */
		struct gpiod_line_request_config rc = {
			.consumer = p->cfg->consumer,
			.request_type = GPIOD_LINE_REQUEST_DIRECTION_AS_IS,
			.flags = p->cfg->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0,
		};

		if (gpiod_line_request(g->line, &rc, 0) < 0) {
			r = -errno;
			return lp_diag_fail(diag, r, "%s: cannot request GPIO line: %s",
					    p->board->name, strerror(-r));
		}
		v = gpiod_line_get_value(g->line);
		r = v < 0 ? -errno : 0;
		/* An input line drives nothing: the relay module's own pull resistor holds it
		 * inactive, whatever the SoC's pull reads back (a pulled-down line would read
		 * "on" through active_low). */
		if (r == 0 && gpiod_line_direction(g->line) == GPIOD_LINE_DIRECTION_INPUT)
			v = 0;
		gpiod_line_release(g->line);
	} else {
		v = gpiod_line_get_value(g->line);
		r = v < 0 ? -errno : 0;
	}
	if (r < 0)
		return lp_diag_fail(diag, r, "%s: cannot read GPIO line: %s", p->board->name,
				    strerror(-r));
	*ret = v ? LP_HIL_POWER_STATE_ON : LP_HIL_POWER_STATE_OFF;
	return 0;
}

const struct lp_hil_power_ops lp_hil_power_gpiod_ops = {
	.name = "gpiod",
	.open = gpio_open,
	.close = gpio_close,
	.on = gpio_on,
	.off = gpio_off,
	.status = gpio_status,
};
