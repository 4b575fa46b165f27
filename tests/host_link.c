/* host_link.c: a host program of liblateral, built by test_link.sh with nothing but the pkg-config line.
 * It never touches GSL's error handler; a covariance that is not positive definite must come back as an
 * error code (exit 0), not as abort(). */
#include <stdio.h>
#include <string.h>

#include <lateral/lateral.h>

int main(void)
{
	char err[LAT_ERRLEN] = "";
	lat_model m;
	int rc;

	lat_model_init(&m);
	rc = lat_model_load_string(&m, "circuit = { neurons = 4; inputs = 2; };\ninput = { cov = [1.0, 2.0, 2.0, 1.0]; };\n",
				   "host.cfg", err);
	if (!rc)
		rc = lat_model_finalize(&m, err);
	lat_model_clear(&m);
	printf("host: status %d: %s\n", rc, err);
	return rc == LAT_ECONFIG && strstr(err, "not positive definite") ? 0 : 1;
}
