/* lc.c: locally connected (one kernel per output position) and convolution layers via matrix products.
 *
 * lc:   out[b][o][q] = sum_j W[o][q][j] x_q[j][b] + bias[o][q], one GEMM per output position q;
 * conv: out[b][o][q] = sum_j W[o][j] col_b[j][q] + bias[o], one GEMM per sample, its operand col_b
 * gathered from the zero-padded sample as it is packed (lat_gemm_gather: no im2col buffer),
 * with j = (c, u, v) running over the c_in x k x k window at stride s and zero padding (k - 1) / 2.
 * lc first transposes the batch to the innermost index (zero-padded x[c][y][x][b]), so each patch is
 * c_in k copies of k max_batch contiguous floats and each GEMM output is a block of y[o][q][b].
 * lc's GEMMs are OpenBLAS's cblas_sgemm; conv's are lat_gemm (gemm.c: an AVX-512 kernel of ours where
 * the processor has one, else cblas_sgemm). Threads (OpenMP) split positions (lc) or fixed chunks of
 * samples (conv); every sum has a fixed order, so results do not depend on the number of threads. */
#include <config.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lateral/err.h"
#include "lateral/layer.h"
#include "gemm.h"
#include "layer_impl.h"
#include "size.h"

/* Samples per partial weight gradient in conv backward: fixed so the reduction order is too. */
#define CONV_CHUNK 4

const char *const lat_lc_bias_names[] = {"position", "channel", NULL};

typedef struct {
	lat_lc_geom g;
	size_t n_k;	 /* c_in k k: patch length */
	size_t n_loc;	 /* h_out w_out: output positions */
	size_t q0, n_own; /* lc: the positions held, [q0, q0 + n_own) (all but in a part, lat_lc_alloc_part) */
	int window;	 /* lc: a window (lat_lc_alloc_window): input rows g.r0.., output its rows alone */
	size_t t0, hx;	 /* lc: xt holds the padded rows [t0, t0 + hx) (0 and hp but in a window) */
	size_t n_w;	 /* weights before the bias */
	size_t n_b;	 /* bias floats (0 without bias) */
	int bias_channel; /* lc: one bias per output channel (LAT_LC_BIAS_CHANNEL) */
	int n_thr;	 /* threads the workspaces were sized for */
	size_t ws_size;	 /* floats of workspace per thread */
	float *ws;	 /* n_thr * ws_size: lc patch and its gradient; conv xp, dcol and lat_gemm's workspace */
	size_t wp;	 /* padded input width */
	size_t n_xp;	 /* conv: c_in hx wp, one padded sample xp */
	int32_t *off_k;	 /* conv: n_k + n_own offsets into xp: off_k[(c k + u) k + v] = (c hx + u) wp + v, */
	int32_t *off_q;	 /* then off_q[q - q0] = (y s - t0) wp + x s (q = y w_out + x), so col[j][q - q0] =
			    xp[off_k[j] + off_q[q - q0]] */
	size_t n_xt;	 /* lc: c_in hx wp max_batch */
	size_t n_scratch; /* lc: floats of xt, dxt and yt together */
	float *xt, *dxt; /* lc: padded input and its gradient, c_in x hx x wp x max_batch */
	float *yt;	 /* lc: outputs or their gradients, c_out x n_own x max_batch */
	float *own;	 /* lc: xt, dxt, yt in one block of the layer's own, or NULL when they are in a
			    shared scratch (each call fills what it reads: nothing is kept between calls) */
	float *part;	 /* conv: one (n_w + n_b) partial gradient per CONV_CHUNK samples */
} lc_priv;

