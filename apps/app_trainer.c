/* Setting up a trainer from its config, its device buffers, and evaluation. */
#include "apps/app_trainer.h"
#include "apps/app_report.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/file.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double app_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- device buffers ---- */

void trainer_free_batch_buffers(trainer *t)
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
    trainer_free_batch_buffers(t);
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

int trainer_upload_batch(trainer *t, const app_batch *b)
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

int trainer_record_samples(trainer *t, int n)
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

int trainer_read_samples(trainer *t, float *loss, float *pred, float *prob, float *seen)
{
    RT_TRY(rt_tensor_read(&t->sample_loss, loss));
    RT_TRY(rt_tensor_read(&t->sample_pred, pred));
    RT_TRY(rt_tensor_read(&t->sample_prob, prob));
    return rt_tensor_read(&t->sample_seen, seen);
}

/* ---- evaluation ---- */

int trainer_open_eval_loader(trainer *t, const app_dataset *ds, app_sampler **sampler,
                             app_loader **loader)
{
    *loader = NULL;
    RT_TRY(app_sampler_create_sequential(ds->count, sampler));
    app_loader_config lc = {0};
    lc.batch_size = t->cfg->data.batch_size;
    lc.num_threads = t->cfg->data.workers > 0 ? t->cfg->data.workers : 1;
    lc.queue_depth = 2 * lc.num_threads;
    lc.drop_last = 0;
    lc.seed = (uint64_t)t->cfg->run.seed;
    app_augment_from_config(t->cfg, 3, false, &lc.augment);
    int st = app_loader_create(ds, *sampler, &lc, loader);
    if (st == RT_OK)
        st = app_loader_start_epoch(*loader);
    if (st != RT_OK) {
        app_loader_destroy(*loader);
        app_sampler_free(*sampler);
        *loader = NULL;
        *sampler = NULL;
    }
    return st;
}

