/*
 * ResNets against PyTorch 1.13 on the same weights and batch: evaluation
 * logits, training logits, loss, every parameter gradient, the running
 * statistics after one step, and the loss over three SGD steps. Two networks:
 * ResNet-18 with the CIFAR stem (width 0.125, 10 classes, 4 x 3 x 16 x 16)
 * and ResNet-50 with the ImageNet stem (width 0.03125, 5 classes,
 * 4 x 3 x 48 x 48). tools/make_resnet_golden.py writes the reference files
 * under tests/nn/golden (format described there), computed in float64, so
 * the tolerances below measure this float32 implementation.
 */
#include "tests/common/test_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_optim.h"
#include "nn/nn_resnet.h"

/* ---- reading the reference file ---- */

typedef struct golden_record {
    char name[96];
    int dtype; /* 0 float32, 1 int32 */
    int ndim;
    int shape[RT_MAX_DIMS];
    size_t numel;
    void *data;
} golden_record;

typedef struct golden_file {
    golden_record *records;
    int count;
} golden_file;

static golden_file golden;

static bool read_u32(FILE *f, uint32_t *out)
{
    unsigned char b[4];
    if (fread(b, 1, 4, f) != 4)
        return false;
    *out = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

/* Reads one record; element bytes are little-endian like the host this test targets (x86-64). */
static bool read_record(FILE *f, golden_record *r)
{
    uint32_t name_len, dtype, ndim;
    if (!read_u32(f, &name_len) || name_len >= sizeof r->name)
        return false;
    if (fread(r->name, 1, name_len, f) != name_len)
        return false;
    r->name[name_len] = '\0';
    if (!read_u32(f, &dtype) || dtype > 1 || !read_u32(f, &ndim) || ndim > RT_MAX_DIMS)
        return false;
    r->dtype = (int)dtype;
    r->ndim = (int)ndim;
    r->numel = 1;
    for (uint32_t i = 0; i < ndim; i++) {
        uint32_t size;
        if (!read_u32(f, &size))
            return false;
        r->shape[i] = (int)size;
        r->numel *= size;
    }
    r->data = malloc(r->numel * 4);
    return r->data && fread(r->data, 4, r->numel, f) == r->numel;
}

static void golden_load(const char *file)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/nn/golden/%s", test_source_root(), file);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s; regenerate it with tools/make_resnet_golden.py",
                  path);
    char magic[4];
    uint32_t version, count;
    ck_assert_msg(fread(magic, 1, 4, f) == 4 && memcmp(magic, "ALGT", 4) == 0,
                  "%s is not a golden file (magic ALGT missing)", path);
    ck_assert_msg(read_u32(f, &version) && version == 1, "%s: unsupported version", path);
    ck_assert_msg(read_u32(f, &count) && count > 0, "%s: missing record count", path);
    golden.records = calloc(count, sizeof *golden.records);
    ck_assert_ptr_nonnull(golden.records);
    for (uint32_t i = 0; i < count; i++) {
        ck_assert_msg(read_record(f, &golden.records[i]), "%s: record %u is truncated", path, i);
        golden.count++;
    }
    fclose(f);
}

static const golden_record *golden_get(const char *name)
{
    for (int i = 0; i < golden.count; i++)
        if (strcmp(golden.records[i].name, name) == 0)
            return &golden.records[i];
    ck_abort_msg("golden record %s not found", name);
    return NULL;
}

/* ---- fixture: context, golden file, the network with the reference weights, the batch ---- */

static nn_resnet *net;
static int param_count, buffer_count; /* torchvision's counts for the network under test */
static double tolerance_scale;        /* multiplies every tolerance, 1 for the ResNet-18 */
static rt_tensor images, labels, dlogits, stats;

static void upload_weights(void)
{
    nn_param_list *list = nn_resnet_params(net);
    for (int i = 0; i < list->count; i++) {
        nn_param *p = list->params[i];
        const golden_record *r = golden_get(p->name);
        ck_assert_uint_eq(r->numel, p->value.numel);
        ck_assert_rt(rt_tensor_write(&p->value, r->data));
    }
    for (int i = 0; i < list->buffer_count; i++) {
        const golden_record *r = golden_get(list->buffers[i].name);
        ck_assert_uint_eq(r->numel, list->buffers[i].tensor->numel);
        ck_assert_rt(rt_tensor_write(list->buffers[i].tensor, r->data));
    }
}