static int max_threads(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

static int thread_id(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

/* Team size for a parallel region: the current setting, capped by the workspaces allocated. */
static int team(const lc_priv *p)
{
	int n = max_threads();
	return n < p->n_thr ? n : p->n_thr;
}

static float *thread_ws(const lc_priv *p)
{
	return p->ws + (size_t)thread_id() * p->ws_size;
}

/* Tile edge of the transpositions: a tile's source rows stay in L1 while its columns are written. */
#define TILE 16

/* dst[j ldd + i] = src[i lds + j] + add[i step] (+ 0 when add is NULL, as the plain copy always was) for
 * i < rows, j < cols, tile by tile so that neither side is walked with a large stride alone. */
static void transpose(const float *restrict src, size_t lds, float *restrict dst, size_t ldd, size_t rows,
		      size_t cols, const float *add, size_t step)
{
	for (size_t i0 = 0; i0 < rows; i0 += TILE) {
		size_t i1 = i0 + TILE < rows ? i0 + TILE : rows;
		for (size_t j0 = 0; j0 < cols; j0 += TILE) {
			size_t j1 = j0 + TILE < cols ? j0 + TILE : cols;
			for (size_t j = j0; j < j1; j++)
				for (size_t i = i0; i < i1; i++)
					dst[j * ldd + i] = src[i * lds + j] + (add ? add[i * step] : 0);
		}
	}
}

/* out[r step] += (sum over i < len of x[r ld + i], summed from 0 in i order) for r < rows, in r order.
 * Eight rows are summed at a time as independent chains, so the adds overlap instead of waiting for
 * one another; each row's sum is still formed in its own order, so the result is bit-identical to one
 * row after the other. */
static void row_sums_add(const float *x, size_t rows, size_t len, size_t ld, float *out, size_t step)
{
	enum { CHAINS = 8 };
	size_t r0 = 0;

	for (; r0 + CHAINS <= rows; r0 += CHAINS) {
		float acc[CHAINS] = {0};
		for (size_t i = 0; i < len; i++)
			for (size_t c = 0; c < CHAINS; c++)
				acc[c] += x[(r0 + c) * ld + i];
		for (size_t c = 0; c < CHAINS; c++)
			out[(r0 + c) * step] += acc[c];
	}
	for (; r0 < rows; r0++) {
		float acc = 0;
		for (size_t i = 0; i < len; i++)
			acc += x[r0 * ld + i];
		out[r0 * step] += acc;
	}
}

/* xt[c][t - t0][x + pad][b] = in[b][c][t - pad - r0][x] for the padded rows t in [t0, t0 + hx), and 0
 * in the padding (a shared scratch holds another layer's values there). Called inside a parallel
 * region. */
static void lc_to_xt(const lc_priv *p, const float *in, size_t batch, size_t mb, float *xt)
{
	const lat_lc_geom *g = &p->g;
	size_t rows = g->r1 - g->r0, n_in = g->c_in * rows * g->w_in, pad = g->pad, row = p->wp * mb;

#pragma omp for schedule(static)
	for (size_t ct = 0; ct < g->c_in * p->hx; ct++) {
		size_t c = ct / p->hx, t = p->t0 + ct % p->hx;
		float *dst = xt + ct * row;
		if (t < pad + g->r0 || t >= pad + g->r1) { /* padding (a window holds every image row it reads) */
			memset(dst, 0, row * sizeof *dst);
			continue;
		}
		memset(dst, 0, pad * mb * sizeof *dst);
		memset(dst + (pad + g->w_in) * mb, 0, (p->wp - pad - g->w_in) * mb * sizeof *dst);
		transpose(in + (c * rows + t - pad - g->r0) * g->w_in, n_in, dst + pad * mb, mb, batch, g->w_in, NULL,
			  0);
	}
}

/* din[b][c][y - r0][x] = dxt[c][y + pad - t0][x + pad][b] for the input rows y in [r0, r1), 0 for a row
 * no output reads. Called inside a parallel region. */
static void lc_from_dxt(const lc_priv *p, const float *dxt, size_t batch, size_t mb, float *din)
{
	const lat_lc_geom *g = &p->g;
	size_t rows = g->r1 - g->r0, n_in = g->c_in * rows * g->w_in;

#pragma omp for schedule(static)
	for (size_t cy = 0; cy < g->c_in * rows; cy++) {
		size_t c = cy / rows, t = cy % rows + g->r0 + g->pad;
		if (t < p->t0 || t >= p->t0 + p->hx) {
			for (size_t b = 0; b < batch; b++)
				memset(din + b * n_in + cy * g->w_in, 0, g->w_in * sizeof *din);
			continue;
		}
		transpose(dxt + ((c * p->hx + t - p->t0) * p->wp + g->pad) * mb, mb, din + cy * g->w_in, n_in,
			  g->w_in, batch, NULL, 0);
	}
}

/* Start of position q's window in xt: rows (c, u, v) of its patch are xt + origin + (c hx + u) wp mb + v mb.
 */
static size_t lc_origin(const lc_priv *p, size_t q, size_t mb)
{
	size_t y = q / p->g.w_out, x = q % p->g.w_out;
	return ((y * p->g.stride - p->t0) * p->wp + x * p->g.stride) * mb;
}

/* patch[(c k + u) k + v][b] = xt[c][y s + u - t0][x s + v][b]: c_in k copies of k mb floats. */
static void lc_gather(const lc_priv *p, const float *xt, size_t q, size_t mb, float *patch)
{
	size_t k = p->g.k, o = lc_origin(p, q, mb);

	for (size_t c = 0; c < p->g.c_in; c++)
		for (size_t u = 0; u < k; u++)
			memcpy(patch + (c * k + u) * k * mb, xt + o + (c * p->hx + u) * p->wp * mb,
			       k * mb * sizeof *patch);
}

/* dxt[c][y s + u - t0][x s + v][b] += dpatch[(c k + u) k + v][b] for b < batch (for a full batch, each
 * (c, u) is one run of k mb floats). dpatch and dxt never overlap. */
static void lc_scatter(const lc_priv *p, const float *restrict dpatch, size_t q, size_t batch, size_t mb,
		       float *restrict dxt)
{
	size_t k = p->g.k, o = lc_origin(p, q, mb), run = batch == mb ? k * mb : batch;

	for (size_t c = 0; c < p->g.c_in; c++) {
		for (size_t u = 0; u < k; u++) {
			float *restrict dst = dxt + o + (c * p->hx + u) * p->wp * mb;
			const float *restrict src = dpatch + (c * k + u) * k * mb;
			for (size_t v = 0; v < (batch == mb ? 1 : k); v++)
#pragma omp simd
				for (size_t b = 0; b < run; b++)
					dst[v * mb + b] += src[v * mb + b];
		}
	}
}

/* The output columns [*x0, *x1) whose input column x s - pad + v lies inside the image (the others
 * read zero padding). */
static void x_range(const lat_lc_geom *g, size_t v, size_t *x0, size_t *x1)
{
	ptrdiff_t s = (ptrdiff_t)g->stride, lo = (ptrdiff_t)g->pad - (ptrdiff_t)v;
	ptrdiff_t hi = (ptrdiff_t)g->w_in - 1 + (ptrdiff_t)g->pad - (ptrdiff_t)v, a, b;

	a = lo > 0 ? (lo + s - 1) / s : 0;
	b = hi < 0 ? 0 : hi / s + 1;
	if (b > (ptrdiff_t)g->w_out)
		b = (ptrdiff_t)g->w_out;
	if (a > b)
		a = b;
	*x0 = (size_t)a;
	*x1 = (size_t)b;
}

/* A conv thread's workspace: the padded sample xp (n_xp), dcol (n_k n_own), then lat_gemm's. */
static void conv_ws(const lc_priv *p, float **xp, float **dcol, float **gws)
{
	*xp = thread_ws(p);
	*dcol = *xp + p->n_xp;
	*gws = *dcol + p->n_k * p->n_own;
}

/* xp[c][t - t0][x + pad] = in[c][t - pad - r0][x] for the padded rows t in [t0, t0 + hx), 0 in the
 * padding: one sample's input padded (a window: the padded rows its positions read). */
static void conv_pad(const lc_priv *p, const float *in, float *xp)
{
	const lat_lc_geom *g = &p->g;
	size_t pad = g->pad, right = p->wp - pad - g->w_in, rows = g->r1 - g->r0;

	for (size_t c = 0; c < g->c_in; c++) {
		for (size_t t = p->t0; t < p->t0 + p->hx; t++) {
			float *row = xp + (c * p->hx + t - p->t0) * p->wp;
			if (t < pad + g->r0 || t >= pad + g->r1) {
				memset(row, 0, p->wp * sizeof *row);
				continue;
			}
			memset(row, 0, pad * sizeof *row);
			memcpy(row + pad, in + (c * rows + t - pad - g->r0) * g->w_in, g->w_in * sizeof *row);
			memset(row + pad + g->w_in, 0, right * sizeof *row);
		}
	}
}

/* din[c][y s - pad + u - r0][x s - pad + v] += col[(c k + u) k + v][q - q0] for one sample and the
 * positions held (whole rows), in a fixed order. */
static void col2im(const lc_priv *p, const float *col, float *din)
{
	const lat_lc_geom *g = &p->g;
	size_t k = g->k, n_own = p->n_own, w_out = g->w_out, stride = g->stride, rows = g->r1 - g->r0;
	size_t y0 = p->q0 / w_out, y1 = (p->q0 + n_own) / w_out;

	for (size_t c = 0; c < g->c_in; c++) {
		for (size_t u = 0; u < k; u++) {
			for (size_t v = 0; v < k; v++) {
				const float *src = col + ((c * k + u) * k + v) * n_own;
				size_t x0, x1;
				x_range(g, v, &x0, &x1);
				for (size_t y = y0; y < y1; y++) {
					ptrdiff_t iy = (ptrdiff_t)(y * stride + u) - (ptrdiff_t)g->pad;
					const float *sr = src + (y - y0) * w_out;
					float *row;
					if (iy < (ptrdiff_t)g->r0 || iy >= (ptrdiff_t)g->r1)
						continue; /* padding (a window holds every image row it reads) */
					row = din + (c * rows + (size_t)iy - g->r0) * g->w_in;
					if (stride == 1) {
						float *restrict r = row + (x0 + v - g->pad);
						const float *restrict ss = sr + x0;
#pragma omp simd
						for (size_t x = 0; x < x1 - x0; x++)
							r[x] += ss[x];
					} else {
						for (size_t x = x0; x < x1; x++)
							row[x * stride + v - g->pad] += sr[x];
					}
				}
			}
		}
	}
}

static int lc_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	const lc_priv *p = l->priv;
	const lat_lc_geom *g = &p->g;
	size_t n_k = p->n_k, n_loc = p->n_loc, n_out = lat_shape_size(l->out), mb = l->max_batch;
	size_t q0 = p->q0, n_own = p->n_own, ld = p->window ? n_own : n_loc, at = p->window ? 0 : q0;
	const float *bias = g->bias ? l->w + p->n_w : NULL;

	(void)training;
	if (batch > mb)
		return LAT_EINVAL;
	if (batch == 0)
		return LAT_OK;
#pragma omp parallel num_threads(team(p))
	{
		float *patch = thread_ws(p);
		lc_to_xt(p, in, batch, mb, p->xt);
#pragma omp for schedule(dynamic)
		for (size_t j = 0; j < n_own; j++) {
			/* yt[:, j, :] (c_out x batch) = W_q (c_out x n_k) patch (n_k x batch), q = q0 + j */
			lc_gather(p, p->xt, q0 + j, mb, patch);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)g->c_out, (int)batch,
				    (int)n_k, 1, l->w + j * n_k, (int)(n_own * n_k), patch, (int)mb, 0,
				    p->yt + j * mb, (int)(n_own * mb));
		}
		/* out[b][o][q0 + j] = yt[o][j][b] + bias, and 0 at the positions of other parts (a window:
		 * out[b][o][j], its positions alone) */
#pragma omp for schedule(static)
		for (size_t o = 0; o < g->c_out; o++) {
			transpose(p->yt + o * n_own * mb, mb, out + o * ld + at, n_out, n_own, batch,
				  bias ? bias + (p->bias_channel ? o : o * n_own) : NULL, p->bias_channel ? 0 : 1);
			for (size_t b = 0; b < batch && !p->window && n_own < n_loc; b++) {
				float *row = out + b * n_out + o * n_loc;
				memset(row, 0, q0 * sizeof *row);
				memset(row + q0 + n_own, 0, (n_loc - q0 - n_own) * sizeof *row);
			}
		}
	}
	return LAT_OK;
}

