/* test_fashion.c: the real Fashion-MNIST test set loads exactly; exits 77 (automake's SKIP) when Debian's
 * dataset-fashion-mnist is not installed, so a missing data set shows as SKIP, never as a pass. */
#include <config.h>

#include <stdio.h>
#include <unistd.h>

#include "lateral/data.h"
#include "lateral/err.h"
#include "runner.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define IMAGES FASHION_DIR "/t10k-images-idx3-ubyte.gz"
#define LABELS FASHION_DIR "/t10k-labels-idx1-ubyte.gz"
/* automake's exit status for a skipped test */
#define EXIT_SKIP 77

static void test_fashion_mnist(void)
{
	char err[LAT_ERRLEN];
	lat_dataset d;
	size_t k, bad = 0, per_class[10] = {0};

	lat_dataset_init(&d);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(IMAGES, LABELS, 0, &d, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n, 10000);
	CU_ASSERT(d.c == 1 && d.h == 28 && d.w == 28);
	CU_ASSERT_EQUAL(d.n_classes, 10);
	for (k = 0; k < d.n * 28 * 28; k++)
		bad += !(d.x[k] >= 0.0f && d.x[k] <= 1.0f);
	for (k = 0; k < d.n; k++) {
		bad += d.y[k] < 0 || d.y[k] >= 10;
		if (d.y[k] >= 0 && d.y[k] < 10)
			per_class[d.y[k]]++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	/* the t10k set holds exactly 1000 images of each class */
	for (k = 0; k < 10; k++)
		CU_ASSERT_EQUAL(per_class[k], 1000);
	lat_dataset_clear(&d);
}

static CU_TestInfo tests[] = {{"fashion-mnist t10k: 10000 images, 1000 per class, pixels in [0, 1]", test_fashion_mnist},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {{.pName = "fashion", .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	if (access(IMAGES, R_OK) != 0 || access(LABELS, R_OK) != 0) {
		printf("SKIP: %s not installed (apt-get install dataset-fashion-mnist)\n", FASHION_DIR);
		return EXIT_SKIP;
	}
	return test_run(suites);
}
