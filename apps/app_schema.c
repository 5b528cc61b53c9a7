/*
 * The config key table and the help printer. The loader, the YAML writer,
 * the comparison and the help text all read this table, so adding a key
 * means adding a field to app_config and one row here.
 */
#include "apps/app_schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(app_dataset_kind) == sizeof(int), "enum keys are stored as int");
_Static_assert(sizeof(app_noise_kind) == sizeof(int), "enum keys are stored as int");
_Static_assert(sizeof(app_sampler_type) == sizeof(int), "enum keys are stored as int");
_Static_assert(sizeof(app_ranking) == sizeof(int), "enum keys are stored as int");

#define FIELD_OFFSET(field) offsetof(app_config, field)
#define FIELD_SIZE(field) sizeof(((app_config *)0)->field)
#define FIELD_COUNT(field) (FIELD_SIZE(field) / sizeof(((app_config *)0)->field[0]))

#define ANY_VALUE                                                                                  \
    {                                                                                              \
        0, 0.0, 0.0                                                                                \
    }
#define AT_LEAST(lo)                                                                               \
    {                                                                                              \
        APP_RANGE_MIN, (lo), 0.0                                                                   \
    }
#define ABOVE(lo)                                                                                  \
    {                                                                                              \
        APP_RANGE_MIN | APP_RANGE_MIN_OPEN, (lo), 0.0                                              \
    }
#define BETWEEN(lo, hi)                                                                            \
    {                                                                                              \
        APP_RANGE_MIN | APP_RANGE_MAX, (lo), (hi)                                                  \
    }
#define ABOVE_AT_MOST(lo, hi)                                                                      \
    {                                                                                              \
        APP_RANGE_MIN | APP_RANGE_MIN_OPEN | APP_RANGE_MAX, (lo), (hi)                             \
    }
#define AT_LEAST_BELOW(lo, hi)                                                                     \
    {                                                                                              \
        APP_RANGE_MIN | APP_RANGE_MAX | APP_RANGE_MAX_OPEN, (lo), (hi)                             \
    }

#define KEY_INT(p, f, d, r, desc)                                                                  \
    {                                                                                              \
        .path = p, .type = APP_KEY_INT, .offset = FIELD_OFFSET(f), .default_text = d, .range = r,  \
        .description = desc                                                                        \
    }
#define KEY_INT64(p, f, d, r, desc)                                                                \
    {                                                                                              \
        .path = p, .type = APP_KEY_INT64, .offset = FIELD_OFFSET(f), .default_text = d,            \
        .range = r, .description = desc                                                            \
    }
#define KEY_FLOAT(p, f, d, r, desc)                                                                \
    {                                                                                              \
        .path = p, .type = APP_KEY_FLOAT, .offset = FIELD_OFFSET(f), .default_text = d,            \
        .range = r, .description = desc                                                            \
    }
#define KEY_BOOL(p, f, d, desc)                                                                    \
    {                                                                                              \
        .path = p, .type = APP_KEY_BOOL, .offset = FIELD_OFFSET(f), .default_text = d,             \
        .description = desc                                                                        \
    }
#define KEY_STRING(p, f, d, c, desc)                                                               \
    {                                                                                              \
        .path = p, .type = APP_KEY_STRING, .offset = FIELD_OFFSET(f), .capacity = FIELD_SIZE(f),   \
        .default_text = d, .choices = c, .description = desc                                       \
    }
#define KEY_ENUM(p, f, d, c, desc)                                                                 \
    {                                                                                              \
        .path = p, .type = APP_KEY_ENUM, .offset = FIELD_OFFSET(f), .default_text = d,             \
        .choices = c, .description = desc                                                          \
    }
#define KEY_LIST(t, p, f, nf, d, r, c, minc, maxc, desc)                                           \
    {                                                                                              \
        .path = p, .type = t, .offset = FIELD_OFFSET(f), .count_offset = FIELD_OFFSET(nf),         \
        .capacity = FIELD_COUNT(f), .min_count = minc, .max_count = maxc, .default_text = d,       \
        .range = r, .choices = c, .description = desc                                              \
    }

/* Enum names, in the order of the C enum values of app_config.h and app_noise.h. */
static const char *const dataset_names[] = {"cifar10", "cifar100",   "cifar10n", "cifar100n",
                                            "pacs",    "officehome", "rafdb",    "idx",
                                            "digits",  NULL};
