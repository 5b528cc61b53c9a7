/*
 * Datasets: one interface over every supported on-disk format.
 *
 * A dataset has a sample count, a class count, the labels used for training
 * (possibly noisy), the clean labels when they are known, and a function that
 * decodes sample i into an HWC uint8 image. Loading an image is thread-safe:
 * the loader calls app_dataset_load from several threads at once.
 *
 * Usage:
 *     app_dataset *ds = NULL;
 *     if (app_cifar_open("data/cifar-10-batches-bin", 10, 1, &ds) != RT_OK)
 *         fprintf(stderr, "%s\n", rt_last_error());
 *     app_image img = {0};
 *     app_dataset_load(ds, 0, &img);   // 32x32x3
 *     app_image_free(&img);
 *     app_dataset_free(ds);
 */
#ifndef ALUMCL_APP_DATA_H
#define ALUMCL_APP_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "apps/app_image.h"

typedef struct app_dataset app_dataset;

/* Per-format operations; a reader fills these in. */
typedef struct {
    /* Decodes sample index into out (which the caller frees with app_image_free). */
    int (*load)(const app_dataset *ds, int32_t index, app_image *out);
    /* Writes a short description of where sample index comes from (a path) into buf. */
    void (*describe)(const app_dataset *ds, int32_t index, char *buf, size_t size);
    /* Releases the reader's private state. */
    void (*destroy)(app_dataset *ds);
} app_dataset_ops;

struct app_dataset {
    char name[64];         /* "cifar10-train", "pacs:art_painting_train_kfold.txt", ... */
    int32_t count;         /* number of samples */
    int32_t num_classes;   /* labels are in [0, num_classes) */
    int32_t channels;      /* channels after app_dataset_load: 1 or 3 */
    int32_t *labels;       /* [count] labels used for training (possibly noisy), owned */
    int32_t *clean_labels; /* [count] clean labels, or NULL when unknown, owned */
    const app_dataset_ops *ops;
    void *impl; /* reader state */
};

/* Decodes sample index (0 <= index < count); gray images become RGB when ds->channels is 3. */
int app_dataset_load(const app_dataset *ds, int32_t index, app_image *out);

/* Writes where sample index comes from ("root/art_painting/dog/pic_001.jpg") into buf. */
void app_dataset_describe(const app_dataset *ds, int32_t index, char *buf, size_t size);

/* Frees the dataset, its labels and its reader state; NULL is allowed. */
void app_dataset_free(app_dataset *ds);

/*
 * Replaces the training labels with a copy of labels[count] (count must equal
 * ds->count, and every label must be in [0, num_classes)). When the dataset has
 * no clean labels yet, the previous training labels become the clean labels.
 * source names the labels in error messages.
 */
int app_dataset_set_labels(app_dataset *ds, const int32_t *labels, int32_t count,
                           const char *source);

/*
 * CIFAR binary version. dir holds data_batch_1..5.bin and test_batch.bin
 * (classes 10) or train.bin and test.bin (classes 100, records with a coarse
 * then a fine label byte; the fine label is used). train selects the split.
 * The files are read into memory once. Every file must contain the official
 * record count (10,000, or 50,000 for CIFAR-100 train.bin), so a truncated
 * file that still ends on a record boundary is rejected.
 */
int app_cifar_open(const char *dir, int classes, int train, app_dataset **out);

/* Same as app_cifar_open for CIFAR-100 but with the 20 coarse labels. */
int app_cifar100_coarse_open(const char *dir, int train, app_dataset **out);

/* Flags of app_cifar_open_flags. */
enum {
    APP_CIFAR_COARSE = 1u << 0,        /* CIFAR-100 with the 20 coarse labels */
    APP_CIFAR_ALLOW_PARTIAL = 1u << 1, /* accept any positive number of whole records per file,
                                          for small test fixtures (data.allow_partial_cifar) */
};

/* app_cifar_open with flags, a bitwise OR of APP_CIFAR_COARSE and APP_CIFAR_ALLOW_PARTIAL. */
int app_cifar_open_flags(const char *dir, int classes, int train, unsigned flags,
                         app_dataset **out);

/*
 * A JPEG pack: bin_path holds JPEG files end to end, and index_csv has the
 * header "index,label,offset,length,..." with one row per image in index order.
 * classes gives num_classes.
 */
int app_jpgpack_open(const char *bin_path, const char *index_csv, int classes, app_dataset **out);

