/* err.c: status-code descriptions and the message formatter used by every module. */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lateral/err.h"

const char *lat_strerror(int code)
{
	switch (code) {
	case LAT_OK: return "success";
	case LAT_ENOMEM: return "out of memory";
	case LAT_EINVAL: return "invalid argument";
	case LAT_EIO: return "input/output error";
	case LAT_ECONFIG: return "invalid model file or override";
	case LAT_ESOLVER: return "ODE solver failure";
	case LAT_ENOTSTEADY: return "no steady state reached";
	case LAT_EDIVERGE: return "non-finite value (divergence)";
	default: return "unknown error";
	}
}

int lat_err_set(char *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, LAT_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return code;
}

int lat_err_sys(char *err, const char *path, const char *what)
{
	int e = errno;

	return lat_err_set(err, LAT_EIO, "%s: cannot %s: %s", path, what, strerror(e ? e : EIO));
}
