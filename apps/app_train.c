/*
 * Training loop, evaluation and per-sample uncertainty ranking.
 *
 * Everything in a step stays on the device: the host uploads the batch,
 * enqueues forward, loss, backward and the optimiser update, and reads back
 * two floats only on logging steps. Per-sample records (loss, prediction,
 * probability of the training label) are scattered into dataset-sized
 * device arrays and read once per epoch.
 */
#include "apps/app_train.h"
#include "apps/app_loader.h"
#include "apps/app_report.h"
#include "apps/app_setup.h"
#include "nn/nn_checkpoint.h"
#include "runtime/runtime.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESUME_MAGIC 0x414c5253u /* "ALRS" */
#define MAX_EPOCH_RECORDS 4096

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One row of metrics.csv / metrics.jsonl. */
typedef struct epoch_record {
    int32_t epoch; /* 1-based */
    int32_t evaluated;
    double lr;
    double train_loss, train_acc;
    double train_acc_clean;       /* prediction == label on samples whose label is clean */
    double train_acc_noisy_given; /* prediction == wrong given label (memorisation) */
    double train_acc_noisy_true;  /* prediction == clean label on mislabeled samples */
    double triplet_loss;
    double test_loss, test_acc;
    double seconds, data_wait;
} epoch_record;

/* Host-side state saved in the checkpoint's opaque block. */
typedef struct resume_header {
    uint32_t magic;
    int32_t next_epoch; /* epoch to continue (0-based) */
    int64_t step;
    app_sampler_state sampler;
    double best_acc;
    int32_t best_epoch;
    int32_t n_records;
    int32_t dataset_size;
    int32_t has_uncertainty;
} resume_header;

typedef struct trainer {
    const app_config *cfg;
    const app_run_options *options;
    rt_context *ctx;
    app_datasets data;
    uint8_t *is_noisy; /* [train count] label differs from the clean one; NULL when unknown */
    nn_resnet *net;
    alum *method;
    bool mining; /* the method mines triplets, so data uncertainty exists */
    nn_optim *opt;
    nn_schedule_config schedule;
    app_sampler *sampler;
    app_loader *loader;
    int batch_n; /* batch size the device buffers are allocated for */
    rt_tensor images, labels, indices, loss_ps, dlogits, stats;
    /* per-sample arrays over the training set, float [D] */
    rt_tensor sample_loss, sample_pred, sample_prob, sample_seen;
    char run_dir[1024], ckpt_dir[1100];
    char *config_yaml;
    int epoch;
    int64_t step;
    int steps_per_epoch;
    double best_acc;
    int best_epoch;
    epoch_record *records;
    int n_records;
    double epoch_wait, epoch_start;
    double run_seconds; /* wall time of the training loop in this process */
} trainer;

/* ---- device buffers ---- */

static void free_batch_buffers(trainer *t)
{
    rt_tensor_free(&t->images);
    rt_tensor_free(&t->labels);
    rt_tensor_free(&t->indices);
    rt_tensor_free(&t->loss_ps);
    rt_tensor_free(&t->dlogits);
    t->batch_n = 0;
}

static int ensure_batch_buffers(trainer *t, int n, int c, int h, int w)
{
    if (t->batch_n == n && t->images.shape[1] == c && t->images.shape[2] == h &&
        t->images.shape[3] == w)
        return RT_OK;
    free_batch_buffers(t);
    int k = t->cfg->data.num_classes;
    int one[1] = {n}, two[2] = {n, k};
    RT_TRY(rt_tensor_alloc4(t->ctx, &t->images, "batch.images", n, c, h, w));
    RT_TRY(rt_tensor_alloc(t->ctx, &t->labels, "batch.labels", RT_I32, 1, one));
    RT_TRY(rt_tensor_alloc(t->ctx, &t->indices, "batch.indices", RT_I32, 1, one));
    RT_TRY(rt_tensor_alloc(t->ctx, &t->loss_ps, "batch.loss", RT_F32, 1, one));
    RT_TRY(rt_tensor_alloc(t->ctx, &t->dlogits, "batch.dlogits", RT_F32, 2, two));
    t->batch_n = n;
    return RT_OK;
}

static int upload_batch(trainer *t, const app_batch *b)
{
    RT_TRY(ensure_batch_buffers(t, b->size, b->channels, b->height, b->width));
    RT_TRY(rt_tensor_write(&t->images, b->images));
    RT_TRY(rt_tensor_write(&t->labels, b->labels));
    return rt_tensor_write(&t->indices, b->indices);
}

static int alloc_sample_arrays(trainer *t, int count)
{
    int shape[1] = {count};
    RT_TRY(rt_tensor_alloc(t->ctx, &t->sample_loss, "samples.loss", RT_F32, 1, shape));
    RT_TRY(rt_tensor_alloc(t->ctx, &t->sample_pred, "samples.pred", RT_F32, 1, shape));
    RT_TRY(rt_tensor_alloc(t->ctx, &t->sample_prob, "samples.prob", RT_F32, 1, shape));
    RT_TRY(rt_tensor_alloc(t->ctx, &t->sample_seen, "samples.seen", RT_F32, 1, shape));
    RT_TRY(rt_tensor_zero(&t->sample_loss));
    RT_TRY(rt_tensor_zero(&t->sample_pred));
    RT_TRY(rt_tensor_zero(&t->sample_prob));
    return rt_tensor_zero(&t->sample_seen);
}

static int record_samples(trainer *t, int n)
{
    cl_kernel k;
    RT_TRY(rt_kernel_get(t->ctx, "train_stats", "record_samples", &k));
    rt_tensor *logits = nn_resnet_logits(t->net);
    cl_int nn = n, kk = t->cfg->data.num_classes;
    float tag = (float)(t->epoch + 1);
    RT_ARG(t->ctx, k, 0, nn);
    RT_ARG(t->ctx, k, 1, kk);
    RT_ARG(t->ctx, k, 2, logits->buf);
    RT_ARG(t->ctx, k, 3, t->labels.buf);
    RT_ARG(t->ctx, k, 4, t->indices.buf);
    RT_ARG(t->ctx, k, 5, t->loss_ps.buf);
    RT_ARG(t->ctx, k, 6, tag);
    RT_ARG(t->ctx, k, 7, t->sample_loss.buf);
    RT_ARG(t->ctx, k, 8, t->sample_pred.buf);
    RT_ARG(t->ctx, k, 9, t->sample_prob.buf);
    RT_ARG(t->ctx, k, 10, t->sample_seen.buf);
    size_t global = (size_t)n;
    return rt_launch(t->ctx, k, "record_samples", 1, &global, NULL);
}