/* Positions whose coordinates agree modulo m = ceil(k / s) have disjoint input windows, so each such
 * colour class scatters into dxt without races, and every dxt element sums in colour order. */
static int lc_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
		       size_t batch)
{
	const lc_priv *p = l->priv;
	const lat_lc_geom *g = &p->g;
	size_t n_k = p->n_k, n_loc = p->n_loc, n_out = lat_shape_size(l->out), mb = l->max_batch;
	size_t m = din ? (g->k + g->stride - 1) / g->stride : 1, n_xt = p->hx * p->wp * mb;
	size_t q0 = p->q0, n_own = p->n_own, ld = p->window ? n_own : n_loc, at = p->window ? 0 : q0;
	float *gbias = g->bias ? l->g + p->n_w : NULL;

	(void)out;
	if (batch > mb)
		return LAT_EINVAL;
	if (batch == 0)
		return LAT_OK;
#pragma omp parallel num_threads(team(p))
	{
		float *patch = thread_ws(p), *dpatch = patch + n_k * mb;
		lc_to_xt(p, in, batch, mb, p->xt);
		/* yt[o][j][b] = dout[b][o][q0 + j] (a window: dout[b][o][j]) */
#pragma omp for schedule(static)
		for (size_t o = 0; o < g->c_out; o++) {
			float *dst = p->yt + o * n_own * mb;
			transpose(dout + o * ld + at, n_out, dst, mb, batch, n_own, NULL, 0);
			if (gbias)
				row_sums_add(dst, n_own, batch, mb, gbias + (p->bias_channel ? o : o * n_own),
					     p->bias_channel ? 0 : 1);
		}
		if (din) {
#pragma omp for schedule(static)
			for (size_t c = 0; c < g->c_in; c++)
				memset(p->dxt + c * n_xt, 0, n_xt * sizeof *p->dxt);
		}
		for (size_t cy = 0; cy < m; cy++) {
			for (size_t cx = 0; cx < m; cx++) {
				size_t ny = cy < g->h_out ? (g->h_out - cy + m - 1) / m : 0;
				size_t nx = cx < g->w_out ? (g->w_out - cx + m - 1) / m : 0;
#pragma omp for schedule(dynamic)
				for (size_t i = 0; i < ny * nx; i++) {
					size_t q = (cy + (i / nx) * m) * g->w_out + cx + (i % nx) * m, j = q - q0;
					const float *dy;
					if (q < q0 || j >= n_own)
						continue; /* another part's position */
					dy = p->yt + j * mb;
					/* dW_q += dy_q (c_out x batch) patch^T (batch x n_k) */
					lc_gather(p, p->xt, q, mb, patch);
					cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->c_out,
						    (int)n_k, (int)batch, 1, dy, (int)(n_own * mb), patch,
						    (int)mb, 1, l->g + j * n_k, (int)(n_own * n_k));
					if (!din)
						continue;
					/* dpatch (n_k x batch) = W_q^T dy_q */
					cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n_k,
						    (int)batch, (int)g->c_out, 1, l->w + j * n_k,
						    (int)(n_own * n_k), dy, (int)(n_own * mb), 0, dpatch,
						    (int)mb);
					lc_scatter(p, dpatch, q, batch, mb, p->dxt);
				}
			}
		}
		if (din)
			lc_from_dxt(p, p->dxt, batch, mb, din);
	}
	return LAT_OK;
}