/* Runs the test set in evaluation mode; writes mean loss and accuracy in percent. */
int trainer_evaluate(trainer *t, app_dataset *ds, double *loss_out, double *acc_out)
{
    app_sampler *seq;
    app_loader *ld;
    RT_TRY(trainer_open_eval_loader(t, ds, &seq, &ld));
    int st = RT_OK;
    double loss_sum = 0, correct = 0;
    int seen = 0;
    while (st == RT_OK) {
        const app_batch *b;
        st = app_loader_next(ld, &b, NULL);
        if (st != RT_OK || !b)
            break;
        st = trainer_upload_batch(t, b);
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

/* ---- setting up and tearing down ---- */

void trainer_free(trainer *t)
{
    app_loader_destroy(t->loader);
    app_sampler_free(t->sampler);
    trainer_free_batch_buffers(t);
    rt_tensor_free(&t->stats);
    rt_tensor_free(&t->sample_loss);
    rt_tensor_free(&t->sample_pred);
    rt_tensor_free(&t->sample_prob);
    rt_tensor_free(&t->sample_seen);
    rt_tensor_free(&t->triplet_accum);
    nn_optim_free(t->opt);
    alum_free(t->method);
    nn_resnet_free(t->net);
    app_datasets_free(&t->data);
    free(t->is_noisy);
    free(t->records);
    free(t->config_yaml);
    rt_context_free(t->ctx);
    if (t->lock_fd >= 0)
        close(t->lock_fd); /* releases the flock */
    memset(t, 0, sizeof *t);
    t->lock_fd = -1;
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

uint64_t trainer_data_fingerprint(const app_dataset *ds, const char *root)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t root_len = root ? strlen(root) : 0;
    char text[600];
    for (int32_t i = 0; i < ds->count; i++) {
        app_dataset_describe(ds, i, text, sizeof text);
        /* hash the part below the dataset root, so a moved dataset still matches */
        const char *rel = text;
        if (root_len && strncmp(text, root, root_len) == 0)
            rel = text + root_len;
        while (*rel == '/')
            rel++;
        for (const char *c = rel; *c; c++)
            h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
        int32_t labels[2] = {ds->labels[i], ds->clean_labels ? ds->clean_labels[i] : -1};
        for (size_t b = 0; b < sizeof labels; b++)
            h = (h ^ ((const unsigned char *)labels)[b]) * 0x100000001b3ull;
    }
    return h;
}

/* Takes an exclusive lock on RUN_DIR/.lock so two runs cannot share a directory. */
static int lock_run_dir(trainer *t)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/.lock", t->run_dir);
    t->lock_fd = open(path, O_RDWR | O_CREAT, 0666);
    if (t->lock_fd < 0)
        return rt_set_error(RT_ERR_IO, "cannot create %s: %s", path, strerror(errno));
    if (flock(t->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return rt_set_error(RT_ERR_IO,
                            "run directory %s is in use by another alumcl process; wait for it "
                            "or choose another --output",
                            t->run_dir);
    return RT_OK;
}

/*
 * Rejects a directory that already contains a run (a checkpoint) unless the run
 * is being resumed. A start that failed before its first checkpoint does not
 * count, so a corrected command can reuse the directory.
 */
static int check_run_dir_free(const trainer *t)
{
    if (t->options->resume)
        return RT_OK;
    DIR *dir = opendir(t->ckpt_dir);
    if (!dir)
        return RT_OK;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        found = len > 5 && strcmp(e->d_name + len - 5, ".ckpt") == 0;
    }
    closedir(dir);
    if (found)
        return rt_set_error(RT_ERR_INVALID,
                            "run directory %s already contains a run; continue it with --resume "
                            "auto, or choose another --output (or delete the directory)",
                            t->run_dir);
    return RT_OK;
}

static int setup_run_dir(trainer *t)
{
    if (!t->cfg->run.output_dir[0])
        return rt_set_error(RT_ERR_INVALID,
                            "the output directory is empty; set --output DIR or run.output_dir");
    snprintf(t->run_dir, sizeof t->run_dir, "%s", t->cfg->run.output_dir);
    snprintf(t->ckpt_dir, sizeof t->ckpt_dir, "%s/checkpoints", t->run_dir);
    RT_TRY(app_mkdirs(t->run_dir));
    RT_TRY(lock_run_dir(t));
    RT_TRY(check_run_dir_free(t));
    RT_TRY(app_mkdirs(t->ckpt_dir));
    char path[1200];
    snprintf(path, sizeof path, "%s/config.yaml", t->run_dir);
    app_atomic_file f;
    RT_TRY(app_atomic_open(&f, path));
    fputs(t->config_yaml, f.stream);
    return app_atomic_commit(&f);
}

int trainer_setup(trainer *t, const app_config *cfg, const app_run_options *options, bool training)
{
    memset(t, 0, sizeof *t);
    t->lock_fd = -1;
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
    t->data_fingerprint = trainer_data_fingerprint(t->data.train, cfg->data.root);
    RT_TRY(setup_model(t));
    if (training) {
        RT_TRY(setup_run_dir(t));
        RT_TRY(setup_loader(t));
    }
    return RT_OK;
}

void trainer_print_startup(const trainer *t)
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
    printf("%-22s %d, %d step%s per epoch, %d epoch%s\n", "batch size",
           cfg->data.sampler == APP_SAMPLER_TYPE_PK ? cfg->data.pk_classes * cfg->data.pk_samples
                                                    : cfg->data.batch_size,
           t->steps_per_epoch, t->steps_per_epoch == 1 ? "" : "s", cfg->run.epochs,
           cfg->run.epochs == 1 ? "" : "s");
    printf("%-22s %s, lr %g, weight decay %g, schedule %s\n", "optimiser",
           app_config_enum_name("optim.name", cfg->optim.name), cfg->optim.lr,
           cfg->optim.weight_decay, app_config_enum_name("schedule.type", cfg->schedule.type));
    printf("%-22s %lld\n\n", "seed", cfg->run.seed);
    fflush(stdout);
}

int trainer_exit_status(int st)
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