static const char *const sampler_names[] = {"shuffle", "pk", NULL};
static const char *const noise_names[] = {"none", "symmetric", "pairflip", NULL};
static const char *const arch_names[] = {"resnet18", "resnet34", "resnet50", NULL};
static const char *const stem_names[] = {"imagenet", "cifar", NULL};
static const char *const optimizer_names[] = {"sgd", "adam", "adamw", NULL};
static const char *const schedule_names[] = {"constant", "multistep", "cosine", "exponential",
                                             NULL};
static const char *const method_names[] = {"erm", "dsu", "alum", NULL};
static const char *const variance_names[] = {"per_anchor", "batch_union", NULL};
static const char *const ranking_names[] = {"data_uncertainty", "loss", "prob_given",
                                            "model_entropy", NULL};

/* Allowed values of string keys. */
static const char *const label_set_names[] = {"",        "clean",   "aggre",   "worse", "worst",
                                              "random1", "random2", "random3", "noisy", NULL};
static const char *const insertion_point_names[] = {"P0", "P1", "P2", "P3", "P4", "P5", NULL};

const app_key app_keys[] = {
    /* run */
    KEY_STRING("run.name", run.name, "\"\"", NULL,
               "Run name; empty means the config file name without .yaml (\"default\" without a "
               "file)."),
    KEY_INT64("run.seed", run.seed, "0", AT_LEAST(0),
              "Seed of weight initialisation, sampling and augmentation."),
    KEY_INT("run.epochs", run.epochs, "1", BETWEEN(1, 100000), "Number of training epochs."),
    KEY_STRING("run.output_dir", run.output_dir, "\"runs/<name>\"", NULL,
               "Run directory; every \"<name>\" in it is replaced by run.name."),
    KEY_INT("run.log_every", run.log_every, "20", AT_LEAST(1),
            "Training steps between two progress lines."),
    KEY_INT("run.checkpoint_every", run.checkpoint_every, "1", AT_LEAST(0),
            "Epochs between checkpoints; 0 writes only the final checkpoint."),
    KEY_INT("run.keep_last", run.keep_last, "2", AT_LEAST(1),
            "Number of most recent checkpoints kept on disk."),
    KEY_INT("run.eval_every", run.eval_every, "1", AT_LEAST(0),
            "Epochs between test-set evaluations; 0 evaluates only after the last epoch."),

    /* device */
    KEY_STRING("device.selector", device.selector, "\"\"", NULL,
               "OpenCL device, same syntax as --device; empty selects the default device."),

    /* data */
    KEY_ENUM("data.dataset", data.dataset, "cifar10n", dataset_names,
             "Dataset to train and test on."),
    KEY_STRING("data.root", data.root, "\"\"", NULL,
               "Dataset root directory; for digits the digits.csv.gz file."),
    KEY_STRING("data.label_file", data.label_file, "\"\"", NULL,
               "Label file: CIFAR-N .pt or .csv, or a RAF-DB noisy training list."),
    KEY_STRING("data.label_set", data.label_set, "\"\"", label_set_names,
               "Label set of the label file. CIFAR-10N: clean, aggre, worse, worst (the CIFAR-N "
               "paper's name for worse), random1-3. CIFAR-100N: clean, noisy. RAF-DB: noisy. "
               "Empty uses the dataset's own labels."),
    KEY_STRING("data.split_dir", data.split_dir, "\"\"", NULL,
               "Directory of the PACS <domain>_{train,crossval,test}_kfold.txt files; empty "
               "means data.root."),
    KEY_INT("data.train_subset", data.train_subset, "0", AT_LEAST(0),
            "Number of training images used: a random subset drawn with subset_seed, or the "
            "first ones when subset_seed is -1; 0 uses all of them."),
    KEY_INT64("data.subset_seed", data.subset_seed, "0", AT_LEAST(-1),
              "Seed of the random choice of train_subset images; -1 takes the first ones."),
    KEY_INT("data.test_subset", data.test_subset, "0", AT_LEAST(0),
            "Number of test images used, a stratified subset (the same number per class, seed "
            "0); 0 uses all of them."),
    KEY_LIST(APP_KEY_STRING_LIST, "data.domains", data.domains, data.n_domains, "[]", ANY_VALUE,
             NULL, 0, APP_CONFIG_LIST_MAX,
             "Training domains of PACS or Office-Home; empty means every domain except "
             "target_domain."),
    KEY_STRING("data.target_domain", data.target_domain, "\"\"", NULL,
               "Held-out test domain of PACS or Office-Home."),
    KEY_INT("data.image_size", data.image_size, "32", BETWEEN(8, 1024),
            "Side length in pixels of the network input."),
    KEY_INT("data.num_classes", data.num_classes, "10", BETWEEN(2, 100000),
            "Number of classes of the classifier."),
    KEY_INT("data.batch_size", data.batch_size, "128", BETWEEN(2, 65536),
            "Training images per step."),
    KEY_INT("data.workers", data.workers, "2", BETWEEN(0, 31),
            "Loader threads decoding and augmenting images; 0 loads on the training thread. "
            "The loader queues 2 * workers + 2 batches, at most 64."),
    KEY_ENUM("data.sampler", data.sampler, "shuffle", sampler_names,
             "Batch sampler: a shuffled epoch, or pk_classes classes x pk_samples images per "
             "batch."),
    KEY_INT("data.pk_classes", data.pk_classes, "8", AT_LEAST(1),
            "Classes per batch of the pk sampler."),
    KEY_INT("data.pk_samples", data.pk_samples, "4", AT_LEAST(1),
            "Images per class in a batch of the pk sampler."),
    KEY_BOOL("data.drop_last", data.drop_last, "true",
             "Drop the last incomplete training batch of an epoch."),
    KEY_BOOL("data.allow_partial_cifar", data.allow_partial_cifar, "false",
             "Accept CIFAR binary files with fewer records than the official 10,000 (50,000 for "
             "CIFAR-100 train.bin), for small test fixtures."),

    /* data.noise */
    KEY_ENUM("data.noise.type", data.noise.type, "none", noise_names,
             "Synthetic noise applied to the training labels after loading: symmetric flips to a "
             "uniformly drawn other class, pairflip flips class c to c + 1."),
    KEY_FLOAT("data.noise.rate", data.noise.rate, "0.0", BETWEEN(0.0, 1.0),
              "Fraction of training labels flipped."),
    KEY_INT64("data.noise.seed", data.noise.seed, "0", AT_LEAST(0),
              "Seed of the synthetic label noise."),

    /* data.augment */
    KEY_BOOL("data.augment.random_crop", data.augment.random_crop, "true",
             "Random crop of image_size after zero padding by crop_padding."),
    KEY_INT("data.augment.crop_padding", data.augment.crop_padding, "4", BETWEEN(0, 512),
            "Zero padding in pixels on each side before the random crop."),
    KEY_INT("data.augment.resize", data.augment.resize, "0", BETWEEN(0, 4096),
            "Side length in pixels images are resized to before augmentation; 0 keeps the "
            "stored size."),
    KEY_FLOAT("data.augment.translate", data.augment.translate, "0.0", AT_LEAST_BELOW(0.0, 1.0),
              "Maximum random shift in each direction, as a fraction of the side length."),
    KEY_BOOL("data.augment.random_resized_crop", data.augment.random_resized_crop, "false",
             "Random resized crop to image_size (area fraction from rrc_scale_min to 1)."),
    KEY_FLOAT("data.augment.rrc_scale_min", data.augment.rrc_scale_min, "0.08",
              ABOVE_AT_MOST(0.0, 1.0), "Minimum area fraction of the random resized crop."),
    KEY_BOOL("data.augment.hflip", data.augment.hflip, "true",
             "Random horizontal flip with probability 0.5."),
    KEY_FLOAT("data.augment.random_erasing", data.augment.random_erasing, "0.0", BETWEEN(0.0, 1.0),
              "Probability of erasing one random rectangle of the normalised image."),
    KEY_LIST(APP_KEY_FLOAT_LIST, "data.augment.mean", data.augment.mean, data.augment.n_mean,
             "[0.4914, 0.4822, 0.4465]", ANY_VALUE, NULL, 3, 3,
             "Per-channel mean (R, G, B) subtracted from pixels in [0, 1]."),
    KEY_LIST(APP_KEY_FLOAT_LIST, "data.augment.std", data.augment.std, data.augment.n_std,
             "[0.2470, 0.2435, 0.2616]", ABOVE(0.0), NULL, 3, 3,
             "Per-channel standard deviation (R, G, B) dividing the centred pixels."),

    /* model */
    KEY_ENUM("model.arch", model.arch, "resnet18", arch_names, "Backbone architecture."),
    KEY_ENUM("model.stem", model.stem, "cifar", stem_names,
             "Stem: imagenet (7x7 stride-2 convolution and max-pool) or cifar (3x3 stride-1, no "
             "max-pool)."),
    KEY_FLOAT("model.width", model.width, "1.0", ABOVE_AT_MOST(0.0, 4.0),
              "Channel multiplier of every layer (1 = the standard ResNet widths)."),
    KEY_STRING("model.pretrained", model.pretrained, "\"\"", NULL,
               "Checkpoint whose backbone weights initialise the model; empty means random "
               "initialisation."),

    /* optim */
    KEY_ENUM("optim.name", optim.name, "sgd", optimizer_names, "Optimizer."),
    KEY_FLOAT("optim.lr", optim.lr, "0.1", ABOVE(0.0), "Base learning rate."),
    KEY_FLOAT("optim.momentum", optim.momentum, "0.9", AT_LEAST_BELOW(0.0, 1.0), "SGD momentum."),
    KEY_BOOL("optim.nesterov", optim.nesterov, "false", "Nesterov momentum for SGD."),
    KEY_FLOAT("optim.weight_decay", optim.weight_decay, "5e-4", AT_LEAST(0.0),
              "L2 weight decay (decoupled for adamw)."),
    KEY_FLOAT("optim.classifier_lr_mult", optim.classifier_lr_mult, "1.0", ABOVE(0.0),
              "Learning-rate multiplier of the final linear layer."),
    KEY_LIST(APP_KEY_FLOAT_LIST, "optim.betas", optim.betas, optim.n_betas, "[0.9, 0.999]",
             AT_LEAST_BELOW(0.0, 1.0), NULL, 2, 2, "Adam and AdamW beta1 and beta2."),
    KEY_FLOAT("optim.eps", optim.eps, "1e-8", ABOVE(0.0), "Adam and AdamW epsilon."),
    KEY_BOOL("optim.no_decay_bn_bias", optim.no_decay_bn_bias, "false",
             "Exclude batch-norm parameters and biases from weight decay."),
    KEY_FLOAT("optim.label_smoothing", optim.label_smoothing, "0.0", AT_LEAST_BELOW(0.0, 1.0),
              "Label smoothing of the cross-entropy loss."),

    /* schedule */
    KEY_ENUM("schedule.type", schedule.type, "multistep", schedule_names,
             "Learning-rate schedule: constant, multistep (x gamma at each milestone), cosine "
             "(to eta_min at the last epoch) or exponential (x gamma every epoch)."),
    KEY_LIST(APP_KEY_INT_LIST, "schedule.milestones", schedule.milestones, schedule.n_milestones,
             "[]", AT_LEAST(1), NULL, 0, APP_CONFIG_LIST_MAX,
             "Epochs at which multistep multiplies the learning rate by gamma, increasing."),
    KEY_FLOAT("schedule.gamma", schedule.gamma, "0.1", ABOVE_AT_MOST(0.0, 1.0),
              "Decay factor of multistep and exponential."),
    KEY_FLOAT("schedule.eta_min", schedule.eta_min, "0.0", AT_LEAST(0.0),
              "Final learning rate of cosine."),
    KEY_INT("schedule.warmup_epochs", schedule.warmup_epochs, "0", AT_LEAST(0),
            "Epochs of linear warm-up from 0 to the base learning rate."),
    KEY_BOOL("schedule.per_step", schedule.per_step, "false",
             "Update the learning rate every step instead of every epoch."),

    /* method */
    KEY_ENUM("method.name", method.name, "erm", method_names,
             "Training method: erm (cross-entropy only), dsu (feature-statistics perturbation at "
             "every insertion point) or alum."),
    KEY_FLOAT("method.p", method.p, "0.5", BETWEEN(0.0, 1.0),
              "Probability that a perturbation module is active in a training forward pass."),
    KEY_FLOAT("method.eps", method.eps, "1e-6", ABOVE(0.0),
              "Constant added inside the square root of every variance."),
    KEY_LIST(APP_KEY_STRING_LIST, "method.lc_points", method.lc_points, method.n_lc_points,
             "[P0, P1, P2, P3, P4]", ANY_VALUE, insertion_point_names, 0, 6,
             "ALUM latent compensation (LC) insertion points: P0 after the stem convolution, P1 "
             "after the max-pool (absent in the cifar stem), P2-P5 after layer1-layer4."),
    KEY_BOOL("method.ap", method.ap, "true",
             "ALUM adversarial positives (AP) in the P5 data-uncertainty scales."),
    KEY_BOOL("method.an", method.an, "true",
             "ALUM adversarial negatives (AN) in the P5 data-uncertainty scales."),
    KEY_BOOL("method.triplet", method.triplet, "true", "ALUM batch-hard triplet loss (T)."),
    KEY_ENUM("method.variance_mode", method.variance_mode, "batch_union", variance_names,
             "P5 scales: batch_union (per channel, over the anchor, AP and AN batches; the "
             "default, which tested better) or per_anchor (per sample, over its triplet)."),
    KEY_FLOAT("method.margin", method.margin, "0.3", AT_LEAST(0.0), "Triplet-loss margin."),
    KEY_FLOAT("method.triplet_weight", method.triplet_weight, "1.0", AT_LEAST(0.0),
              "Weight of the triplet loss added to the cross-entropy."),
    KEY_BOOL("method.normalize_embeddings", method.normalize_embeddings, "true",
             "L2-normalise embeddings before mining and the triplet loss."),

    /* uncertainty */
    KEY_INT("uncertainty.mc_passes", uncertainty.mc_passes, "10", BETWEEN(1, 10000),
            "Stochastic forward passes for model uncertainty."),
    KEY_ENUM("uncertainty.ranking", uncertainty.ranking, "loss", ranking_names,
             "Score ranking training samples as likely mislabeled; the default, the last-epoch "
             "loss, gave the highest AUROC on CIFAR-10N worse (docs/results.md)."),
    KEY_INT("uncertainty.top_k", uncertainty.top_k, "0", AT_LEAST(0),
            "Length of the ranked list; 0 uses the estimated number of noisy samples."),
};