static int conv_forward(lat_layer *l, const float *in, float *out, size_t batch, int training)
{
	const lc_priv *p = l->priv;
	const lat_lc_geom *g = &p->g;
	size_t n_k = p->n_k, n_own = p->n_own, n_in = lat_shape_size(l->in), n_out = lat_shape_size(l->out);
	const float *bias = g->bias ? l->w + p->n_w : NULL;

	(void)training;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel for num_threads(team(p)) schedule(dynamic)
	for (size_t b = 0; b < batch; b++) {
		float *xp, *dcol, *gws, *dst = out + b * n_out;
		conv_ws(p, &xp, &dcol, &gws);
		conv_pad(p, in + b * n_in, xp);
		lat_gemm_gather(0, g->c_out, n_own, n_k, l->w, n_k, xp, p->off_k, p->off_q, 0, dst, n_own, gws);
		if (bias)
			for (size_t o = 0; o < g->c_out; o++)
				for (size_t q = 0; q < n_own; q++)
					dst[o * n_own + q] += bias[o];
	}
	return LAT_OK;
}

/* Each chunk of CONV_CHUNK samples writes its own partial gradient; the partials are then summed in
 * chunk order, so the result is independent of the thread count. */
static int conv_backward(lat_layer *l, const float *in, const float *out, const float *dout, float *din,
			 size_t batch)
{
	const lc_priv *p = l->priv;
	const lat_lc_geom *g = &p->g;
	size_t n_k = p->n_k, n_own = p->n_own, n_in = lat_shape_size(l->in), n_out = lat_shape_size(l->out);
	size_t n_par = p->n_w + p->n_b, n_chunk = (batch + CONV_CHUNK - 1) / CONV_CHUNK;

	(void)out;
	if (batch > l->max_batch)
		return LAT_EINVAL;
#pragma omp parallel num_threads(team(p))
	{
		float *xp, *dcol, *gws;
		conv_ws(p, &xp, &dcol, &gws);
#pragma omp for schedule(dynamic)
		for (size_t ch = 0; ch < n_chunk; ch++) {
			float *part = p->part + ch * n_par;
			size_t b1 = (ch + 1) * CONV_CHUNK < batch ? (ch + 1) * CONV_CHUNK : batch;
			memset(part + p->n_w, 0, p->n_b * sizeof *part);
			for (size_t b = ch * CONV_CHUNK; b < b1; b++) {
				const float *db = dout + b * n_out;
				conv_pad(p, in + b * n_in, xp);
				lat_gemm_gather(0, g->c_out, n_k, n_own, db, n_own, xp, p->off_q, p->off_k,
						b == ch * CONV_CHUNK ? 0 : 1, part, n_k, gws);
				row_sums_add(db, p->n_b, n_own, n_own, part + p->n_w, 1);
				if (!din)
					continue;
				lat_gemm(1, 0, n_k, n_own, g->c_out, l->w, n_k, db, n_own, 0, dcol, n_own, gws);
				memset(din + b * n_in, 0, n_in * sizeof *din);
				col2im(p, dcol, din + b * n_in);
			}
		}
#pragma omp for schedule(static)
		for (size_t j = 0; j < n_par; j++) {
			float s = 0;
			for (size_t ch = 0; ch < n_chunk; ch++)
				s += p->part[ch * n_par + j];
			l->g[j] += s;
		}
	}
	return LAT_OK;
}

