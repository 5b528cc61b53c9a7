/* The eval and uncertainty commands. */
#include "apps/app_trainer.h"
#include "apps/app_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the eval and uncertainty commands ---- */

int app_eval(const app_config *cfg, const app_run_options *options)
{
    trainer t;
    int st = trainer_setup(&t, cfg, options, false);
    if (st == RT_OK)
        st = nn_checkpoint_load_weights(t.ctx, options->checkpoint, nn_resnet_params(t.net), NULL,
                                        NULL);
    double loss = NAN, acc = NAN;
    if (st == RT_OK)
        st = trainer_evaluate(&t, t.data.test, &loss, &acc);
    if (st == RT_OK)
        printf("test set %s: %d images, loss %.4f, accuracy %.2f%%\n", t.data.test->name,
               t.data.test->count, loss, acc);
    int code = trainer_exit_status(st);
    trainer_free(&t);
    return code;
}

/* Runs mc_passes stochastic evaluation passes over the training set (entropy, MI per sample). */
static int model_uncertainty(trainer *t, float *entropy, float *mutual_info)
{
    const app_config *cfg = t->cfg;
    int passes = cfg->uncertainty.mc_passes;
    int k = cfg->data.num_classes;
    int batch = cfg->data.batch_size;
    app_sampler *seq;
    app_loader *ld;
    RT_TRY(trainer_open_eval_loader(t, t->data.train, &seq, &ld));
    rt_tensor all_logits = {0}, out = {0}, scratch = {0};
    int shape3[3] = {passes, batch, k}, shape2[2] = {2, batch};
    int st = rt_tensor_alloc(t->ctx, &all_logits, "mc.logits", RT_F32, 3, shape3);
    if (st == RT_OK)
        st = rt_tensor_alloc(t->ctx, &out, "mc.uncertainty", RT_F32, 2, shape2);
    alum_set_mc_mode(t->method, true);
    float *host = malloc((size_t)2 * batch * sizeof *host);
    if (!host && st == RT_OK)
        st = rt_set_error(RT_ERR_NOMEM, "out of host memory");
    uint64_t step = 0;
    while (st == RT_OK) {
        const app_batch *b;
        st = app_loader_next(ld, &b, NULL);
        if (st != RT_OK || !b)
            break;
        st = trainer_upload_batch(t, b);
        size_t bytes = (size_t)b->size * k * sizeof(float);
        for (int p = 0; p < passes && st == RT_OK; p++) {
            alum_set_step(t->method, (uint64_t)cfg->run.seed ^ 0x5eedULL, step++);
            st = nn_resnet_forward(t->ctx, t->net, &t->images, false);
            if (st == RT_OK) {
                cl_int err = clEnqueueCopyBuffer(
                    t->ctx->queue, nn_resnet_logits(t->net)->buf, all_logits.buf, 0,
                    (size_t)p * b->size * k * sizeof(float), bytes, 0, NULL, NULL);
                if (err != CL_SUCCESS)
                    st = rt_cl_fail(t->ctx, "clEnqueueCopyBuffer(mc logits)", err, __FILE__,
                                    __LINE__);
            }
        }
        /* a view of the first passes x size x k elements for a partial last batch */
        rt_tensor view = all_logits;
        view.shape[1] = b->size;
        view.numel = (size_t)passes * b->size * k;
        rt_tensor out_view = out;
        out_view.shape[1] = b->size;
        out_view.numel = (size_t)2 * b->size;
        if (st == RT_OK)
            st = alum_mc_uncertainty(t->ctx, &view, &out_view, &scratch);
        if (st == RT_OK)
            st = rt_tensor_read(&out_view, host);
        for (int i = 0; st == RT_OK && i < b->size; i++) {
            entropy[b->indices[i]] = host[i];
            mutual_info[b->indices[i]] = host[b->size + i];
        }
    }
    alum_set_mc_mode(t->method, false);
    free(host);
    rt_tensor_free(&all_logits);
    rt_tensor_free(&out);
    rt_tensor_free(&scratch);
    app_loader_destroy(ld);
    app_sampler_free(seq);
    return st;
}

/*
 * Chooses where uncertainty.csv/json go: --output when given, else the run
 * directory of the checkpoint (RUN/checkpoints/X.ckpt), else the directory
 * that contains the checkpoint.
 */
static void output_dir_for(const app_config *cfg, const app_run_options *options, char *dir,
                           size_t size)
{
    if (options->output_given) {
        snprintf(dir, size, "%s", cfg->run.output_dir);
        return;
    }
    snprintf(dir, size, "%s", options->checkpoint);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        snprintf(dir, size, ".");
        return;
    }
    *slash = '\0';
    char *parent = strrchr(dir, '/');
    const char *base = parent ? parent + 1 : dir;
    if (strcmp(base, "checkpoints") != 0)
        return;
    if (parent)
        *parent = '\0';
    else
        snprintf(dir, size, ".");
}

static int run_uncertainty(trainer *t, const app_run_options *options)
{
    const app_config *cfg = t->cfg;
    int d = t->data.train->count;
    nn_checkpoint_header header = {0};
    RT_TRY(
        nn_checkpoint_load(t->ctx, options->checkpoint, nn_resnet_params(t->net), t->opt, &header));
    int st = trainer_unpack_state(t, header.rng_state, header.rng_state_size, options->checkpoint);
    nn_checkpoint_header_free(&header);
    RT_TRY(st);
    t->epoch = t->epoch > 0 ? t->epoch - 1 : 0; /* the records of the last finished epoch */
    float *buf = malloc((size_t)d * 8 * sizeof(float));
    if (!buf)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    float *scores[RANK_COUNT] = {0};
    st = trainer_training_scores(t, scores, buf);
    if (st == RT_OK && cfg->uncertainty.mc_passes > 0) {
        scores[RANK_MODEL_ENTROPY] = buf + 6 * d;
        scores[RANK_MODEL_MI] = buf + 7 * d;
        printf("model uncertainty: %d stochastic passes over %d training images\n",
               cfg->uncertainty.mc_passes, d);
        fflush(stdout);
        st = model_uncertainty(t, scores[RANK_MODEL_ENTROPY], scores[RANK_MODEL_MI]);
    }
    char dir[1024], csv_path[1200], json_path[1200];
    output_dir_for(cfg, options, dir, sizeof dir);
    snprintf(csv_path, sizeof csv_path, "%s", options->output_csv ? options->output_csv : "");
    if (!options->output_csv)
        snprintf(csv_path, sizeof csv_path, "%s/uncertainty.csv", dir);
    snprintf(json_path, sizeof json_path, "%s/uncertainty.json", dir);
    app_atomic_file f;
    if (st == RT_OK)
        st = app_mkdirs(dir);
    if (st == RT_OK)
        st = app_atomic_open(&f, json_path);
    if (st == RT_OK) {
        fprintf(f.stream, "{\n  \"checkpoint\": \"%s\",\n", options->checkpoint);
        st = trainer_report_rankings(t, scores, csv_path, f.stream);
        fprintf(f.stream, "\n}\n");
        if (st == RT_OK)
            st = app_atomic_commit(&f);
        else
            app_atomic_abort(&f);
    }
    if (st == RT_OK)
        printf("wrote %s and %s\n", csv_path, json_path);
    free(buf);
    return st;
}

int app_uncertainty(const app_config *cfg, const app_run_options *options)
{
    trainer t;
    int st = trainer_setup(&t, cfg, options, false);
    if (st == RT_OK)
        st = run_uncertainty(&t, options);
    int code = trainer_exit_status(st);
    trainer_free(&t);
    return code;
}
