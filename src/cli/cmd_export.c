/* cmd_export.c: `lateral export`: a checkpoint's tensors as NumPy .npy files with a JSON index. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/io.h"
#include "lateral/layer.h"
#include "lateral/net.h"
#include "lateral/trainer.h"

#define MAX_DIMS 6

/* One array of the export: where its values are and what they mean. */
typedef struct {
	char name[64];	  /* file name without ".npy" */
	const void *data; /* n values of dtype */
	int is_double;	  /* "<f8", else "<f4" */
	size_t dims[MAX_DIMS], n_dims;
	const char *layout; /* the index of each axis, for the JSON index */
} npy_array;

static size_t array_count(const npy_array *a)
{
	size_t n = 1;
	for (size_t k = 0; k < a->n_dims; k++)
		n *= a->dims[k];
	return n;
}

/* Writes a as DIR/NAME.npy (format 1.0: magic, header length, a Python dict padded to 64 bytes, then the
 * values little-endian, C order), atomically. */
static int write_npy(const char *dir, const npy_array *a, char *err)
{
	char path[CLI_PATHLEN], file[96], shape[160] = "", header[256];
	size_t used = 0, n = array_count(a), len, total;
	lat_afile *f;
	FILE *fp;

	/* as Python writes a tuple: "(2, 8, 8)", "(10,)" */
	for (size_t k = 0; k < a->n_dims; k++)
		used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%zu%s", k ? ", " : "", a->dims[k],
					 a->n_dims == 1 ? "," : "");
	len = (size_t)snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
			       a->is_double ? "<f8" : "<f4", shape);
	total = (10 + len + 1 + 63) / 64 * 64; /* magic 6, version 2, length 2, the dict, '\n' */
	while (10 + len < total - 1)
		header[len++] = ' ';
	header[len++] = '\n';
	snprintf(file, sizeof file, "%s.npy", a->name);
	f = lat_afile_open(cli_path(path, sizeof path, dir, file), err);
	if (!f)
		return LAT_EIO;
	fp = lat_afile_fp(f);
	fwrite("\x93NUMPY\x01\x00", 1, 8, fp);
	fputc((int)(len & 0xff), fp);
	fputc((int)(len >> 8), fp);
	fwrite(header, 1, len, fp);
	/* the host is little-endian (x86-64, aarch64): the values go out as they are in memory */
	if (fwrite(a->data, a->is_double ? 8 : 4, n, fp) != n) {
		int rc = lat_err_sys(err, path, "write");
		lat_afile_abort(f);
		return rc;
	}
	return lat_afile_commit(f, err);
}

/* The arrays of layer i (1-based in names): weight and bias of lc, conv and linear layers, gamma, beta
 * and the running statistics of bn, the flat parameters of anything else. Returns how many it added. */
static size_t layer_arrays(const lat_layer *l, size_t i, npy_array *out)
{
	const char *kind = l->type->name;
	lat_lc_geom g;
	size_t n = 0;

#define ARR(tensor, ptr, lay, ...)                                                                           \
	do {                                                                                                 \
		size_t d_[] = {__VA_ARGS__};                                                                 \
		npy_array *a_ = &out[n++];                                                                   \
		snprintf(a_->name, sizeof a_->name, "layer%02zu_%s_%s", i, kind, tensor);                    \
		a_->data = ptr;                                                                              \
		a_->is_double = 0;                                                                           \
		a_->n_dims = sizeof d_ / sizeof d_[0];                                                       \
		memcpy(a_->dims, d_, sizeof d_);                                                             \
		a_->layout = lay;                                                                            \
	} while (0)
	if (!l->n_params && !l->n_buffers)
		return 0;
	if (!lat_lc_geometry(l, &g)) {
		size_t pos = g.h_out * g.w_out, n_w = g.c_out * (g.shared ? 1 : pos) * g.c_in * g.k * g.k;
		if (g.shared)
			ARR("weight", l->w, "[c_out][c_in][u][v]", g.c_out, g.c_in, g.k, g.k);
		else
			ARR("weight", l->w, "[c_out][y][x][c_in][u][v]", g.c_out, g.h_out, g.w_out, g.c_in, g.k, g.k);
		if (l->n_params - n_w == g.c_out)
			ARR("bias", l->w + n_w, "[c_out]", g.c_out);
		else if (l->n_params > n_w)
			ARR("bias", l->w + n_w, "[c_out][y][x]", g.c_out, g.h_out, g.w_out);
	} else if (!strcmp(kind, "linear")) {
		size_t n_in = lat_shape_size(l->in), n_out = lat_shape_size(l->out);
		ARR("weight", l->w, "[n_out][n_in]", n_out, n_in);
		if (l->n_params > n_out * n_in)
			ARR("bias", l->w + n_out * n_in, "[n_out]", n_out);
	} else if (!strcmp(kind, "bn") && l->n_params == 2 * l->in.c && l->n_buffers == 2 * l->in.c) {
		ARR("gamma", l->w, "[c]", l->in.c);
		ARR("beta", l->w + l->in.c, "[c]", l->in.c);
		ARR("running_mean", l->buf, "[c]", l->in.c);
		ARR("running_var", l->buf + l->in.c, "[c]", l->in.c);
	} else {
		if (l->n_params)
			ARR("params", l->w, "flat, in the order of include/lateral/layer.h", l->n_params);
		if (l->n_buffers)
			ARR("buffers", l->buf, "flat, in the order of include/lateral/layer.h", l->n_buffers);
	}
#undef ARR
	return n;
}