/* ---- checkpoints ---- */

static int read_sample_arrays(trainer *t, float *loss, float *pred, float *prob, float *seen)
{
    RT_TRY(rt_tensor_read(&t->sample_loss, loss));
    RT_TRY(rt_tensor_read(&t->sample_pred, pred));
    RT_TRY(rt_tensor_read(&t->sample_prob, prob));
    return rt_tensor_read(&t->sample_seen, seen);
}

/* Packs the host-side resume state: header, epoch records, per-sample arrays. */
static int pack_resume_state(trainer *t, int next_epoch, void **out, size_t *size)
{
    size_t d = (size_t)t->data.train->count;
    size_t bytes = sizeof(resume_header) + (size_t)t->n_records * sizeof(epoch_record) +
                   4 * d * sizeof(float) + (t->mining ? d * (sizeof(float) + sizeof(int)) : 0);
    unsigned char *blob = calloc(1, bytes);
    if (!blob)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory packing the checkpoint state");
    resume_header *h = (resume_header *)blob;
    h->magic = RESUME_MAGIC;
    h->next_epoch = next_epoch;
    h->step = t->step;
    h->sampler = app_sampler_get_state(t->sampler);
    h->best_acc = t->best_acc;
    h->best_epoch = t->best_epoch;
    h->n_records = t->n_records;
    h->dataset_size = (int32_t)d;
    h->has_uncertainty = t->mining;
    unsigned char *p = blob + sizeof *h;
    memcpy(p, t->records, (size_t)t->n_records * sizeof(epoch_record));
    p += (size_t)t->n_records * sizeof(epoch_record);
    float *arrays = (float *)p;
    int st = read_sample_arrays(t, arrays, arrays + d, arrays + 2 * d, arrays + 3 * d);
    p += 4 * d * sizeof(float);
    if (st == RT_OK && t->mining)
        st = alum_read_data_uncertainty(t->method, (float *)p, (int *)(p + d * sizeof(float)));
    if (st != RT_OK) {
        free(blob);
        return st;
    }
    *out = blob;
    *size = bytes;
    return RT_OK;
}

static int unpack_resume_state(trainer *t, const void *blob, size_t size, const char *path)
{
    const resume_header *h = blob;
    size_t d = (size_t)t->data.train->count;
    if (!blob || size < sizeof *h || h->magic != RESUME_MAGIC)
        return rt_set_error(RT_ERR_FORMAT,
                            "%s has no training state; it cannot be resumed "
                            "(use it with --checkpoint or model.pretrained)",
                            path);
    if ((size_t)h->dataset_size != d)
        return rt_set_error(RT_ERR_FORMAT,
                            "%s was trained on %d samples but this config has %zu; "
                            "resume with the config of that run",
                            path, h->dataset_size, d);
    size_t expect = sizeof *h + (size_t)h->n_records * sizeof(epoch_record) +
                    4 * d * sizeof(float) +
                    (h->has_uncertainty ? d * (sizeof(float) + sizeof(int)) : 0);
    if (size != expect || h->n_records < 0 || h->n_records > MAX_EPOCH_RECORDS)
        return rt_set_error(RT_ERR_FORMAT, "training state in %s has %zu bytes, expected %zu", path,
                            size, expect);
    t->epoch = h->next_epoch;
    t->step = h->step;
    t->best_acc = h->best_acc;
    t->best_epoch = h->best_epoch;
    t->n_records = h->n_records;
    if (t->sampler)
        RT_TRY(app_sampler_set_state(t->sampler, &h->sampler));
    const unsigned char *p = (const unsigned char *)blob + sizeof *h;
    memcpy(t->records, p, (size_t)h->n_records * sizeof(epoch_record));
    p += (size_t)h->n_records * sizeof(epoch_record);
    const float *arrays = (const float *)p;
    RT_TRY(rt_tensor_write(&t->sample_loss, arrays));
    RT_TRY(rt_tensor_write(&t->sample_pred, arrays + d));
    RT_TRY(rt_tensor_write(&t->sample_prob, arrays + 2 * d));
    RT_TRY(rt_tensor_write(&t->sample_seen, arrays + 3 * d));
    p += 4 * d * sizeof(float);
    if (h->has_uncertainty && t->mining)
        RT_TRY(alum_write_data_uncertainty(t->method, (const float *)p,
                                           (const int *)(p + d * sizeof(float))));
    return RT_OK;
}

static int save_checkpoint(trainer *t, const char *path, int next_epoch)
{
    nn_checkpoint_header header = {0};
    header.step = t->step;
    header.epoch = next_epoch;
    header.metadata = t->config_yaml;
    RT_TRY(pack_resume_state(t, next_epoch, &header.rng_state, &header.rng_state_size));
    int st = nn_checkpoint_save(t->ctx, path, &header, nn_resnet_params(t->net), t->opt);
    free(header.rng_state);
    return st;
}

static int compare_names_desc(const void *a, const void *b)
{
    return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists checkpoints/ckpt-*.ckpt newest first (the step is zero-padded, so names sort). */
static int list_checkpoints(const char *dir, char ***names_out, int *count_out)
{
    *names_out = NULL;
    *count_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return RT_OK;
    char **names = NULL;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "ckpt-", 5) != 0 || len < 10 ||
            strcmp(e->d_name + len - 5, ".ckpt") != 0)
            continue;
        char **grown = realloc(names, (size_t)(count + 1) * sizeof *names);
        if (!grown)
            break;
        names = grown;
        names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof *names, compare_names_desc);
    *names_out = names;
    *count_out = count;
    return RT_OK;
}