const size_t app_key_count = sizeof app_keys / sizeof app_keys[0];

const app_key *app_key_find(const char *path)
{
    for (size_t i = 0; i < app_key_count; i++) {
        if (strcmp(app_keys[i].path, path) == 0)
            return &app_keys[i];
    }
    return NULL;
}

bool app_section_exists(const char *path)
{
    size_t len = strlen(path);
    if (len == 0)
        return false;
    for (size_t i = 0; i < app_key_count; i++) {
        if (strncmp(app_keys[i].path, path, len) == 0 && app_keys[i].path[len] == '.')
            return true;
    }
    return false;
}

/* Levenshtein distance, capped at 64 characters per string (longer tails are ignored). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strnlen(a, 64), lb = strnlen(b, 64);
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diagonal + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}

static const char *last_component(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

/* A suggestion is shown when at most a third of the name (and at least 2 edits) differs. */
static size_t suggestion_threshold(const char *name)
{
    size_t third = strlen(name) / 3;
    return third > 2 ? third : 2;
}

const char *app_key_suggest(const char *path)
{
    const char *best = NULL;
    size_t best_score = (size_t)-1;
    const char *name = last_component(path);
    for (size_t i = 0; i < app_key_count; i++) {
        /* a key under another section with the same or a similar name also counts */
        size_t full = edit_distance(path, app_keys[i].path);
        size_t leaf = edit_distance(name, last_component(app_keys[i].path)) + 1;
        size_t score = full < leaf ? full : leaf;
        if (score < best_score) {
            best_score = score;
            best = app_keys[i].path;
        }
    }
    return best_score <= suggestion_threshold(name) ? best : NULL;
}

