/*
 * size_parse (cmd/common.c): the size grammar of -n and the other size
 * options, as coreutils' head -c and dd read sizes, case by case.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

#define KI 1024ULL
#define KD 1000ULL

static const struct {
	const char *text;
	int ret;
	uint64_t n;
} t[] = {
	{ "0", 0, 0 },
	{ "1", 0, 1 },
	{ "010", 0, 10 },		/* decimal, not octal */
	{ "0010k", 0, 10 * KI },
	{ "4096", 0, 4096 },
	{ "1b", 0, 512 },
	{ "3b", 0, 1536 },
	{ "1k", 0, KI },
	{ "1K", 0, KI },
	{ "1KiB", 0, KI },
	{ "1kiB", 0, KI },
	{ "1kB", 0, KD },
	{ "1KB", 0, KD },
	{ "1KD", 0, KD },
	{ "1kD", 0, KD },
	{ "64k", 0, 64 * KI },
	{ "1m", 0, KI * KI },
	{ "1M", 0, KI * KI },
	{ "1MiB", 0, KI * KI },
	{ "1miB", 0, KI * KI },
	{ "1MB", 0, KD * KD },
	{ "1mB", 0, KD * KD },
	{ "1G", 0, KI * KI * KI },
	{ "1GiB", 0, KI * KI * KI },
	{ "1GB", 0, KD * KD * KD },
	{ "1T", 0, KI * KI * KI * KI },
	{ "1TB", 0, KD * KD * KD * KD },
	{ "1P", 0, KI * KI * KI * KI * KI },
	{ "1PB", 0, KD * KD * KD * KD * KD },
	{ "1E", 0, KI * KI * KI * KI * KI * KI },
	{ "15E", 0, 15 * KI * KI * KI * KI * KI * KI },
	{ "18EB", 0, 18 * KD * KD * KD * KD * KD * KD },
	{ "18446744073709551615", 0, UINT64_MAX },
	{ "0E", 0, 0 },
	/* Overflow. */
	{ "18446744073709551616", -ERANGE, 0 },
	{ "99999999999999999999", -ERANGE, 0 },
	{ "16E", -ERANGE, 0 },
	{ "16EiB", -ERANGE, 0 },
	{ "19EB", -ERANGE, 0 },
	{ "17179869184G", -ERANGE, 0 },
	/* Malformed: anything after the suffix, unknown suffixes, signs,
	 * spaces, other bases, fractions, lower-case g t p e. */
	{ "", -EINVAL, 0 },
	{ "k", -EINVAL, 0 },
	{ "1kk", -EINVAL, 0 },
	{ "4Mx", -EINVAL, 0 },
	{ "1KIB", -EINVAL, 0 },
	{ "1kib", -EINVAL, 0 },
	{ "1Kb", -EINVAL, 0 },
	{ "1Ki", -EINVAL, 0 },
	{ "1B", -EINVAL, 0 },
	{ "1bB", -EINVAL, 0 },
	{ "1biB", -EINVAL, 0 },
	{ "1g", -EINVAL, 0 },
	{ "1t", -EINVAL, 0 },
	{ "1p", -EINVAL, 0 },
	{ "1e", -EINVAL, 0 },
	{ "1e3", -EINVAL, 0 },
	{ "1Z", -EINVAL, 0 },
	{ "1c", -EINVAL, 0 },
	{ "1w", -EINVAL, 0 },
	{ "1.5", -EINVAL, 0 },
	{ "1.5k", -EINVAL, 0 },
	{ "0x10", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "+1", -EINVAL, 0 },
	{ " 1", -EINVAL, 0 },
	{ "1 ", -EINVAL, 0 },
	{ "1k ", -EINVAL, 0 },
	{ "\t", -EINVAL, 0 },
};

int
main(void)
{
	uint64_t n;
	size_t i;
	int failures = 0, r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = 12345;
		r = size_parse(t[i].text, &n);
		if (r != t[i].ret || (r == 0 && n != t[i].n) ||
		    (r != 0 && n != 12345)) {
			printf("FAIL '%s': %d %llu, want %d %llu\n", t[i].text,
			    r, (unsigned long long)n, t[i].ret,
			    (unsigned long long)t[i].n);
			failures++;
		}
	}
	printf("%zu sizes: %d failures\n", sizeof(t) / sizeof(t[0]),
	    failures);
	return failures ? 1 : 0;
}
