#include "apps/app_setup.h"
#include "apps/app_data_internal.h"
#include "apps/app_noise.h"
#include "apps/app_pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- concatenation of datasets (PACS and Office-Home source domains) ---- */

typedef struct concat_impl {
    app_dataset **parts;
    int n_parts;
    int32_t *offsets; /* [n_parts + 1] */
} concat_impl;

static int concat_locate(const app_dataset *ds, int32_t index, int32_t *local)
{
    const concat_impl *c = ds->impl;
    int part = 0;
    while (part + 1 < c->n_parts && index >= c->offsets[part + 1])
        part++;
    *local = index - c->offsets[part];
    return part;
}

static int concat_load(const app_dataset *ds, int32_t index, app_image *out)
{
    int32_t local;
    int part = concat_locate(ds, index, &local);
    return app_dataset_load(((const concat_impl *)ds->impl)->parts[part], local, out);
}

static void concat_describe(const app_dataset *ds, int32_t index, char *buf, size_t size)
{
    int32_t local;
    int part = concat_locate(ds, index, &local);
    app_dataset_describe(((const concat_impl *)ds->impl)->parts[part], local, buf, size);
}

static void concat_destroy(app_dataset *ds)
{
    concat_impl *c = ds->impl;
    if (c)
        free(c->offsets);
    free(c);
}

static const app_dataset_ops concat_ops = {concat_load, concat_describe, concat_destroy};

/* Creates a dataset visiting parts in order; the parts stay owned by the caller. */
static int concat_open(const char *name, app_dataset **parts, int n_parts, app_dataset **out)
{
    concat_impl *c = calloc(1, sizeof *c);
    if (!c)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory joining datasets");
    c->offsets = calloc((size_t)n_parts + 1, sizeof *c->offsets);
    if (!c->offsets) {
        free(c);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory joining datasets");
    }
    c->parts = parts;
    c->n_parts = n_parts;
    int32_t total = 0;
    bool all_clean = true;
    for (int i = 0; i < n_parts; i++) {
        c->offsets[i] = total;
        total += parts[i]->count;
        all_clean = all_clean && parts[i]->clean_labels;
        if (parts[i]->num_classes != parts[0]->num_classes)
            return rt_set_error(RT_ERR_INVALID, "dataset %s has %d classes but %s has %d",
                                parts[i]->name, parts[i]->num_classes, parts[0]->name,
                                parts[0]->num_classes);
    }
    c->offsets[n_parts] = total;
    int st = app_dataset_new(name, total, parts[0]->num_classes, parts[0]->channels, &concat_ops, c,
                             out);
    if (st != RT_OK) {
        free(c->offsets);
        free(c);
        return st;
    }
    for (int i = 0; i < n_parts; i++)
        memcpy((*out)->labels + c->offsets[i], parts[i]->labels,
               (size_t)parts[i]->count * sizeof(int32_t));
    if (all_clean) {
        (*out)->clean_labels = malloc((size_t)total * sizeof(int32_t));
        if ((*out)->clean_labels)
            for (int i = 0; i < n_parts; i++)
                memcpy((*out)->clean_labels + c->offsets[i], parts[i]->clean_labels,
                       (size_t)parts[i]->count * sizeof(int32_t));
    }
    return RT_OK;
}

/* ---- opening datasets by kind ---- */

static int add_part(app_datasets *d, app_dataset *ds)
{
    app_dataset **grown = realloc(d->parts, (size_t)(d->n_parts + 1) * sizeof *grown);
    if (!grown) {
        app_dataset_free(ds);
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    }
    d->parts = grown;
    d->parts[d->n_parts++] = ds;
    return RT_OK;
}

static const char *const pacs_domains[] = {"art_painting", "cartoon", "photo", "sketch"};

static bool domain_is_training(const app_data_config *data, const char *domain)
{
    if (strcmp(domain, data->target_domain) == 0)
        return false;
    if (data->n_domains == 0)
        return true;
    for (int i = 0; i < data->n_domains; i++)
        if (strcmp(data->domains[i], domain) == 0)
            return true;
    return false;
}