const char *app_choice_suggest(const char *const *choices, const char *text)
{
    const char *best = NULL;
    size_t best_score = (size_t)-1;
    for (size_t i = 0; choices[i]; i++) {
        if (choices[i][0] == '\0')
            continue;
        size_t score = edit_distance(text, choices[i]);
        if (score < best_score) {
            best_score = score;
            best = choices[i];
        }
    }
    return best && best_score <= suggestion_threshold(text) ? best : NULL;
}

const char *app_key_type_name(const app_key *key)
{
    switch (key->type) {
    case APP_KEY_INT:
    case APP_KEY_INT64:
        return "int";
    case APP_KEY_FLOAT:
        return "float";
    case APP_KEY_BOOL:
        return "bool";
    case APP_KEY_STRING:
        return "string";
    case APP_KEY_ENUM:
        return "enum";
    case APP_KEY_INT_LIST:
        return "int list";
    case APP_KEY_FLOAT_LIST:
        return "float list";
    case APP_KEY_STRING_LIST:
        return "string list";
    }
    return "?";
}

static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= size)
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf + used, size - used, fmt, args);
    va_end(args);
}

static void describe_choices(const char *const *choices, char *buf, size_t size)
{
    append(buf, size, "one of ");
    for (size_t i = 0; choices[i]; i++) {
        if (i > 0)
            append(buf, size, ", ");
        append(buf, size, "%s", choices[i][0] ? choices[i] : "\"\"");
    }
}