/* DIR/index.json: the checkpoint, its epochs, and every array with its file, layer, shape and layout. */
static int write_index(const cli_opts *o, size_t epochs, const npy_array *arr, const size_t *layer, size_t n,
		       char *err)
{
	char path[CLI_PATHLEN];
	lat_afile *f = lat_afile_open(cli_path(path, sizeof path, o->outdir, "index.json"), err);
	FILE *fp;

	if (!f)
		return LAT_EIO;
	fp = lat_afile_fp(f);
	fputs("{\n  \"checkpoint\": ", fp);
	cli_json_put_string(fp, o->model_path);
	fprintf(fp, ",\n  \"epochs\": %zu,\n  \"arrays\": [", epochs);
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "%s\n    {\"file\": \"%s.npy\", \"layer\": %zu, \"dtype\": \"%s\", \"shape\": [", i ? "," : "",
			arr[i].name, layer[i], arr[i].is_double ? "float64" : "float32");
		for (size_t k = 0; k < arr[i].n_dims; k++)
			fprintf(fp, "%s%zu", k ? ", " : "", arr[i].dims[k]);
		fputs("], \"layout\": ", fp);
		cli_json_put_string(fp, arr[i].layout);
		fputc('}', fp);
	}
	fputs("\n  ]\n}\n", fp);
	return lat_afile_commit(f, err);
}

int cmd_export(int argc, char **argv)
{
	static const char summary[] =
	    "Writes the tensors of CHECKPOINT (from `lateral train`) as NumPy .npy files (float32, C order,\n"
	    "readable with numpy.load and no other code): per layer its weight and bias (lc:\n"
	    "[c_out][y][x][c_in][u][v]; conv: [c_out][c_in][u][v]; linear: [n_out][n_in]), bn's gamma, beta\n"
	    "and running statistics, and input_norm.npy (float64 [2][channels]: the means, then the stds of\n"
	    "the input normalisation). DIR/index.json lists every file with its layer, shape and layout.";
	const char *experiment = NULL;
	cli_opts o;
	lat_experiment e;
	lat_trainer *t = NULL;
	npy_array *arr = NULL;
	size_t *layer = NULL, n = 0, n_layers, channels;
	char err[LAT_ERRLEN];
	double *norm = NULL;
	int rc = cli_parse(argc, argv, "export", summary, "out/export", 1, train_checkpoint_options, train_on_value, &experiment, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = train_from_checkpoint(&o, experiment, &e, &norm, &t);
	if (rc)
		goto out;
	n_layers = lat_net_n_layers(lat_trainer_net(t));
	arr = calloc(4 * n_layers + 1, sizeof *arr);
	layer = calloc(4 * n_layers + 1, sizeof *layer);
	if (!arr || !layer) {
		rc = cli_fail(o.cmd, LAT_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_layers; i++) {
		size_t k = layer_arrays(lat_net_layer(lat_trainer_net(t), i), i + 1, arr + n);
		for (size_t j = 0; j < k; j++)
			layer[n + j] = i + 1;
		n += k;
	}
	channels = e.n_norm / 2;
	arr[n] = (npy_array){.data = norm, .is_double = 1, .dims = {2, channels}, .n_dims = 2, .layout = "[mean, std][channel]"};
	snprintf(arr[n].name, sizeof arr[n].name, "input_norm");
	layer[n++] = 0;
	rc = cli_outdir(&o);
	if (rc)
		goto out;
	rc = cli_provenance_begin(&o, "experiment.cfg", e.text, strlen(e.text));
	for (size_t i = 0; !rc && i < n; i++)
		if (write_npy(o.outdir, &arr[i], err))
			rc = cli_fail(o.cmd, LAT_EIO, err);
	if (!rc && write_index(&o, lat_trainer_epoch(t), arr, layer, n, err))
		rc = cli_fail(o.cmd, LAT_EIO, err);
	if (!rc && !o.quiet)
		printf("lateral export: %zu arrays of %s in %s/ (index.json)\n", n, o.model_path, o.outdir);
out:
	free(arr);
	free(layer);
	lat_trainer_free(t);
	lat_experiment_clear(&e);
	free(norm);
	return rc;
}