/* Draws the whole layer's c_out x n_loc x len values in order and keeps those of the part's positions
 * in dst[c_out][n_own][len]. */
static void init_part(const lc_priv *p, float *dst, size_t len, double bound, gsl_rng *r)
{
	for (size_t o = 0; o < p->g.c_out; o++)
		for (size_t q = 0; q < p->n_loc; q++)
			for (size_t j = 0; j < len; j++) {
				float v;
				lat_init_uniform(&v, 1, bound, r);
				if (q >= p->q0 && q - p->q0 < p->n_own)
					dst[(o * p->n_own + q - p->q0) * len + j] = v;
			}
}

/* PyTorch defaults: weights and bias uniform(+-1/sqrt(c_in k k)) (Kaiming-uniform with a = sqrt(5)). */
static void lc_init(lat_layer *l, gsl_rng *r)
{
	const lc_priv *p = l->priv;
	double bound = lat_kaiming_bound(p->n_k);

	if (p->n_own == p->n_loc || p->g.shared) { /* a conv window holds the whole layer's weights */
		lat_init_uniform(l->w, p->n_w, bound, r);
		lat_init_uniform(l->w + p->n_w, p->n_b, bound, r);
		return;
	}
	/* a part: the whole layer's draws in order, each kept where it falls in the part */
	init_part(p, l->w, p->n_k, bound, r);
	if (p->bias_channel)
		lat_init_uniform(l->w + p->n_w, p->n_b, bound, r);
	else if (p->n_b)
		init_part(p, l->w + p->n_w, 1, bound, r);
}

static void lc_free(lat_layer *l)
{
	lc_priv *p = l->priv;

	if (p) {
		free(p->ws);
		free(p->own);
		free(p->part);
		free(p->off_k);
	}
	free(p);
	l->priv = NULL;
}

static size_t lc_scratch_floats(const lat_layer *l)
{
	const lc_priv *p = l->priv;

	return p->n_scratch;
}

/* xt, dxt and yt in one block: base (lc_scratch_floats floats, sizes checked when the layer was made) */
static void lc_place(lc_priv *p, float *base)
{
	p->xt = base;
	p->dxt = base + p->n_xt;
	p->yt = base + 2 * p->n_xt;
}

/* xt, dxt and yt move into scratch; the own block goes. */
static void lc_use_scratch(lat_layer *l, float *scratch)
{
	lc_priv *p = l->priv;

	free(p->own);
	p->own = NULL;
	lc_place(p, scratch);
}

/* The whole layer's parameters: W[c_out][n_loc][n_k], then its bias (per position, per channel, none). */
static size_t lc_params_whole(const lat_layer *l)
{
	const lc_priv *p = l->priv;

	return p->g.c_out * p->n_loc * p->n_k + (!p->n_b ? 0 : p->bias_channel ? p->n_b : p->g.c_out * p->n_loc);
}

/* A part's rows of positions [q0, q0 + n_own) in each channel's weights and position biases; a channel
 * bias (and a whole layer) is a replica. */
static void lc_map_whole(const lat_layer *l, const lat_whole_map *m, size_t lpos, size_t wpos)
{
	const lc_priv *p = l->priv;
	size_t c_out = p->g.c_out, ww = c_out * p->n_loc * p->n_k;

	if (p->n_own == p->n_loc) {
		lat_whole_run(m, lpos, wpos, l->n_params, 1);
		return;
	}
	for (size_t o = 0; o < c_out; o++)
		lat_whole_run(m, lpos + o * p->n_own * p->n_k, wpos + (o * p->n_loc + p->q0) * p->n_k, p->n_own * p->n_k, 0);
	if (p->bias_channel)
		lat_whole_run(m, lpos + p->n_w, wpos + ww, p->n_b, 1);
	else if (p->n_b)
		for (size_t o = 0; o < c_out; o++)
			lat_whole_run(m, lpos + p->n_w + o * p->n_own, wpos + ww + o * p->n_loc + p->q0, p->n_own, 0);
}