static void setup(const char *file, const nn_resnet_config *cfg)
{
    test_ctx_setup();
    golden_load(file);
    ck_assert_rt(nn_resnet_create(test_ctx, cfg, &net));
    upload_weights();

    const golden_record *in = golden_get("input");
    ck_assert_rt(rt_tensor_alloc(test_ctx, &images, "images", RT_F32, 4, in->shape));
    ck_assert_rt(rt_tensor_write(&images, in->data));
    const golden_record *lab = golden_get("labels");
    ck_assert_rt(rt_tensor_alloc(test_ctx, &labels, "labels", RT_I32, 1, lab->shape));
    ck_assert_rt(rt_tensor_write(&labels, lab->data));
    int logit_shape[2] = {in->shape[0], cfg->num_classes}, two = 2;
    ck_assert_rt(rt_tensor_alloc(test_ctx, &dlogits, "dlogits", RT_F32, 2, logit_shape));
    ck_assert_rt(rt_tensor_alloc(test_ctx, &stats, "stats", RT_F32, 1, &two));
}

static void setup_resnet18_cifar(void)
{
    nn_resnet_config cfg = {
        .depth = 18, .stem = NN_STEM_CIFAR, .width = 0.125f, .num_classes = 10, .in_channels = 3};
    param_count = 62;
    buffer_count = 40;
    tolerance_scale = 1.0;
    setup("resnet18_cifar.bin", &cfg);
}

static void setup_resnet50_imagenet(void)
{
    nn_resnet_config cfg = {.depth = 50,
                            .stem = NN_STEM_IMAGENET,
                            .width = 0.03125f,
                            .num_classes = 5,
                            .in_channels = 3};
    param_count = 161;
    buffer_count = 106;
    /* 2-channel batch norms amplify rounding: PyTorch's own float32 run of this network
     * differs from float64 by 1.2e-3 of the largest gradient and 1e-4 in the logits */
    tolerance_scale = 25.0;
    setup("resnet50_imagenet.bin", &cfg);
}

static void teardown(void)
{
    rt_tensor_free(&images);
    rt_tensor_free(&labels);
    rt_tensor_free(&dlogits);
    rt_tensor_free(&stats);
    nn_resnet_free(net);
    net = NULL;
    for (int i = 0; i < golden.count; i++)
        free(golden.records[i].data);
    free(golden.records);
    memset(&golden, 0, sizeof golden);
    test_ctx_teardown();
}

/* Compares a device tensor with a golden float record of the same size. */
static void assert_tensor_close(const rt_tensor *t, const char *record, double atol, double rtol)
{
    const golden_record *r = golden_get(record);
    ck_assert_uint_eq(t->numel, r->numel);
    float *host = malloc(t->numel * sizeof *host);
    ck_assert_ptr_nonnull(host);
    ck_assert_rt(rt_tensor_read(t, host));
    ck_assert_close(host, (const float *)r->data, t->numel, atol, rtol, record);
    free(host);
}

/* Runs a training forward, the loss and backward; returns the mean loss. */
static float train_forward_backward(void)
{
    ck_assert_rt(nn_resnet_forward(test_ctx, net, &images, true));
    ck_assert_rt(nn_softmax_xent(test_ctx, nn_resnet_logits(net), &labels, 0.0f, 1.0f, NULL,
                                 &dlogits, &stats));
    ck_assert_rt(nn_resnet_backward(test_ctx, net, &dlogits, NULL));
    float host_stats[2];
    ck_assert_rt(rt_tensor_read(&stats, host_stats));
    return host_stats[0];
}

START_TEST(params_follow_torch_order)
{
    /* the generator writes input, labels, then parameters and buffers in PyTorch's order */
    nn_param_list *list = nn_resnet_params(net);
    ck_assert_int_eq(list->count, param_count);
    for (int i = 0; i < list->count; i++) {
        const golden_record *r = &golden.records[2 + i];
        const nn_param *p = list->params[i];
        ck_assert_str_eq(p->name, r->name);
        ck_assert_int_eq(p->value.ndim, r->ndim);
        for (int d = 0; d < r->ndim; d++)
            ck_assert_int_eq(p->value.shape[d], r->shape[d]);
    }
    for (int i = 0; i < list->buffer_count; i++)
        ck_assert_str_eq(list->buffers[i].name, golden.records[2 + list->count + i].name);
    ck_assert_int_eq(list->buffer_count, buffer_count);
}
END_TEST