static void describe_numbers(const app_range *range, char *buf, size_t size)
{
    bool has_min = range->flags & APP_RANGE_MIN;
    bool has_max = range->flags & APP_RANGE_MAX;
    if (has_min && has_max) {
        append(buf, size, range->flags & APP_RANGE_MIN_OPEN ? "in (%g, " : "in [%g, ", range->min);
        append(buf, size, range->flags & APP_RANGE_MAX_OPEN ? "%g)" : "%g]", range->max);
    } else if (has_min) {
        append(buf, size, range->flags & APP_RANGE_MIN_OPEN ? "> %g" : ">= %g", range->min);
    } else if (has_max) {
        append(buf, size, range->flags & APP_RANGE_MAX_OPEN ? "< %g" : "<= %g", range->max);
    }
}

void app_key_describe_range(const app_key *key, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    bool is_list = key->type == APP_KEY_INT_LIST || key->type == APP_KEY_FLOAT_LIST ||
                   key->type == APP_KEY_STRING_LIST;
    if (is_list) {
        if (key->min_count == key->max_count)
            append(buf, size, "exactly %d elements", key->min_count);
        else if (key->min_count > 0)
            append(buf, size, "%d to %d elements", key->min_count, key->max_count);
        else
            append(buf, size, "at most %d elements", key->max_count);
        if (key->range.flags || key->choices)
            append(buf, size, ", each ");
    }
    if (key->choices)
        describe_choices(key->choices, buf, size);
    else
        describe_numbers(&key->range, buf, size);
}