static const lat_layer_type lc_type = {
    .name = "lc",
    .forward = lc_forward,
    .backward = lc_backward,
    .init = lc_init,
    .bind = NULL,
    .free = lc_free,
    .scratch_floats = lc_scratch_floats,
    .use_scratch = lc_use_scratch,
    .params_whole = lc_params_whole,
    .map_whole = lc_map_whole,
};

static const lat_layer_type conv_type = {
    .name = "conv",
    .forward = conv_forward,
    .backward = conv_backward,
    .init = lc_init,
    .bind = NULL,
    .free = lc_free,
};

/* conv: the offsets of col[j][q - q0] in a padded sample xp (sizes() checked that they fit an int32). */
static void conv_offsets(lc_priv *p)
{
	const lat_lc_geom *g = &p->g;
	size_t k = g->k, s = g->stride;

	p->off_q = p->off_k + p->n_k;
	for (size_t c = 0; c < g->c_in; c++)
		for (size_t u = 0; u < k; u++)
			for (size_t v = 0; v < k; v++)
				p->off_k[(c * k + u) * k + v] = (int32_t)((c * p->hx + u) * p->wp + v);
	for (size_t q = p->q0; q < p->q0 + p->n_own; q++) {
		size_t y = q / g->w_out, x = q % g->w_out;
		p->off_q[q - p->q0] = (int32_t)((y * s - p->t0) * p->wp + x * s);
	}
}

static int geometry(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
		    int shared, lat_lc_geom *g, char *err)
{
	const char *name = shared ? "conv" : "lc";

	if (!in.c || !in.h || !in.w || !c_out || !k || !stride || !max_batch)
		return lat_err_set(
		    err, LAT_EINVAL,
		    "%s layer: sizes must be > 0 (in %zux%zux%zu, c_out %zu, k %zu, stride %zu, "
		    "max_batch %zu)",
		    name, in.c, in.h, in.w, c_out, k, stride, max_batch);
	if (k % 2 == 0)
		return lat_err_set(err, LAT_EINVAL, "%s layer: kernel size %zu must be odd", name, k);
	g->c_in = in.c;
	g->h_in = in.h;
	g->w_in = in.w;
	g->c_out = c_out;
	g->k = k;
	g->stride = stride;
	g->pad = (k - 1) / 2;
	g->bias = bias ? 1 : 0;
	g->shared = shared;
	if (in.h + 2 * g->pad < k || in.w + 2 * g->pad < k)
		return lat_err_set(err, LAT_EINVAL,
				   "%s layer: kernel %zu larger than the padded input %zux%zu", name, k,
				   in.h + 2 * g->pad, in.w + 2 * g->pad);
	g->h_out = (in.h + 2 * g->pad - k) / stride + 1;
	g->w_out = (in.w + 2 * g->pad - k) / stride + 1;
	return LAT_OK;
}

/* What of the whole layer a layer holds: part `part` of `parts` (1: the whole layer), or a window
 * (lat_lc_alloc_window): output rows [o0, o1) from input rows [r0, r1). */
typedef struct {
	size_t part, parts;
	int window;
	size_t o0, o1, r0, r1;
} lc_span;

void lat_lc_window_rows(size_t h_in, size_t k, size_t stride, size_t o0, size_t o1, size_t *r0, size_t *r1)
{
	size_t pad = (k - 1) / 2, lo = o0 * stride, hi = o1 > 0 ? (o1 - 1) * stride + k : 0;

	*r0 = lo > pad ? lo - pad : 0;
	*r1 = hi > pad ? hi - pad : 0;
	if (*r1 > h_in)
		*r1 = h_in;
	if (*r0 > *r1)
		*r0 = *r1;
}

/* Every size of a layer, computed before anything is allocated. */
typedef struct {
	lat_lc_geom g;
	size_t n_k, n_loc, n_w, n_b, ws_size, n_ws, hp, wp, n_xp, n_xt, n_yt, n_part;
	size_t q0, n_own; /* positions held */
	size_t t0, hx;	  /* the padded rows xt holds */
	size_t n_work; /* floats of every workspace together */
	int n_thr;
} lc_sizes;

/* Checks a window's rows against the whole layer g (its positions are then rows [o0, o1) of it). */
static int check_window(const lat_lc_geom *g, const lc_span *sp, char *err)
{
	size_t n0, n1;

	if (sp->o0 >= sp->o1 || sp->o1 > g->h_out || sp->r0 >= sp->r1 || sp->r1 > g->h_in)
		return lat_err_set(err, LAT_EINVAL,
				   "%s layer: a window needs output rows 0 <= o0 < o1 <= %zu and input rows 0 <= r0 < "
				   "r1 <= %zu (got [%zu, %zu) and [%zu, %zu))",
				   g->shared ? "conv" : "lc", g->h_out, g->h_in, sp->o0, sp->o1, sp->r0, sp->r1);
	lat_lc_window_rows(g->h_in, g->k, g->stride, sp->o0, sp->o1, &n0, &n1);
	if (sp->r0 > n0 || sp->r1 < n1)
		return lat_err_set(err, LAT_EINVAL,
				   "%s layer: output rows [%zu, %zu) read input rows [%zu, %zu), more than the window's "
				   "[%zu, %zu)",
				   g->shared ? "conv" : "lc", sp->o0, sp->o1, n0, n1, sp->r0, sp->r1);
	return LAT_OK;
}

