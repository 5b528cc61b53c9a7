/* Checkpoints of a training run: packing the host-side state, rotation and resume. */
#include "apps/app_trainer.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

/* ---- checkpoints ---- */

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
    h->data_fingerprint = t->data_fingerprint;
    h->triplet_sum = t->triplet_sum;
    h->triplet_steps = t->triplet_steps;
    unsigned char *p = blob + sizeof *h;
    memcpy(p, t->records, (size_t)t->n_records * sizeof(epoch_record));
    p += (size_t)t->n_records * sizeof(epoch_record);
    float *arrays = (float *)p;
    int st = trainer_read_samples(t, arrays, arrays + d, arrays + 2 * d, arrays + 3 * d);
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

/*
 * Every failure here is RT_ERR_INVALID: the model weights are already loaded
 * when this runs, so a caller must not fall back to another checkpoint.
 */
int trainer_unpack_state(trainer *t, const void *blob, size_t size, const char *path)
{
    const resume_header *h = blob;
    size_t d = (size_t)t->data.train->count;
    if (!blob || size < sizeof *h || h->magic != RESUME_MAGIC)
        return rt_set_error(RT_ERR_INVALID,
                            "%s has no training state of this alumcl version; it cannot be "
                            "resumed (use it with --checkpoint or model.pretrained)",
                            path);
    if ((size_t)h->dataset_size != d)
        return rt_set_error(RT_ERR_INVALID,
                            "%s was trained on %d samples but this config has %zu; "
                            "resume with the config of that run",
                            path, h->dataset_size, d);
    size_t expect = sizeof *h + (size_t)h->n_records * sizeof(epoch_record) +
                    4 * d * sizeof(float) +
                    (h->has_uncertainty ? d * (sizeof(float) + sizeof(int)) : 0);
    if (size != expect || h->n_records < 0 || h->n_records > MAX_EPOCH_RECORDS)
        return rt_set_error(RT_ERR_INVALID, "training state in %s has %zu bytes, expected %zu",
                            path, size, expect);
    if (h->data_fingerprint != t->data_fingerprint)
        return rt_set_error(RT_ERR_INVALID,
                            "%s was trained on other samples or labels than this config selects "
                            "(data.root, data.label_file, data.label_set, data.train_subset, "
                            "data.subset_seed or data.noise differ); use the config of that run",
                            path);
    t->epoch = h->next_epoch;
    t->triplet_sum = h->triplet_sum;
    t->triplet_steps = h->triplet_steps;
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

int trainer_save_checkpoint(trainer *t, const char *path, int next_epoch)
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
int trainer_save_rotating(trainer *t, int next_epoch, char *path_out, size_t size)
{
    snprintf(path_out, size, "%s/ckpt-%010lld.ckpt", t->ckpt_dir, (long long)t->step);
    RT_TRY(trainer_save_checkpoint(t, path_out, next_epoch));
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

/*
 * Rejects a change of method against the run that wrote the checkpoint, and
 * prints the other config keys whose value differs.
 */
static int check_config_changes(const trainer *t, const char *path, const char *saved_yaml)
{
    app_config saved;
    if (app_config_load_buffer(&saved, path, saved_yaml, strlen(saved_yaml), NULL, 0, NULL) !=
        RT_OK)
        return RT_OK; /* written by another version: the tensor checks still apply */
    if (saved.method.name != t->cfg->method.name)
        return rt_set_error(RT_ERR_INVALID,
                            "%s was trained with method.name=%s; resuming it as %s would mix two "
                            "methods in one run. Set method.name=%s or start a new run",
                            path, app_config_enum_name("method.name", saved.method.name),
                            app_config_enum_name("method.name", t->cfg->method.name),
                            app_config_enum_name("method.name", saved.method.name));
    char diff[2048];
    if (app_config_compare(&saved, t->cfg, diff, sizeof diff) > 0)
        printf("warning: resuming with settings that differ from the run that wrote %s: %s\n", path,
               diff);
    return RT_OK;
}

static int load_training_checkpoint(trainer *t, const char *path)
{
    nn_checkpoint_header header = {0};
    RT_TRY(nn_checkpoint_load(t->ctx, path, nn_resnet_params(t->net), t->opt, &header));
    int st = trainer_unpack_state(t, header.rng_state, header.rng_state_size, path);
    if (st == RT_OK && header.metadata)
        st = check_config_changes(t, path, header.metadata);
    nn_checkpoint_header_free(&header);
    return st;
}

/* Resumes from path, or with "auto" from the newest checkpoint that loads. */
int trainer_resume(trainer *t, const char *resume)
{
    if (!resume[0])
        return rt_set_error(RT_ERR_INVALID, "--resume needs 'auto' or a checkpoint path");
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
        int st = load_training_checkpoint(t, path);
        if (st == RT_OK) {
            printf("resumed from %s at epoch %d, step %lld\n", path, t->epoch + 1,
                   (long long)t->step);
            free_names(names, count);
            return RT_OK;
        }
        /* another config is no reason to fall back to an older checkpoint of the same run */
        if (st == RT_ERR_INVALID) {
            free_names(names, count);
            return st;
        }
        fprintf(stderr, "warning: skipping checkpoint %s: %s\n", path, rt_last_error());
    }
    free_names(names, count);
    printf("no checkpoint to resume in %s; starting a new run\n", t->ckpt_dir);
    return RT_OK;
}
