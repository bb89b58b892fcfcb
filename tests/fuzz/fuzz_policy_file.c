// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer target: policy files, their compilation, and the export round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"

static char *export_all(const struct policy_file *f)
{
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);

	if (!m)
		abort();
	for (size_t i = 0; i < f->n; i++)
		policy_export(m, &f->pol[i]);
	fclose(m);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[ERRBUF_LEN];
	struct policy_file f, g;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (policy_file_parse(text, &f, err, sizeof(err)) == 0) {
		char *a = export_all(&f), *b;

		for (size_t i = 0; i < f.n; i++) {
			struct compiled c;

			if (policy_compile(&f.pol[i], &c, err, sizeof(err)) == 0)
				compiled_free(&c);
		}
		/* what apply accepts, export prints, and apply accepts again unchanged */
		if (policy_file_parse(a, &g, err, sizeof(err)))
			abort();
		b = export_all(&g);
		if (strcmp(a, b))
			abort();
		free(a);
		free(b);
		policy_file_free(&g);
		policy_file_free(&f);
	}
	free(text);
	return 0;
}