static void free_names(char **names, int count)
{
    for (int i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

/* Saves checkpoints/ckpt-STEP.ckpt and removes all but the newest run.keep_last. */
static int save_rotating_checkpoint(trainer *t, int next_epoch, char *path_out, size_t size)
{
    snprintf(path_out, size, "%s/ckpt-%010lld.ckpt", t->ckpt_dir, (long long)t->step);
    RT_TRY(save_checkpoint(t, path_out, next_epoch));
    char **names;
    int count;
    list_checkpoints(t->ckpt_dir, &names, &count);
    int keep = t->cfg->run.keep_last > 0 ? t->cfg->run.keep_last : 1;
    for (int i = keep; i < count; i++) {
        char old[1400];
        snprintf(old, sizeof old, "%s/%s", t->ckpt_dir, names[i]);
        remove(old);
    }
    free_names(names, count);
    return RT_OK;
}

static int load_training_checkpoint(trainer *t, const char *path)
{
    nn_checkpoint_header header = {0};
    RT_TRY(nn_checkpoint_load(t->ctx, path, nn_resnet_params(t->net), t->opt, &header));
    int st = unpack_resume_state(t, header.rng_state, header.rng_state_size, path);
    nn_checkpoint_header_free(&header);
    return st;
}

/* Resumes from path, or with "auto" from the newest checkpoint that loads. */
static int resume_training(trainer *t, const char *resume)
{
    if (strcmp(resume, "auto") != 0) {
        RT_TRY(load_training_checkpoint(t, resume));
        printf("resumed from %s at epoch %d, step %lld\n", resume, t->epoch + 1,
               (long long)t->step);
        return RT_OK;
    }
    char **names;
    int count;
    list_checkpoints(t->ckpt_dir, &names, &count);
    for (int i = 0; i < count; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", t->ckpt_dir, names[i]);
        if (load_training_checkpoint(t, path) == RT_OK) {
            printf("resumed from %s at epoch %d, step %lld\n", path, t->epoch + 1,
                   (long long)t->step);
            free_names(names, count);
            return RT_OK;
        }
        fprintf(stderr, "warning: skipping checkpoint %s: %s\n", path, rt_last_error());
    }
    free_names(names, count);
    printf("no checkpoint to resume in %s; starting a new run\n", t->ckpt_dir);
    return RT_OK;
}

/* ---- metrics logs ---- */

static void json_number(FILE *f, const char *key, double v, bool last)
{
    if (isfinite(v))
        fprintf(f, "\"%s\": %.6g%s", key, v, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
}

static int write_metrics(const trainer *t)
{
    char path[1200];
    app_atomic_file csv, jsonl;
    snprintf(path, sizeof path, "%s/metrics.csv", t->run_dir);
    RT_TRY(app_atomic_open(&csv, path));
    fprintf(csv.stream, "epoch,lr,train_loss,train_acc,train_acc_clean,train_acc_noisy_given,"
                        "train_acc_noisy_true,triplet_loss,test_loss,test_acc,seconds,data_wait\n");
    for (int i = 0; i < t->n_records; i++) {
        const epoch_record *r = &t->records[i];
        fprintf(csv.stream, "%d,%.6g,%.6f,%.4f,%.4f,%.4f,%.4f,%.6f,%.6f,%.4f,%.2f,%.2f\n", r->epoch,
                r->lr, r->train_loss, r->train_acc, r->train_acc_clean, r->train_acc_noisy_given,
                r->train_acc_noisy_true, r->triplet_loss, r->test_loss, r->test_acc, r->seconds,
                r->data_wait);
    }
    RT_TRY(app_atomic_commit(&csv));
    snprintf(path, sizeof path, "%s/metrics.jsonl", t->run_dir);
    RT_TRY(app_atomic_open(&jsonl, path));
    for (int i = 0; i < t->n_records; i++) {
        const epoch_record *r = &t->records[i];
        FILE *f = jsonl.stream;
        fprintf(f, "{\"epoch\": %d, \"method\": \"%s\", ", r->epoch,
                app_config_enum_name("method.name", t->cfg->method.name));
        json_number(f, "lr", r->lr, false);
        json_number(f, "train_loss", r->train_loss, false);
        json_number(f, "train_acc", r->train_acc, false);
        json_number(f, "train_acc_clean", r->train_acc_clean, false);
        json_number(f, "train_acc_noisy_given", r->train_acc_noisy_given, false);
        json_number(f, "train_acc_noisy_true", r->train_acc_noisy_true, false);
        json_number(f, "triplet_loss", r->triplet_loss, false);
        json_number(f, "test_loss", r->test_loss, false);
        json_number(f, "test_acc", r->test_acc, false);
        json_number(f, "seconds", r->seconds, false);
        json_number(f, "data_wait", r->data_wait, true);
        fprintf(f, "}\n");
    }
    return app_atomic_commit(&jsonl);
}

/* ---- evaluation ---- */

/* Runs the test set in evaluation mode; writes mean loss and accuracy in percent. */
static int evaluate(trainer *t, app_dataset *ds, double *loss_out, double *acc_out)
{
    app_sampler *seq;
    RT_TRY(app_sampler_create_sequential(ds->count, &seq));
    app_loader_config lc = {0};
    lc.batch_size = t->cfg->data.batch_size;
    lc.num_threads = t->cfg->data.workers > 0 ? t->cfg->data.workers : 1;
    lc.queue_depth = 2 * lc.num_threads;
    lc.drop_last = 0;
    lc.seed = (uint64_t)t->cfg->run.seed;
    app_augment_from_config(t->cfg, 3, false, &lc.augment);
    app_loader *ld;
    int st = app_loader_create(ds, seq, &lc, &ld);
    if (st != RT_OK) {
        app_sampler_free(seq);
        return st;
    }
    double loss_sum = 0, correct = 0;
    int seen = 0;
    st = app_loader_start_epoch(ld);
    while (st == RT_OK) {
        const app_batch *b;
        st = app_loader_next(ld, &b, NULL);
        if (st != RT_OK || !b)
            break;
        st = upload_batch(t, b);
        if (st == RT_OK)
            st = nn_resnet_forward(t->ctx, t->net, &t->images, false);
        if (st == RT_OK)
            st = nn_softmax_xent(t->ctx, nn_resnet_logits(t->net), &t->labels, 0.0f, 1.0f, NULL,
                                 NULL, &t->stats);
        float stats[2];
        if (st == RT_OK)
            st = rt_tensor_read(&t->stats, stats);
        if (st != RT_OK)
            break;
        loss_sum += (double)stats[0] * b->size;
        correct += stats[1];
        seen += b->size;
    }
    app_loader_destroy(ld);
    app_sampler_free(seq);
    RT_TRY(st);
    *loss_out = seen ? loss_sum / seen : NAN;
    *acc_out = seen ? 100.0 * correct / seen : NAN;
    return RT_OK;
}

/* ---- per-epoch training statistics from the per-sample arrays ---- */

static int epoch_train_stats(trainer *t, epoch_record *r)
{
    int d = t->data.train->count;
    float *buf = malloc((size_t)d * 4 * sizeof(float));
    if (!buf)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    float *loss = buf, *pred = buf + d, *prob = buf + 2 * d, *seen = buf + 3 * d;
    int st = read_sample_arrays(t, loss, pred, prob, seen);
    if (st != RT_OK) {
        free(buf);
        return st;
    }
    const int32_t *given = t->data.train->labels, *clean = t->data.train->clean_labels;
    double loss_sum = 0;
    long n = 0, correct = 0, n_clean = 0, ok_clean = 0, n_noisy = 0, ok_given = 0, ok_true = 0;
    float tag = (float)(t->epoch + 1);
    for (int i = 0; i < d; i++) {
        if (seen[i] != tag)
            continue;
        int p = (int)pred[i];
        n++;
        loss_sum += loss[i];
        correct += p == given[i];
        if (!t->is_noisy)
            continue;
        if (t->is_noisy[i]) {
            n_noisy++;
            ok_given += p == given[i];
            ok_true += p == clean[i];
        } else {
            n_clean++;
            ok_clean += p == given[i];
        }
    }
    free(buf);
    r->train_loss = n ? loss_sum / n : NAN;
    r->train_acc = n ? 100.0 * correct / n : NAN;
    r->train_acc_clean = n_clean ? 100.0 * ok_clean / n_clean : NAN;
    r->train_acc_noisy_given = n_noisy ? 100.0 * ok_given / n_noisy : NAN;
    r->train_acc_noisy_true = n_noisy ? 100.0 * ok_true / n_noisy : NAN;
    return RT_OK;
}

/* ---- one epoch ---- */

static int train_step(trainer *t, const app_batch *b, double lr, bool log_now, float *stats_out,
                      float *triplet_out)
{
    rt_context *ctx = t->ctx;
    RT_TRY(upload_batch(t, b));
    alum_set_step(t->method, (uint64_t)t->cfg->run.seed, (uint64_t)t->step);
    alum_set_labels(t->method, &t->labels, &t->indices);
    RT_TRY(nn_resnet_forward(ctx, t->net, &t->images, true));
    RT_TRY(nn_softmax_xent(ctx, nn_resnet_logits(t->net), &t->labels,
                           (float)t->cfg->optim.label_smoothing, 1.0f, &t->loss_ps, &t->dlogits,
                           &t->stats));
    const rt_tensor *dembedding = NULL, *triplet_loss = NULL;
    RT_TRY(
        alum_triplet_step(ctx, t->method, nn_resnet_embedding(t->net), &dembedding, &triplet_loss));
    RT_TRY(nn_resnet_backward(ctx, t->net, &t->dlogits, dembedding));
    RT_TRY(nn_optim_step(ctx, t->opt, (float)lr));
    RT_TRY(record_samples(t, b->size));
    *triplet_out = 0.0f;
    if (!log_now)
        return RT_OK;
    RT_TRY(rt_tensor_read(&t->stats, stats_out));
    if (triplet_loss)
        RT_TRY(rt_tensor_read_range(triplet_loss, 0, 1, triplet_out));
    return RT_OK;
}

static int diverged(const trainer *t, double loss, double lr, const char *last_good)
{
    return rt_set_error(RT_ERR_NUMERIC,
                        "training diverged: the loss is %g at epoch %d, step %lld (lr %g). The "
                        "last good checkpoint is %s. Lower optim.lr, add schedule.warmup_epochs, "
                        "or check the input data",
                        loss, t->epoch + 1, (long long)t->step, lr,
                        last_good[0] ? last_good : "(none yet)");
}

/*
 * Runs the rest of the current epoch. Sets *interrupted when a stop signal
 * arrived (the step in flight is finished first).
 */
static int train_epoch(trainer *t, bool *interrupted, double *triplet_mean, char *last_good)
{
    const app_config *cfg = t->cfg;
    RT_TRY(app_loader_start_epoch(t->loader));
    int64_t total = app_loader_epoch_batches(t->loader);
    double wait_sum = 0, triplet_sum = 0, window_start = now_seconds();
    int triplet_count = 0, window_images = 0, window_steps = 0;
    double window_wait = 0;
    *interrupted = false;
    for (;;) {
        const app_batch *b;
        double wait = 0;
        RT_TRY(app_loader_next(t->loader, &b, &wait));
        if (!b)
            break;
        wait_sum += wait;
        window_wait += wait;
        int64_t in_epoch = b->batch_index;
        double lr = nn_schedule_lr(&t->schedule, t->epoch, (int)in_epoch);
        bool log_now = cfg->run.log_every > 0 && (in_epoch + 1) % cfg->run.log_every == 0;
        float stats[2] = {0, 0}, triplet = 0;
        RT_TRY(train_step(t, b, lr, log_now, stats, &triplet));
        t->step++;
        window_images += b->size;
        window_steps++;
        if (log_now) {
            if (!isfinite(stats[0]))
                return diverged(t, stats[0], lr, last_good);
            RT_TRY(rt_finish(t->ctx));
            double elapsed = now_seconds() - window_start;
            printf("epoch %d/%d  step %lld/%lld  loss %.4f  acc %5.1f%%", t->epoch + 1,
                   cfg->run.epochs, (long long)(in_epoch + 1), (long long)total, stats[0],
                   100.0 * stats[1] / b->size);
            if (cfg->method.name == APP_METHOD_ALUM && cfg->method.triplet)
                printf("  triplet %.4f", triplet);
            printf("  lr %.4g  %.0f ms/step  %.1f img/s  data wait %.0f%%\n", lr,
                   1e3 * elapsed / window_steps, window_images / elapsed,
                   100.0 * window_wait / elapsed);
            fflush(stdout);
            triplet_sum += triplet;
            triplet_count++;
            window_start = now_seconds();
            window_images = window_steps = 0;
            window_wait = 0;
        }
        if (stop_requested) {
            *interrupted = true;
            break;
        }
    }
    t->epoch_wait += wait_sum;
    *triplet_mean = triplet_count ? triplet_sum / triplet_count : NAN;
    return RT_OK;
}

/* ---- mislabeled-sample rankings ---- */

typedef struct ranking_scores {
    const char *name;
    float *score; /* higher = more likely mislabeled; NULL when unavailable */
} ranking_scores;

enum {
    RANK_DATA_UNCERTAINTY,
    RANK_LOSS,
    RANK_PROB_GIVEN,
    RANK_MODEL_ENTROPY,
    RANK_MODEL_MI,
    RANK_COUNT
};

static const char *const rank_names[RANK_COUNT] = {"data_uncertainty", "loss", "prob_given",
                                                   "model_entropy", "model_mutual_info"};

/* Maps the configured ranking to its index in the table above. */
static int configured_ranking(const app_config *cfg)
{
    switch (cfg->uncertainty.ranking) {
    case APP_RANKING_DATA_UNCERTAINTY:
        return RANK_DATA_UNCERTAINTY;
    case APP_RANKING_LOSS:
        return RANK_LOSS;
    case APP_RANKING_PROB_GIVEN:
        return RANK_PROB_GIVEN;
    case APP_RANKING_MODEL_ENTROPY:
        return RANK_MODEL_ENTROPY;
    }
    return RANK_LOSS;
}

/*
 * Writes samples.csv ranked by the configured score (falling back to the loss
 * when that score is unavailable), prints the quality of every available
 * ranking when clean labels are known, and appends it to summary (JSON).
 */
static int report_rankings(const trainer *t, float *const scores[RANK_COUNT], const char *csv_path,
                           FILE *summary)
{
    int d = t->data.train->count;
    int chosen = configured_ranking(t->cfg);
    if (!scores[chosen])
        chosen = RANK_LOSS;
    if (t->is_noisy) {
        printf("\nmislabeled-sample ranking on the training set (%d samples):\n", d);
        printf("  %-18s %8s %8s %8s %7s\n", "score", "AUROC", "prec@k", "recall", "k");
    }
    fprintf(summary, "  \"rankings\": {");
    bool first = true;
    for (int r = 0; r < RANK_COUNT; r++) {
        if (!scores[r] || !t->is_noisy)
            continue;
        app_ranking_quality q;
        RT_TRY(app_ranking_evaluate(scores[r], t->is_noisy, d, t->cfg->uncertainty.top_k, &q));
        printf("  %-18s %8.4f %8.4f %8.4f %7d%s\n", rank_names[r], q.auroc, q.precision_at_k,
               q.recall_at_k, q.k, r == chosen ? "   (ranking written to samples.csv)" : "");
        fprintf(summary,
                "%s\n    \"%s\": {\"auroc\": %.6f, \"precision_at_k\": %.6f, "
                "\"recall_at_k\": %.6f, \"k\": %d, \"positives\": %d}",
                first ? "" : ",", rank_names[r], q.auroc, q.precision_at_k, q.recall_at_k, q.k,
                q.positives);
        first = false;
    }
    fprintf(summary, "%s},\n  \"ranking\": \"%s\"", first ? "" : "\n  ", rank_names[chosen]);

    int32_t *order = malloc((size_t)d * sizeof *order);
    if (!order)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    int st = app_ranking_order(scores[chosen], d, order);
    app_atomic_file csv;
    if (st == RT_OK)
        st = app_atomic_open(&csv, csv_path);
    if (st != RT_OK) {
        free(order);
        return st;
    }
    fprintf(csv.stream, "rank,index,source,given_label,clean_label,is_mislabeled");
    for (int r = 0; r < RANK_COUNT; r++)
        if (scores[r])
            fprintf(csv.stream, ",%s", rank_names[r]);
    fprintf(csv.stream, "\n");
    for (int i = 0; i < d; i++) {
        int idx = order[i];
        char source[512];
        app_dataset_describe(t->data.train, idx, source, sizeof source);
        for (char *c = source; *c; c++)
            if (*c == ',' || *c == '\n')
                *c = ' ';
        int clean = t->data.train->clean_labels ? t->data.train->clean_labels[idx] : -1;
        fprintf(csv.stream, "%d,%d,%s,%d,%d,%d", i + 1, idx, source, t->data.train->labels[idx],
                clean, t->is_noisy ? t->is_noisy[idx] : -1);
        for (int r = 0; r < RANK_COUNT; r++)
            if (scores[r])
                fprintf(csv.stream, ",%.6g", scores[r][idx]);
        fprintf(csv.stream, "\n");
    }
    free(order);
    return app_atomic_commit(&csv);
}

/* Fills the loss, probability and (when mined) data-uncertainty scores of the last epoch. */
static int training_scores(trainer *t, float *scores[RANK_COUNT], float *buf)
{
    int d = t->data.train->count;
    float *loss = buf, *pred = buf + d, *prob = buf + 2 * d, *seen = buf + 3 * d;
    RT_TRY(read_sample_arrays(t, loss, pred, prob, seen));
    for (int i = 0; i < d; i++) {
        prob[i] = seen[i] > 0 ? 1.0f - prob[i] : NAN; /* low probability of the label = suspect */
        if (seen[i] <= 0)
            loss[i] = NAN;
    }
    scores[RANK_LOSS] = loss;
    scores[RANK_PROB_GIVEN] = prob;
    if (t->mining) {
        float *unc = buf + 4 * d;
        int *count = (int *)(buf + 5 * d);
        RT_TRY(alum_read_data_uncertainty(t->method, unc, count));
        scores[RANK_DATA_UNCERTAINTY] = unc;
    }
    return RT_OK;
}

/* ---- setting up and tearing down ---- */

static void trainer_free(trainer *t)
{
    app_loader_destroy(t->loader);
    app_sampler_free(t->sampler);
    free_batch_buffers(t);
    rt_tensor_free(&t->stats);
    rt_tensor_free(&t->sample_loss);
    rt_tensor_free(&t->sample_pred);
    rt_tensor_free(&t->sample_prob);
    rt_tensor_free(&t->sample_seen);
    nn_optim_free(t->opt);
    alum_free(t->method);
    nn_resnet_free(t->net);
    app_datasets_free(&t->data);
    free(t->is_noisy);
    free(t->records);
    free(t->config_yaml);
    rt_context_free(t->ctx);
    memset(t, 0, sizeof *t);
}

static int config_to_yaml(const app_config *cfg, char **out)
{
    size_t size = 0;
    FILE *f = open_memstream(out, &size);
    if (!f)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory writing the config");
    int st = app_config_write_yaml(cfg, f);
    fclose(f);
    return st;
}

static int setup_model(trainer *t)
{
    const app_config *cfg = t->cfg;
    nn_resnet_config rc;
    app_resnet_config_from(cfg, cfg->data.num_classes, &rc);
    RT_TRY(nn_resnet_create(t->ctx, &rc, &t->net));
    RT_TRY(nn_resnet_init_weights(t->net, (uint64_t)cfg->run.seed));
    if (cfg->model.pretrained[0]) {
        nn_weights_options wo = {.skip_mismatched_prefix = "fc."};
        nn_weights_report report = {0};
        int st = nn_checkpoint_load_weights(t->ctx, cfg->model.pretrained, nn_resnet_params(t->net),
                                            &wo, &report);
        if (st != RT_OK)
            return rt_wrap_error(st, "model.pretrained");
        for (int i = 0; i < report.skipped_count; i++)
            printf("pretrained: kept the new initialisation of %s\n", report.skipped[i]);
        nn_weights_report_free(&report);
    }
    app_apply_decay_policy(cfg, nn_resnet_params(t->net));
    alum_config ac;
    app_alum_config_from(cfg, &ac);
    RT_TRY(alum_create(t->ctx, &ac, &t->method));
    RT_TRY(alum_attach(t->method, t->net));
    t->mining = ac.method == ALUM_METHOD_ALUM &&
                (ac.adversarial_positive || ac.adversarial_negative || ac.triplet);
    if (t->mining)
        RT_TRY(alum_track_data_uncertainty(t->method, t->data.train->count));
    nn_optim_config oc;
    app_optim_config_from(cfg, &oc);
    RT_TRY(nn_optim_create(t->ctx, nn_resnet_params(t->net), &oc, &t->opt));
    int two[1] = {2};
    RT_TRY(rt_tensor_alloc(t->ctx, &t->stats, "batch.stats", RT_F32, 1, two));
    return alloc_sample_arrays(t, t->data.train->count);
}

static int setup_loader(trainer *t)
{
    const app_config *cfg = t->cfg;
    const app_dataset *train = t->data.train;
    uint64_t seed = (uint64_t)cfg->run.seed;
    if (cfg->data.sampler == APP_SAMPLER_TYPE_PK)
        RT_TRY(app_sampler_create_pk(train->labels, train->count, train->num_classes,
                                     cfg->data.pk_classes, cfg->data.pk_samples, seed,
                                     &t->sampler));
    else
        RT_TRY(app_sampler_create_shuffle(train->count, seed, &t->sampler));
    app_loader_config lc = {0};
    lc.batch_size = cfg->data.sampler == APP_SAMPLER_TYPE_PK
                        ? cfg->data.pk_classes * cfg->data.pk_samples
                        : cfg->data.batch_size;
    lc.num_threads = cfg->data.workers > 0 ? cfg->data.workers : 1;
    lc.queue_depth = 2 * lc.num_threads + 2;
    lc.drop_last = cfg->data.drop_last;
    lc.seed = seed;
    app_augment_from_config(cfg, 3, true, &lc.augment);
    RT_TRY(app_loader_create(train, t->sampler, &lc, &t->loader));
    t->steps_per_epoch = (int)app_loader_epoch_batches(t->loader);
    if (t->steps_per_epoch <= 0)
        return rt_set_error(RT_ERR_INVALID,
                            "the training set (%d images) gives no full batch of %d; lower "
                            "data.batch_size or set data.drop_last=false",
                            train->count, lc.batch_size);
    app_schedule_config_from(cfg, t->steps_per_epoch, &t->schedule);
    return nn_schedule_validate(&t->schedule);
}

static int setup_noise_flags(trainer *t)
{
    const app_dataset *train = t->data.train;
    if (!train->clean_labels)
        return RT_OK;
    t->is_noisy = malloc((size_t)train->count);
    if (!t->is_noisy)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < train->count; i++)
        t->is_noisy[i] = train->labels[i] != train->clean_labels[i];
    return RT_OK;
}

static int setup_run_dir(trainer *t)
{
    snprintf(t->run_dir, sizeof t->run_dir, "%s", t->cfg->run.output_dir);
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", t->run_dir);
    RT_TRY(app_mkdirs(t->run_dir));
    RT_TRY(app_mkdirs(t->ckpt_dir));
    char path[1200];
    snprintf(path, sizeof path, "%s/config.yaml", t->run_dir);
    app_atomic_file f;
    RT_TRY(app_atomic_open(&f, path));
    fputs(t->config_yaml, f.stream);
    return app_atomic_commit(&f);
}

static int trainer_setup(trainer *t, const app_config *cfg, const app_run_options *options,
                         bool training)
{
    memset(t, 0, sizeof *t);
    t->cfg = cfg;
    t->options = options;
    t->best_acc = -1;
    t->records = calloc(MAX_EPOCH_RECORDS, sizeof *t->records);
    if (!t->records)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    RT_TRY(config_to_yaml(cfg, &t->config_yaml));
    RT_TRY(rt_context_create(&t->ctx, cfg->device.selector[0] ? cfg->device.selector : NULL));
    char device[1024];
    rt_context_describe(t->ctx, device, sizeof device);
    printf("device: %s\n", device);
    RT_TRY(app_datasets_open(cfg, &t->data));
    RT_TRY(setup_noise_flags(t));
    RT_TRY(setup_model(t));
    if (training) {
        RT_TRY(setup_run_dir(t));
        RT_TRY(setup_loader(t));
    }
    return RT_OK;
}

static void print_startup_table(const trainer *t)
{
    const app_config *cfg = t->cfg;
    const nn_param_list *params = nn_resnet_params(t->net);
    printf("\n%-22s %s\n", "config", t->options->config_path ? t->options->config_path : "-");
    printf("%-22s %s\n", "run directory", t->run_dir);
    printf("%-22s %s\n", "method", app_config_enum_name("method.name", cfg->method.name));
    printf("%-22s %s, %s stem, width %.3g, %d classes\n", "model",
           app_config_enum_name("model.arch", cfg->model.arch),
           app_config_enum_name("model.stem", cfg->model.stem), cfg->model.width,
           cfg->data.num_classes);
    printf("%-22s %zu\n", "parameters", nn_param_list_numel(params));
    printf("%-22s %s\n", "data", t->data.description);
    if (t->data.noise_rate >= 0)
        printf("%-22s %.2f%% of training labels differ from the clean labels\n", "label noise",
               100.0 * t->data.noise_rate);
    else
        printf("%-22s unknown (no clean labels)\n", "label noise");
    printf("%-22s %d, %d steps per epoch, %d epochs\n", "batch size",
           cfg->data.sampler == APP_SAMPLER_TYPE_PK ? cfg->data.pk_classes * cfg->data.pk_samples
                                                    : cfg->data.batch_size,
           t->steps_per_epoch, cfg->run.epochs);
    printf("%-22s %s, lr %g, weight decay %g, schedule %s\n", "optimiser",
           app_config_enum_name("optim.name", cfg->optim.name), cfg->optim.lr,
           cfg->optim.weight_decay, app_config_enum_name("schedule.type", cfg->schedule.type));
    printf("%-22s %lld\n\n", "seed", cfg->run.seed);
    fflush(stdout);
}

/* ---- the train command ---- */

static int finish_epoch(trainer *t, double triplet_mean, char *last_good, size_t last_good_size)
{
    const app_config *cfg = t->cfg;
    epoch_record *r = &t->records[t->n_records];
    memset(r, 0, sizeof *r);
    r->epoch = t->epoch + 1;
    r->lr = nn_schedule_lr(&t->schedule, t->epoch, 0);
    r->triplet_loss = triplet_mean;
    RT_TRY(epoch_train_stats(t, r));
    if (!isfinite(r->train_loss))
        return diverged(t, r->train_loss, r->lr, last_good);
    r->test_loss = r->test_acc = NAN;
    bool last_epoch = t->epoch + 1 == cfg->run.epochs;
    if ((cfg->run.eval_every > 0 && (t->epoch + 1) % cfg->run.eval_every == 0) || last_epoch) {
        RT_TRY(evaluate(t, t->data.test, &r->test_loss, &r->test_acc));
        r->evaluated = 1;
    }
    r->seconds = now_seconds() - t->epoch_start;
    r->data_wait = t->epoch_wait;
    t->n_records++;
    printf("epoch %d/%d done: train loss %.4f acc %.2f%%", r->epoch, cfg->run.epochs, r->train_loss,
           r->train_acc);
    if (t->is_noisy)
        printf(" (clean %.2f%%, mislabeled: fits given %.2f%%, predicts true %.2f%%)",
               r->train_acc_clean, r->train_acc_noisy_given, r->train_acc_noisy_true);
    if (r->evaluated)
        printf("  test loss %.4f acc %.2f%%", r->test_loss, r->test_acc);
    printf("  %.1f s\n", r->seconds);
    fflush(stdout);

    bool best = r->evaluated && r->test_acc > t->best_acc;
    if (best) {
        t->best_acc = r->test_acc;
        t->best_epoch = r->epoch;
    }
    bool save = last_epoch ||
                (cfg->run.checkpoint_every > 0 && (t->epoch + 1) % cfg->run.checkpoint_every == 0);
    if (save)
        RT_TRY(save_rotating_checkpoint(t, t->epoch + 1, last_good, last_good_size));
    if (best) {
        char path[1200];
        snprintf(path, sizeof path, "%s/best.ckpt", t->ckpt_dir);
        RT_TRY(save_checkpoint(t, path, t->epoch + 1));
    }
    return write_metrics(t);
}

static int write_summary(trainer *t)
{
    int d = t->data.train->count;
    float *buf = malloc((size_t)d * 6 * sizeof(float));
    if (!buf)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    float *scores[RANK_COUNT] = {0};
    int st = training_scores(t, scores, buf);
    char path[1200], csv_path[1200];
    snprintf(path, sizeof path, "%s/summary.json", t->run_dir);
    snprintf(csv_path, sizeof csv_path, "%s/samples.csv", t->run_dir);
    app_atomic_file f;
    if (st == RT_OK)
        st = app_atomic_open(&f, path);
    if (st != RT_OK) {
        free(buf);
        return st;
    }
    const epoch_record *last = t->n_records ? &t->records[t->n_records - 1] : NULL;
    fprintf(f.stream, "{\n  \"method\": \"%s\",\n  \"seed\": %lld,\n  \"epochs\": %d,\n",
            app_config_enum_name("method.name", t->cfg->method.name), t->cfg->run.seed,
            t->cfg->run.epochs);
    fprintf(f.stream,
            "  \"last_test_acc\": %.4f,\n  \"best_test_acc\": %.4f,\n"
            "  \"best_epoch\": %d,\n  \"noise_rate\": %.6f,\n  \"train_samples\": %d,\n"
            "  \"seconds\": %.1f,\n",
            last ? last->test_acc : NAN, t->best_acc, t->best_epoch, t->data.noise_rate, d,
            t->run_seconds);
    st = report_rankings(t, scores, csv_path, f.stream);
    fprintf(f.stream, "\n}\n");
    free(buf);
    if (st != RT_OK) {
        app_atomic_abort(&f);
        return st;
    }
    return app_atomic_commit(&f);
}

static int run_training(trainer *t)
{
    const app_config *cfg = t->cfg;
    char last_good[1200] = "";
    if (t->options->resume)
        RT_TRY(resume_training(t, t->options->resume));
    print_startup_table(t);
    double run_start = now_seconds();
    while (t->epoch < cfg->run.epochs) {
        t->epoch_start = now_seconds();
        t->epoch_wait = 0;
        bool interrupted = false;
        double triplet_mean = NAN;
        RT_TRY(train_epoch(t, &interrupted, &triplet_mean, last_good));
        if (interrupted) {
            RT_TRY(save_rotating_checkpoint(t, t->epoch, last_good, sizeof last_good));
            return rt_set_error(RT_ERR_INTERRUPTED,
                                "interrupted at epoch %d, step %lld; wrote %s. Continue with "
                                "--resume auto",
                                t->epoch + 1, (long long)t->step, last_good);
        }
        RT_TRY(finish_epoch(t, triplet_mean, last_good, sizeof last_good));
        t->epoch++;
        if (stop_requested)
            return rt_set_error(RT_ERR_INTERRUPTED,
                                "interrupted after epoch %d; wrote %s. Continue with --resume auto",
                                t->epoch, last_good);
    }
    t->run_seconds = now_seconds() - run_start;
    const epoch_record *last = t->n_records ? &t->records[t->n_records - 1] : NULL;
    printf("\nresult: last test accuracy %.2f%% (epoch %d), best test accuracy %.2f%% "
           "(epoch %d), %.1f s\n",
           last ? last->test_acc : NAN, last ? last->epoch : 0, t->best_acc, t->best_epoch,
           t->run_seconds);
    RT_TRY(write_summary(t));
    printf("outputs in %s\n", t->run_dir);
    return RT_OK;
}

static int exit_status(int st)
{
    if (st == RT_OK)
        return 0;
    fprintf(stderr, "alumcl: error: %s\n", rt_last_error());
    if (st == RT_ERR_NUMERIC)
        return APP_EXIT_DIVERGED;
    if (st == RT_ERR_INTERRUPTED)
        return APP_EXIT_INTERRUPTED;
    return APP_EXIT_FAILURE;
}

int app_train(const app_config *cfg, const app_run_options *options)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    stop_requested = 0;

    trainer t;
    int st = trainer_setup(&t, cfg, options, true);
    if (st == RT_OK)
        st = run_training(&t);
    int code = exit_status(st);
    trainer_free(&t);
    return code;
}

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
        st = evaluate(&t, t.data.test, &loss, &acc);
    if (st == RT_OK)
        printf("test set %s: %d images, loss %.4f, accuracy %.2f%%\n", t.data.test->name,
               t.data.test->count, loss, acc);
    int code = exit_status(st);
    trainer_free(&t);
    return code;
}

