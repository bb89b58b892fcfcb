// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: the words an operator types (CIDR, ports, protocol, hint). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[ERRBUF_LEN], buf[CIDR_STR_LEN];
	struct cidr c, again;
	uint16_t lo, hi;
	uint8_t proto;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (parse_cidr(s, &c, err, sizeof(err)) == 0) {
		/* what parses formats back to the same CIDR */
		format_cidr(&c, buf, sizeof(buf));
		if (parse_cidr(buf, &again, err, sizeof(err)) || cidr_cmp(&c, &again))
			abort();
	}
	if (parse_ports(s, &lo, &hi, err, sizeof(err)) == 0 && (lo == 0 || lo > hi))
		abort();
	parse_proto(s, &proto, err, sizeof(err));
	parse_hint(s, err, sizeof(err));
	free(s);
	return 0;
}
