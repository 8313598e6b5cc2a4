/*
 * The sizes of the progress line: three significant digits, binary
 * units, the unit steps up at 999.5 so that no number takes more than
 * four characters.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"

static const struct {
	double n;
	const char *text;
} cases[] = {
	{ 0, "0B" },
	{ 1, "1B" },
	{ 999, "999B" },
	{ 999.4, "999B" },
	{ 999.5, "0.98KiB" },
	{ 1000, "0.98KiB" },
	{ 1023, "1.00KiB" },
	{ 1024, "1.00KiB" },
	{ 1536, "1.50KiB" },
	{ 10234, "9.99KiB" },
	{ 10235, "10.0KiB" },
	{ 102348, "99.9KiB" },
	{ 102349, "100KiB" },
	{ 524288, "512KiB" },
	{ 1023487, "999KiB" },
	{ 1023488, "0.98MiB" },
	{ 1048576, "1.00MiB" },
	{ 24536678.4, "23.4MiB" },
	{ 1256277934, "1.17GiB" },
	{ 1099511627776.0, "1.00TiB" },
	{ 1152921504606846976.0, "1.00EiB" },
	{ 18446744073709551615.0, "16.0EiB" },
	{ -5, "0B" },
};

int
main(void)
{
	char buf[32];
	size_t i;
	int fails = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_text(buf, sizeof(buf), cases[i].n);
		if (strcmp(buf, cases[i].text) != 0) {
			printf("size_text(%.1f) = \"%s\", want \"%s\"\n",
			    cases[i].n, buf, cases[i].text);
			fails++;
		}
	}
	return fails > 0;
}
