/* size.h: checked size arithmetic (products and sums that detect overflow, a defined double-to-size
 * conversion) and byte counts for messages (internal). */
#ifndef LATERAL_SIZE_H
#define LATERAL_SIZE_H

#include <stddef.h>

/* *r = a * b. Returns LAT_OK, or LAT_ENOMEM when the product exceeds SIZE_MAX (*r is then unchanged). */
int lat_size_mul(size_t a, size_t b, size_t *r);

/* *r = a + b. Returns LAT_OK, or LAT_ENOMEM when the sum exceeds SIZE_MAX (*r is then unchanged). */
int lat_size_add(size_t a, size_t b, size_t *r);

/* *r = v rounded toward zero, i.e. (size_t)v where that cast is defined: v >= 0 and below SIZE_MAX + 1
 * (2^64). Returns LAT_OK; LAT_EINVAL for NaN or a negative v; LAT_ENOMEM for v >= 2^64 (inf included).
 * *r is unchanged on error. */
int lat_size_from_double(double v, size_t *r);

/* bytes (>= 0; a double so that plans beyond SIZE_MAX print too) as "512 bytes", "1.0 KiB", "12.3 MiB",
 * ..., "2.5 EiB" (powers of 1024) into buf of size bytes; returns buf. */
char *lat_size_text(char *buf, size_t size, double bytes);

#endif