static int open_pacs(const app_config *cfg, app_datasets *d)
{
    const app_data_config *data = &cfg->data;
    const char *split_dir = data->split_dir[0] ? data->split_dir : data->root;
    bool known = false;
    for (int i = 0; i < 4; i++)
        known = known || strcmp(pacs_domains[i], data->target_domain) == 0;
    if (!known)
        return rt_set_error(RT_ERR_INVALID,
                            "data.target_domain '%s' is not a PACS domain; use art_painting, "
                            "cartoon, photo or sketch",
                            data->target_domain);
    int first = d->n_parts;
    for (int i = 0; i < 4; i++) {
        if (!domain_is_training(data, pacs_domains[i]))
            continue;
        char list[1200];
        snprintf(list, sizeof list, "%s/%s_train_kfold.txt", split_dir, pacs_domains[i]);
        app_dataset *part;
        RT_TRY(app_pacs_open(data->root, list, &part));
        RT_TRY(add_part(d, part));
        RT_TRY(app_dataset_check_files(part));
    }
    int n_train = d->n_parts - first;
    if (n_train == 0)
        return rt_set_error(RT_ERR_INVALID, "data.domains leaves no PACS training domain");
    RT_TRY(concat_open("pacs-train", d->parts + first, n_train, &d->train_base));
    char list[1200];
    snprintf(list, sizeof list, "%s/%s_test_kfold.txt", split_dir, data->target_domain);
    RT_TRY(app_pacs_open(data->root, list, &d->test_base));
    return app_dataset_check_files(d->test_base);
}

static int open_officehome(const app_config *cfg, app_datasets *d)
{
    static const char *const domains[] = {"Art", "Clipart", "Product", "Real_World"};
    const app_data_config *data = &cfg->data;
    int first = d->n_parts;
    for (int i = 0; i < 4; i++) {
        if (!domain_is_training(data, domains[i]))
            continue;
        app_dataset *part;
        RT_TRY(app_officehome_open_domains(data->root, domains[i], domains, 4, &part));
        RT_TRY(add_part(d, part));
        RT_TRY(app_dataset_check_files(part));
    }
    if (d->n_parts == first)
        return rt_set_error(RT_ERR_INVALID, "data.domains leaves no Office-Home training domain");
    RT_TRY(concat_open("officehome-train", d->parts + first, d->n_parts - first, &d->train_base));
    RT_TRY(app_officehome_open_domains(data->root, data->target_domain, domains, 4, &d->test_base));
    return app_dataset_check_files(d->test_base);
}

static int open_cifar(const app_config *cfg, app_datasets *d, int classes, bool human_labels)
{
    const app_data_config *data = &cfg->data;
    unsigned flags = data->allow_partial_cifar ? APP_CIFAR_ALLOW_PARTIAL : 0;
    RT_TRY(app_cifar_open_flags(data->root, classes, 1, flags, &d->train_base));
    RT_TRY(app_cifar_open_flags(data->root, classes, 0, flags, &d->test_base));
    if (!human_labels)
        return RT_OK;
    if (!data->label_file[0])
        return rt_set_error(RT_ERR_INVALID,
                            "data.label_file is empty; set it to the CIFAR-N label file "
                            "(CIFAR-10_human.pt, CIFAR-100_human.pt or a CSV copy)");
    const char *set = data->label_set[0] ? data->label_set : (classes == 10 ? "worse" : "noisy");
    int32_t *labels = NULL;
    RT_TRY(app_cifarn_read(data->label_file, set, classes, &labels));
    int st = app_dataset_set_labels(d->train_base, labels, APP_CIFARN_COUNT, data->label_file);
    free(labels);
    return st;
}

static int open_base(const app_config *cfg, app_datasets *d)
{
    const app_data_config *data = &cfg->data;
    switch (data->dataset) {
    case APP_DATASET_CIFAR10:
        return open_cifar(cfg, d, 10, false);
    case APP_DATASET_CIFAR100:
        return open_cifar(cfg, d, 100, false);
    case APP_DATASET_CIFAR10N:
        return open_cifar(cfg, d, 10, true);
    case APP_DATASET_CIFAR100N:
        return open_cifar(cfg, d, 100, true);
    case APP_DATASET_PACS:
        return open_pacs(cfg, d);
    case APP_DATASET_OFFICEHOME:
        return open_officehome(cfg, d);
    case APP_DATASET_RAFDB:
        RT_TRY(app_rafdb_open(data->root, 1, data->label_file[0] ? data->label_file : NULL,
                              &d->train_base));
        RT_TRY(app_dataset_check_files(d->train_base));
        RT_TRY(app_rafdb_open(data->root, 0, NULL, &d->test_base));
        return app_dataset_check_files(d->test_base);
    case APP_DATASET_IDX: {
        char img[1200], lab[1200], timg[1200], tlab[1200];
        snprintf(img, sizeof img, "%s/train-images-idx3-ubyte", data->root);
        snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte", data->root);
        snprintf(timg, sizeof timg, "%s/t10k-images-idx3-ubyte", data->root);
        snprintf(tlab, sizeof tlab, "%s/t10k-labels-idx1-ubyte", data->root);
        RT_TRY(app_idx_open(img, lab, &d->train_base));
        return app_idx_open(timg, tlab, &d->test_base);
    }
    case APP_DATASET_DIGITS: {
        /* the digits set has no official split: the first 1,500 rows train, the rest test */
        app_dataset *all;
        RT_TRY(app_digits_open(data->root, &all));
        RT_TRY(add_part(d, all));
        if (all->count <= 1500)
            return rt_set_error(RT_ERR_FORMAT,
                                "%s has %d rows; the digits split needs more than "
                                "1500",
                                data->root, all->count);
        RT_TRY(app_dataset_range(all, 0, 1500, &d->train_base));
        return app_dataset_range(all, 1500, all->count - 1500, &d->test_base);
    }
    }
    return rt_set_error(RT_ERR_INVALID, "data.dataset %d is not supported", (int)data->dataset);
}