static int sizes(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t mb, int shared,
		 const lc_span *sp, lc_sizes *z, char *err)
{
	size_t kk, ld_w, ld_y, chunks, n_all, q1, part = sp->part, parts = sp->parts;
	int bad;

	memset(z, 0, sizeof *z);
	z->n_thr = max_threads() > 0 ? max_threads() : 1;
	if (geometry(in, c_out, k, stride, bias, mb, shared, &z->g, err))
		return LAT_EINVAL;
	/* every size must fit a size_t, and what the BLAS sees (dimensions, leading dimensions) an int */
	bad = lat_size_mul(z->g.h_out, z->g.w_out, &z->n_loc) || lat_size_mul(part + 1, z->n_loc, &q1);
	if (!bad && !shared && parts > z->n_loc)
		return lat_err_set(err, LAT_EINVAL,
				   "lc layer: its %zu output positions cannot be split into %zu parts (one per process "
				   "of a split network): split it over at most %zu",
				   z->n_loc, parts, z->n_loc);
	if (!bad && (parts == 0 || part >= parts || (shared && parts > 1)))
		return lat_err_set(err, LAT_EINVAL,
				   "%s layer: part %zu of %zu: need part < parts <= %zu output positions%s",
				   shared ? "conv" : "lc",
				   part, parts, z->n_loc, shared ? " and a locally connected layer (conv is not split)" : "");
	z->g.r0 = 0;
	z->g.r1 = in.h;
	if (!bad && sp->window) {
		if (check_window(&z->g, sp, err))
			return LAT_EINVAL;
		z->q0 = sp->o0 * z->g.w_out; /* o1 w_out <= n_loc, which did not overflow */
		z->n_own = (sp->o1 - sp->o0) * z->g.w_out;
		z->g.r0 = sp->r0;
		z->g.r1 = sp->r1;
	} else if (!bad) {
		z->q0 = part * z->n_loc / parts; /* part n_loc <= (part + 1) n_loc, which did not overflow */
		z->n_own = q1 / parts - z->q0;
	}
	z->g.q0 = z->q0;
	z->g.q1 = z->q0 + z->n_own;
	bad = bad || lat_size_mul(k, k, &kk) ||
	      lat_size_mul(in.c, kk, &z->n_k) || lat_size_mul(z->n_own, z->n_k, &ld_w) ||
	      lat_size_mul(z->n_own, mb, &ld_y) || ld_w > INT_MAX || ld_y > INT_MAX || c_out > INT_MAX ||
	      lat_size_mul(c_out, shared ? z->n_k : ld_w, &z->n_w) ||
	      lat_size_mul(c_out, bias ? (shared || bias == LAT_LC_BIAS_CHANNEL ? 1 : z->n_own) : 0, &z->n_b) ||
	      lat_size_add(z->n_w, z->n_b, &n_all) || lat_size_add(in.h, k - 1, &z->hp) ||
	      lat_size_add(in.w, k - 1, &z->wp);
	/* the padded rows the positions read: all hp, or a window's (o1 - 1 - o0) s + k <= hp */
	z->t0 = sp->window ? sp->o0 * stride : 0;
	z->hx = sp->window ? (sp->o1 - 1 - sp->o0) * stride + k : z->hp;
	bad = bad || lat_size_mul(in.c, z->hx, &z->n_xp) || lat_size_mul(z->n_xp, z->wp, &z->n_xp);
	/* per thread: lc patch and dpatch (n_k mb each); conv xp (offsets into it are int32), dcol (n_k
	 * n_own) and lat_gemm's packing space */
	if (!bad && shared)
		bad = z->n_xp > INT32_MAX || lat_size_mul(z->n_k, z->n_own, &z->ws_size) ||
		      lat_size_add(z->ws_size, z->n_xp, &z->ws_size) ||
		      lat_size_add(z->ws_size, lat_gemm_ws_floats(), &z->ws_size);
	if (!bad && !shared)
		bad = lat_size_mul(z->n_k, mb, &z->ws_size) || lat_size_mul(z->ws_size, 2, &z->ws_size);
	bad = bad || lat_size_mul(z->ws_size, (size_t)z->n_thr, &z->n_ws);
	if (!bad && shared)
		bad = lat_size_add(mb, CONV_CHUNK - 1, &chunks) ||
		      lat_size_mul(chunks / CONV_CHUNK, n_all, &z->n_part) ||
		      lat_size_add(z->n_ws, z->n_part, &z->n_work) || lat_size_add(z->n_work, z->n_k, &z->n_work) ||
		      lat_size_add(z->n_work, z->n_own, &z->n_work); /* and the offsets (int32) */
	/* lc: the padded input and its gradient (c_in hx wp mb each) and the outputs (c_out n_own mb) */
	if (!bad && !shared)
		bad = lat_size_mul(z->n_xp, mb, &z->n_xt) || lat_size_mul(c_out, ld_y, &z->n_yt) ||
		      lat_size_mul(z->n_xt, 2, &z->n_work) || lat_size_add(z->n_work, z->n_yt, &z->n_work) ||
		      lat_size_add(z->n_work, z->n_ws, &z->n_work);
	if (bad)
		return lat_err_set(err, LAT_ENOMEM, "%s layer: sizes overflow (%zu x %zu x %zu input, %zu channels, kernel %zu)",
				   shared ? "conv" : "lc", in.c, in.h, in.w, c_out, k);
	return LAT_OK;
}