/*
 * A list file of "relative/path.jpg label" lines (PACS *_kfold.txt, or any
 * similar list). Paths are relative to root. Labels in the file are
 * label_base .. label_base + classes - 1 (PACS uses base 1, classes 7).
 */
int app_list_open(const char *root, const char *list_path, int label_base, int classes,
                  app_dataset **out);

/* PACS: app_list_open with labels 1..7 (dog, elephant, giraffe, guitar, horse, house, person). */
int app_pacs_open(const char *root, const char *list_path, app_dataset **out);

/*
 * RAF-DB basic. root holds EmoLabel/list_patition_label.txt (that spelling)
 * and Image/aligned/. train selects lines starting with "train_" or "test_".
 * Labels 1..7 become 0..6. When noisy_list is not NULL, it gives the training
 * labels in the same "train_00001.jpg 5" format and must cover every training
 * line; the file's labels then become the clean labels.
 */
int app_rafdb_open(const char *root, int train, const char *noisy_list, app_dataset **out);

/*
 * Office-Home domain folder: root/domain/<ClassName>/<file>. The label is the
 * index of the class folder in the byte-wise sorted list of this domain's
 * class folders. Two domains therefore get the same labels only when they
 * have the same class folders. Check that with app_officehome_check_classes,
 * or open them with app_officehome_open_domains.
 */
int app_officehome_open(const char *root, const char *domain, app_dataset **out);

/*
 * Opens Office-Home domain folder root/domain like app_officehome_open, but
 * the label of a class folder is its index in the byte-wise sorted union of
 * the class folders of root/domains[0..n_domains). Opening every domain with
 * the same domains list gives every domain the same labels and num_classes,
 * even when a domain lacks a class folder. A class folder of domain that is in
 * none of the listed domains is an error.
 */
int app_officehome_open_domains(const char *root, const char *domain, const char *const *domains,
                                int n_domains, app_dataset **out);

/*
 * Checks that two Office-Home datasets have the same class folders, so their
 * labels mean the same classes. Returns RT_ERR_FORMAT naming the first class
 * folder that one has and the other lacks, and RT_ERR_INVALID when a dataset
 * is not an Office-Home domain.
 */
int app_officehome_check_classes(const app_dataset *a, const app_dataset *b);

/*
 * Checks up front that every image of a list, RAF-DB or Office-Home dataset
 * exists as a regular file (one stat per image), so a missing image is found
 * at open time and not when the loader reaches it. Returns RT_ERR_NOT_FOUND
 * naming the count of missing images and the first 5 with their list line
 * numbers. Datasets whose samples are not separate files (CIFAR, JPEG packs,
 * IDX, digits, subsets and ranges) return RT_OK without checking, so call it
 * on the base dataset.
 */
int app_dataset_check_files(const app_dataset *ds);

/*
 * IDX files (MNIST, Fashion-MNIST): uint8 images [n][rows][cols] and uint8
 * labels [n], plain or gzip-compressed. When a path does not exist, path.gz
 * is read instead.
 */
int app_idx_open(const char *images_path, const char *labels_path, app_dataset **out);

/* scikit-learn digits.csv.gz: 1797 rows of 64 pixels (0..16, scaled to 0..255) and a label. */
int app_digits_open(const char *csv_gz_path, app_dataset **out);

/* How app_dataset_subset picks its samples. */
typedef enum {
    APP_SUBSET_FIRST = 0,  /* the first k samples */
    APP_SUBSET_RANDOM = 1, /* k samples drawn without replacement from the seed, kept in order */
    APP_SUBSET_STRATIFIED = 2, /* like RANDOM but with k / num_classes per class (+1 for the
                                  first k % num_classes classes, capped by class size) */
} app_subset_mode;

/*
 * Creates a view of k samples of base (labels copied, images loaded from base).
 * base must outlive the subset. Free the subset with app_dataset_free.
 */
int app_dataset_subset(const app_dataset *base, int32_t k, app_subset_mode mode, uint64_t seed,
                       app_dataset **out);

/*
 * Creates a view of the count samples of base from index first on, in order
 * (labels copied, images loaded from base). base must outlive the view. Free
 * the view with app_dataset_free.
 */
int app_dataset_range(const app_dataset *base, int32_t first, int32_t count, app_dataset **out);

/* Returns the fraction of samples whose training label differs from the clean label (-1 if none).
 */
double app_dataset_noise_rate(const app_dataset *ds);

#endif