int app_datasets_open(const app_config *cfg, app_datasets *d)
{
    memset(d, 0, sizeof *d);
    d->noise_rate = -1;
    const app_data_config *data = &cfg->data;
    RT_TRY(open_base(cfg, d));
    if (d->train_base->num_classes != data->num_classes)
        return rt_set_error(RT_ERR_INVALID,
                            "data.num_classes is %d but the training set %s has %d classes; set "
                            "data.num_classes=%d",
                            data->num_classes, d->train_base->name, d->train_base->num_classes,
                            d->train_base->num_classes);
    d->train = d->train_base;
    d->test = d->test_base;
    if (data->train_subset >= d->train_base->count)
        fprintf(stderr,
                "warning: data.train_subset %d is not below the %d training images; "
                "using all of them\n",
                data->train_subset, d->train_base->count);
    if (data->test_subset >= d->test_base->count)
        fprintf(stderr,
                "warning: data.test_subset %d is not below the %d test images; "
                "using all of them\n",
                data->test_subset, d->test_base->count);
    if (data->train_subset > 0 && data->train_subset < d->train_base->count) {
        app_subset_mode mode = data->subset_seed < 0 ? APP_SUBSET_FIRST : APP_SUBSET_RANDOM;
        RT_TRY(app_dataset_subset(d->train_base, data->train_subset, mode,
                                  (uint64_t)data->subset_seed, &d->train));
    }
    if (data->test_subset > 0 && data->test_subset < d->test_base->count)
        RT_TRY(app_dataset_subset(d->test_base, data->test_subset, APP_SUBSET_STRATIFIED, 0,
                                  &d->test));
    if (data->noise.type != APP_NOISE_NONE && data->noise.rate > 0) {
        int32_t *labels = malloc((size_t)d->train->count * sizeof *labels);
        if (!labels)
            return rt_set_error(RT_ERR_NOMEM, "out of host memory");
        memcpy(labels, d->train->labels, (size_t)d->train->count * sizeof *labels);
        double realised = 0;
        int st = app_noise_apply(labels, d->train->count, d->train->num_classes,
                                 (app_noise_kind)data->noise.type, data->noise.rate,
                                 (uint64_t)data->noise.seed, NULL, &realised);
        if (st == RT_OK)
            st = app_dataset_set_labels(d->train, labels, d->train->count, "synthetic noise");
        free(labels);
        RT_TRY(st);
    }
    d->noise_rate = app_dataset_noise_rate(d->train);
    snprintf(d->description, sizeof d->description, "train %s: %d images, test %s: %d images",
             d->train->name, d->train->count, d->test->name, d->test->count);
    return RT_OK;
}

void app_datasets_free(app_datasets *d)
{
    if (d->train != d->train_base)
        app_dataset_free(d->train);
    if (d->test != d->test_base)
        app_dataset_free(d->test);
    app_dataset_free(d->train_base);
    app_dataset_free(d->test_base);
    for (int i = 0; i < d->n_parts; i++)
        app_dataset_free(d->parts[i]);
    free(d->parts);
    memset(d, 0, sizeof *d);
}

/* ---- translating config sections ---- */