/* Runs mc_passes stochastic evaluation passes over the training set (entropy, MI per sample). */
static int model_uncertainty(trainer *t, float *entropy, float *mutual_info)
{
    const app_config *cfg = t->cfg;
    int passes = cfg->uncertainty.mc_passes;
    int d = t->data.train->count, k = cfg->data.num_classes;
    int batch = cfg->data.batch_size;
    app_sampler *seq;
    RT_TRY(app_sampler_create_sequential(d, &seq));
    app_loader_config lc = {0};
    lc.batch_size = batch;
    lc.num_threads = cfg->data.workers > 0 ? cfg->data.workers : 1;
    lc.queue_depth = 2 * lc.num_threads;
    lc.seed = (uint64_t)cfg->run.seed;
    app_augment_from_config(cfg, 3, false, &lc.augment);
    app_loader *ld = NULL;
    rt_tensor all_logits = {0}, out = {0}, scratch = {0};
    int shape3[3] = {passes, batch, k}, shape2[2] = {2, batch};
    int st = app_loader_create(t->data.train, seq, &lc, &ld);
    if (st == RT_OK)
        st = rt_tensor_alloc(t->ctx, &all_logits, "mc.logits", RT_F32, 3, shape3);
    if (st == RT_OK)
        st = rt_tensor_alloc(t->ctx, &out, "mc.uncertainty", RT_F32, 2, shape2);
    if (st == RT_OK)
        st = app_loader_start_epoch(ld);
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
        st = upload_batch(t, b);
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

static int run_uncertainty(trainer *t, const app_run_options *options)
{
    const app_config *cfg = t->cfg;
    int d = t->data.train->count;
    nn_checkpoint_header header = {0};
    RT_TRY(
        nn_checkpoint_load(t->ctx, options->checkpoint, nn_resnet_params(t->net), t->opt, &header));
    int st = unpack_resume_state(t, header.rng_state, header.rng_state_size, options->checkpoint);
    nn_checkpoint_header_free(&header);
    RT_TRY(st);
    t->epoch = t->epoch > 0 ? t->epoch - 1 : 0; /* the records of the last finished epoch */
    float *buf = malloc((size_t)d * 8 * sizeof(float));
    if (!buf)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    float *scores[RANK_COUNT] = {0};
    st = training_scores(t, scores, buf);
    if (st == RT_OK && cfg->uncertainty.mc_passes > 0) {
        scores[RANK_MODEL_ENTROPY] = buf + 6 * d;
        scores[RANK_MODEL_MI] = buf + 7 * d;
        printf("model uncertainty: %d stochastic passes over %d training images\n",
               cfg->uncertainty.mc_passes, d);
        fflush(stdout);
        st = model_uncertainty(t, scores[RANK_MODEL_ENTROPY], scores[RANK_MODEL_MI]);
    }
    char dir[1024], csv_path[1200], json_path[1200];
    snprintf(dir, sizeof dir, "%s", cfg->run.output_dir);
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
        st = report_rankings(t, scores, csv_path, f.stream);
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
    int code = exit_status(st);
    trainer_free(&t);
    return code;
}