int lat_lc_plan(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch, int shared,
		size_t *n_params, size_t *n_work, char *err)
{
	lc_sizes z;
	lc_span whole = {.part = 0, .parts = 1};
	int rc = sizes(in, c_out, k, stride, bias, max_batch, shared, &whole, &z, err);

	*n_params = rc ? 0 : z.n_w + z.n_b;
	*n_work = rc ? 0 : z.n_work;
	return rc;
}

static lat_layer *alloc(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			int shared, const lc_span *sp, char *err)
{
	const char *name = shared ? "conv" : "lc";
	lat_layer *l = NULL, *res = NULL;
	lc_priv *p = NULL;
	lc_sizes z;
	size_t mb = max_batch;

	if (sizes(in, c_out, k, stride, bias, mb, shared, sp, &z, err))
		goto out;
	if (sp->window)
		l = lat_layer_new(shared ? &conv_type : &lc_type, (lat_shape){in.c, sp->r1 - sp->r0, in.w},
				  (lat_shape){c_out, sp->o1 - sp->o0, z.g.w_out}, mb, z.n_w + z.n_b, 0, err);
	else
		l = lat_layer_new(shared ? &conv_type : &lc_type, in, (lat_shape){c_out, z.g.h_out, z.g.w_out}, mb,
				  z.n_w + z.n_b, 0, err);
	if (!l)
		goto out;
	p = calloc(1, sizeof *p);
	l->priv = p;
	if (p) {
		p->ws = lat_floats_alloc(z.n_ws);
		p->part = shared ? lat_floats_alloc(z.n_part) : NULL;
		p->off_k = shared ? malloc((z.n_k + z.n_own) * sizeof *p->off_k) : NULL;
		/* xt, dxt, yt: n_xt + n_xt + n_yt = n_work - n_ws, a sum sizes() has checked */
		p->n_scratch = shared ? 0 : z.n_work - z.n_ws;
		p->own = shared ? NULL : lat_floats_alloc(p->n_scratch);
	}
	if (!p || !p->ws || (shared && (!p->part || !p->off_k)) || (!shared && !p->own)) {
		lat_err_set(err, LAT_ENOMEM, "%s layer: out of memory", name);
		goto out;
	}
	p->g = z.g;
	p->n_k = z.n_k;
	p->n_loc = z.n_loc;
	p->q0 = z.q0;
	p->n_own = z.n_own;
	p->window = sp->window;
	p->t0 = z.t0;
	p->hx = z.hx;
	p->n_w = z.n_w;
	p->n_b = z.n_b;
	p->bias_channel = !shared && bias == LAT_LC_BIAS_CHANNEL;
	p->n_thr = z.n_thr;
	p->ws_size = z.ws_size;
	p->wp = z.wp;
	p->n_xt = z.n_xt;
	p->n_xp = z.n_xp;
	if (shared)
		conv_offsets(p);
	else
		lc_place(p, p->own);
	res = l;
	l = NULL;
out:
	lat_layer_free(l);
	return res;
}

lat_layer *lat_lc_alloc(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			char *err)
{
	lc_span whole = {.part = 0, .parts = 1};

	return alloc(in, c_out, k, stride, bias, max_batch, 0, &whole, err);
}

lat_layer *lat_lc_alloc_part(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			     size_t part, size_t parts, char *err)
{
	lc_span sp = {.part = part, .parts = parts};

	return alloc(in, c_out, k, stride, bias, max_batch, 0, &sp, err);
}

lat_layer *lat_lc_alloc_window(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			       size_t o0, size_t o1, size_t r0, size_t r1, char *err)
{
	lc_span sp = {.part = 0, .parts = 1, .window = 1, .o0 = o0, .o1 = o1, .r0 = r0, .r1 = r1};

	return alloc(in, c_out, k, stride, bias, max_batch, 0, &sp, err);
}

lat_layer *lat_conv_alloc(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
			  char *err)
{
	lc_span whole = {.part = 0, .parts = 1};

	return alloc(in, c_out, k, stride, bias, max_batch, 1, &whole, err);
}

lat_layer *lat_conv_alloc_window(lat_shape in, size_t c_out, size_t k, size_t stride, int bias, size_t max_batch,
				 size_t o0, size_t o1, size_t r0, size_t r1, char *err)
{
	lc_span sp = {.part = 0, .parts = 1, .window = 1, .o0 = o0, .o1 = o1, .r0 = r0, .r1 = r1};

	return alloc(in, c_out, k, stride, bias, max_batch, 1, &sp, err);
}

const char *lat_conv_gemm_name(void)
{
	return lat_gemm_native() ? "avx512" : "openblas";
}

int lat_lc_geometry(const lat_layer *l, lat_lc_geom *g)
{
	const lc_priv *p;

	if (!l || !g || (l->type != &lc_type && l->type != &conv_type))
		return LAT_EINVAL;
	p = l->priv;
	*g = p->g;
	return LAT_OK;
}