void app_augment_from_config(const app_config *cfg, int channels, bool train,
                             app_augment_config *out)
{
    const app_augment_settings *a = &cfg->data.augment;
    int size = cfg->data.image_size;
    app_augment_defaults(out, size, size);
    out->out_channels = channels;
    if (a->resize > 0) {
        out->resize_w = a->resize;
        out->resize_h = a->resize;
    }
    for (int c = 0; c < 3; c++) {
        out->mean[c] = (float)a->mean[c < a->n_mean ? c : 0];
        out->std[c] = (float)a->std[c < a->n_std ? c : 0];
    }
    if (!train) {
        /* evaluation: the configured resize, then a resize to the output size; no randomness */
        return;
    }
    out->random_crop = a->random_crop;
    out->crop_pad = a->crop_padding;
    out->random_resized_crop = a->random_resized_crop;
    out->rrc_scale_min = (float)a->rrc_scale_min;
    out->translate_frac = (float)a->translate;
    out->flip_prob = a->hflip ? 0.5f : 0.0f;
    out->erase_prob = (float)a->random_erasing;
}

void app_resnet_config_from(const app_config *cfg, int num_classes, nn_resnet_config *out)
{
    static const int depths[] = {18, 34, 50};
    out->depth = depths[cfg->model.arch];
    out->stem = cfg->model.stem == APP_STEM_CIFAR ? NN_STEM_CIFAR : NN_STEM_IMAGENET;
    out->width = (float)cfg->model.width;
    out->num_classes = num_classes;
    out->in_channels = 3;
}

void app_alum_config_from(const app_config *cfg, alum_config *out)
{
    const app_method_config *m = &cfg->method;
    alum_config_default(out);
    out->method = m->name == APP_METHOD_ERM   ? ALUM_METHOD_ERM
                  : m->name == APP_METHOD_DSU ? ALUM_METHOD_DSU
                                              : ALUM_METHOD_ALUM;
    out->lc_points = app_config_lc_mask(cfg);
    out->adversarial_positive = m->ap;
    out->adversarial_negative = m->an;
    out->triplet = m->triplet;
    out->variance_mode = m->variance_mode == APP_VARIANCE_BATCH_UNION ? ALUM_VARIANCE_BATCH_UNION
                                                                      : ALUM_VARIANCE_PER_ANCHOR;
    out->probability = (float)m->p;
    out->eps = (float)m->eps;
    out->margin = (float)m->margin;
    out->triplet_weight = (float)m->triplet_weight;
    out->normalize_embeddings = m->normalize_embeddings;
}

void app_optim_config_from(const app_config *cfg, nn_optim_config *out)
{
    const app_optim_config *o = &cfg->optim;
    nn_optim_kind kind = o->name == APP_OPTIM_SGD    ? NN_OPTIM_SGD
                         : o->name == APP_OPTIM_ADAM ? NN_OPTIM_ADAM
                                                     : NN_OPTIM_ADAMW;
    *out = nn_optim_config_default(kind);
    out->weight_decay = (float)o->weight_decay;
    out->momentum = (float)o->momentum;
    out->nesterov = o->nesterov;
    if (o->n_betas >= 2) {
        out->beta1 = (float)o->betas[0];
        out->beta2 = (float)o->betas[1];
    }
    out->eps = (float)o->eps;
    out->groups[1].lr_scale = (float)o->classifier_lr_mult;
}

void app_schedule_config_from(const app_config *cfg, int steps_per_epoch, nn_schedule_config *out)
{
    const app_schedule_config *s = &cfg->schedule;
    memset(out, 0, sizeof *out);
    static const nn_schedule_kind kinds[] = {NN_SCHEDULE_CONSTANT, NN_SCHEDULE_MULTISTEP,
                                             NN_SCHEDULE_COSINE, NN_SCHEDULE_EXPONENTIAL};
    out->kind = kinds[s->type];
    out->base_lr = cfg->optim.lr;
    out->gamma = s->gamma;
    out->milestone_count = s->n_milestones;
    /* config milestones are absolute epochs; the schedule counts them after warm-up */
    for (int i = 0; i < s->n_milestones && i < NN_SCHEDULE_MAX_MILESTONES; i++) {
        int m = s->milestones[i] - s->warmup_epochs;
        out->milestones[i] = m > 0 ? m : 0;
    }
    out->eta_min = s->eta_min;
    out->total_epochs = cfg->run.epochs;
    out->warmup_epochs = s->warmup_epochs;
    out->warmup_start_factor = s->warmup_epochs > 0 ? 1.0 / (steps_per_epoch + 1.0) : 1.0;
    out->per_step = s->per_step;
    out->steps_per_epoch = steps_per_epoch;
}

void app_apply_decay_policy(const app_config *cfg, nn_param_list *params)
{
    if (!cfg->optim.no_decay_bn_bias)
        return;
    for (int i = 0; i < params->count; i++) {
        nn_param *p = params->params[i];
        /* batch-norm weights and every bias are the 1-D parameters */
        if (p->value.ndim == 1)
            p->weight_decay = false;
    }
}
