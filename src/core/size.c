/* size.c: checked size arithmetic and byte counts for messages (see size.h). */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "lateral/err.h"
#include "size.h"

int lat_size_mul(size_t a, size_t b, size_t *r)
{
	if (b && a > SIZE_MAX / b)
		return LAT_ENOMEM;
	*r = a * b;
	return LAT_OK;
}

int lat_size_add(size_t a, size_t b, size_t *r)
{
	if (a > SIZE_MAX - b)
		return LAT_ENOMEM;
	*r = a + b;
	return LAT_OK;
}

int lat_size_from_double(double v, size_t *r)
{
	/* SIZE_MAX + 1 is a power of two, exact as a double (SIZE_MAX itself is not: it rounds up to it) */
	const double limit = 2.0 * (double)(SIZE_MAX / 2 + 1);

	if (isnan(v) || v < 0)
		return LAT_EINVAL;
	if (v >= limit)
		return LAT_ENOMEM;
	*r = (size_t)v;
	return LAT_OK;
}

char *lat_size_text(char *buf, size_t size, double bytes)
{
	static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
	size_t u = 0;
	double v = bytes;

	/* 1023.95 KiB would print as "1024.0 KiB": that is already 1.0 MiB */
	while (v >= (u ? 1023.95 : 1024) && u + 1 < sizeof units / sizeof units[0]) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%.0f bytes", v);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}