START_TEST(eval_logits_match_torch)
{
    ck_assert_rt(nn_resnet_forward(test_ctx, net, &images, false));
    assert_tensor_close(nn_resnet_logits(net), "eval_logits", 1e-5 * tolerance_scale,
                        1e-4 * tolerance_scale);
}
END_TEST

START_TEST(train_step_matches_torch)
{
    float loss = train_forward_backward();
    assert_tensor_close(nn_resnet_logits(net), "logits", 1e-5 * tolerance_scale,
                        1e-4 * tolerance_scale);
    float expected = *(const float *)golden_get("loss")->data;
    ck_assert_msg(fabsf(loss - expected) <= 1e-4f + 1e-4f * fabsf(expected),
                  "loss is %.7g, PyTorch gives %.7g", (double)loss, (double)expected);

    /*
     * Gradients pass through up to 20 batch norms on 4 images, so the absolute
     * tolerance scales with the largest gradient of each tensor. On PoCL the
     * errors stay below 2e-5 of it; the tolerance leaves a factor of 10.
     */
    nn_param_list *list = nn_resnet_params(net);
    for (int i = 0; i < list->count; i++) {
        char record[128];
        snprintf(record, sizeof record, "grad.%s", list->params[i]->name);
        const golden_record *r = golden_get(record);
        float max_abs = 0.0f;
        for (size_t j = 0; j < r->numel; j++)
            max_abs = fmaxf(max_abs, fabsf(((const float *)r->data)[j]));
        assert_tensor_close(&list->params[i]->grad, record,
                            (2e-4 * max_abs + 1e-7) * tolerance_scale, 2e-4 * tolerance_scale);
    }
    for (int i = 0; i < list->buffer_count; i++) {
        char record[128];
        snprintf(record, sizeof record, "after.%s", list->buffers[i].name);
        assert_tensor_close(list->buffers[i].tensor, record, 1e-5 * tolerance_scale,
                            1e-4 * tolerance_scale);
    }
}
END_TEST

START_TEST(sgd_losses_match_torch)
{
    const golden_record *r = golden_get("sgd_losses");
    ck_assert_uint_eq(r->numel, 4);
    const float *expected = r->data;

    nn_optim_config cfg = nn_optim_config_default(NN_OPTIM_SGD);
    cfg.momentum = 0.9f;
    cfg.weight_decay = 0.0f;
    nn_optim *opt;
    ck_assert_rt(nn_optim_create(test_ctx, nn_resnet_params(net), &cfg, &opt));
    for (int step = 0; step < 4; step++) {
        float loss = train_forward_backward();
        /* later steps amplify float32 differences through the updated weights */
        float tol = 2e-5f * (float)tolerance_scale * (float)(1 << step) *
                    fmaxf(1.0f, fabsf(expected[step]));
        ck_assert_msg(fabsf(loss - expected[step]) <= tol,
                      "loss after %d SGD steps is %.7g, PyTorch gives %.7g (tolerance %.2g)", step,
                      (double)loss, (double)expected[step], (double)tol);
        if (step < 3)
            ck_assert_rt(nn_optim_step(test_ctx, opt, 0.1f));
    }
    nn_optim_free(opt);
}
END_TEST

static TCase *golden_tcase(Suite *s, const char *name, void (*fixture)(void))
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, fixture, teardown);
    tcase_add_test(tc, params_follow_torch_order);
    tcase_add_test(tc, eval_logits_match_torch);
    tcase_add_test(tc, train_step_matches_torch);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *resnet_golden_suite(void)
{
    Suite *s = suite_create("resnet_golden");
    TCase *resnet18 = golden_tcase(s, "resnet18_cifar", setup_resnet18_cifar);
    tcase_add_test(resnet18, sgd_losses_match_torch);
    /*
     * No SGD trajectory for the tiny ResNet-50: its loss is chaotic in the
     * weights, and PyTorch's own float32 and float64 runs part after one step.
     */
    golden_tcase(s, "resnet50_imagenet", setup_resnet50_imagenet);
    return s;
}

int main(void)
{
    return test_run_suite(resnet_golden_suite());
}