static void print_markdown_cell(FILE *out, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (*c == '|')
            fputs("\\|", out);
        else if (*c == '<')
            fputs("&lt;", out);
        else if (*c == '>')
            fputs("&gt;", out);
        else
            fputc(*c, out);
    }
}

static void print_markdown(FILE *out)
{
    char section[128] = "";
    for (size_t i = 0; i < app_key_count; i++) {
        const app_key *key = &app_keys[i];
        const char *dot = strrchr(key->path, '.');
        size_t section_len = (size_t)(dot - key->path);
        if (strlen(section) != section_len || strncmp(section, key->path, section_len) != 0) {
            snprintf(section, sizeof section, "%.*s", (int)section_len, key->path);
            fprintf(out, "%s### `%s`\n\n", i > 0 ? "\n" : "", section);
            fputs("| key | type | default | allowed | description |\n", out);
            fputs("|---|---|---|---|---|\n", out);
        }
        char range[512];
        app_key_describe_range(key, range, sizeof range);
        fprintf(out, "| `%s` | %s | `%s` | ", key->path, app_key_type_name(key), key->default_text);
        print_markdown_cell(out, range);
        fputs(" | ", out);
        print_markdown_cell(out, key->description);
        fputs(" |\n", out);
    }
}

void app_config_print_help(FILE *out, bool markdown)
{
    if (markdown) {
        print_markdown(out);
        return;
    }
    fputs("Config keys (set in a YAML file, or override with section.key=value):\n\n", out);
    for (size_t i = 0; i < app_key_count; i++) {
        const app_key *key = &app_keys[i];
        char range[512];
        app_key_describe_range(key, range, sizeof range);
        fprintf(out, "  %s (%s, default %s%s%s)\n      %s\n", key->path, app_key_type_name(key),
                key->default_text, range[0] ? ", " : "", range, key->description);
    }
}
