#include "apps/app_report.h"
#include "runtime/rt_error.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void app_json_number(FILE *out, const char *key, double value, bool last)
{
    if (isfinite(value))
        fprintf(out, "\"%s\": %.6g%s", key, value, last ? "" : ", ");
    else
        fprintf(out, "\"%s\": null%s", key, last ? "" : ", ");
}

int app_atomic_open(app_atomic_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    if (strlen(path) >= sizeof f->path)
        return rt_set_error(RT_ERR_INVALID,
                            "output path is %zu bytes long, above the limit of "
                            "%zu: choose a shorter output directory",
                            strlen(path), sizeof f->path - 1);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return rt_set_error(RT_ERR_IO,
                            "%s exists and is not a regular file; choose another "
                            "output path",
                            path);
    snprintf(f->path, sizeof f->path, "%s", path);
    /* the process id keeps two writers of the same file from sharing a temporary */
    snprintf(f->tmp_path, sizeof f->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    f->stream = fopen(f->tmp_path, "w");
    if (!f->stream)
        return rt_set_error(RT_ERR_IO,
                            "cannot create %s: %s; check that the output directory is "
                            "writable",
                            f->tmp_path, strerror(errno));
    return RT_OK;
}

int app_atomic_commit(app_atomic_file *f)
{
    bool ok = fflush(f->stream) == 0 && !ferror(f->stream) && fsync(fileno(f->stream)) == 0;
    int saved = errno;
    ok = (fclose(f->stream) == 0) && ok;
    f->stream = NULL;
    if (!ok) {
        remove(f->tmp_path);
        return rt_set_error(RT_ERR_IO, "writing %s failed: %s (disk full?)", f->path,
                            strerror(saved));
    }
    if (rename(f->tmp_path, f->path) != 0) {
        saved = errno;
        remove(f->tmp_path);
        return rt_set_error(RT_ERR_IO, "renaming %s to %s failed: %s", f->tmp_path, f->path,
                            strerror(saved));
    }
    return RT_OK;
}

void app_atomic_abort(app_atomic_file *f)
{
    if (f->stream)
        fclose(f->stream);
    f->stream = NULL;
    remove(f->tmp_path);
}

int app_mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    size_t n = strlen(buf);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return rt_set_error(RT_ERR_IO,
                                "cannot create directory %s: %s; choose a writable "
                                "--output directory",
                                buf, strerror(errno));
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return rt_set_error(RT_ERR_IO, "%s exists but is not a directory", path);
    if (access(path, W_OK) != 0)
        return rt_set_error(RT_ERR_IO,
                            "output directory %s is not writable: %s; choose another "
                            "with --output",
                            path, strerror(errno));
    return RT_OK;
}

typedef struct scored {
    float score;
    int32_t index;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

static scored *sort_scores(const float *score, int n, int *finite)
{
    scored *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    if (!s)
        return NULL;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(score[i]))
            s[m++] = (scored){score[i], i};
    qsort(s, (size_t)m, sizeof *s, by_score_desc);
    *finite = m;
    for (int i = 0; i < n; i++)
        if (!isfinite(score[i]))
            s[m++] = (scored){score[i], i};
    return s;
}

int app_ranking_order(const float *score, int n, int32_t *order)
{
    int finite;
    scored *s = sort_scores(score, n, &finite);
    if (!s)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory ranking samples");
    for (int i = 0; i < n; i++)
        order[i] = s[i].index;
    free(s);
    return RT_OK;
}

int app_ranking_evaluate(const float *score, const uint8_t *is_noisy, int n, int k,
                         app_ranking_quality *out)
{
    memset(out, 0, sizeof *out);
    int finite;
    scored *s = sort_scores(score, n, &finite);
    if (!s)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory ranking samples");
    int positives = 0;
    for (int i = 0; i < finite; i++)
        positives += is_noisy[s[i].index] != 0;
    int negatives = finite - positives;
    /* AUROC by the rank-sum of positives, walking groups of tied scores from the bottom */
    double rank_sum = 0;
    int i = finite;
    while (i > 0) {
        int j = i - 1;
        while (j > 0 && s[j - 1].score == s[i - 1].score)
            j--;
        /* ranks (1-based from the bottom) of this tie group: finite - i + 1 .. finite - j */
        double mean_rank = ((double)(finite - i + 1) + (double)(finite - j)) / 2.0;
        for (int t = j; t < i; t++)
            if (is_noisy[s[t].index])
                rank_sum += mean_rank;
        i = j;
    }
    out->positives = positives;
    out->counted = finite;
    out->auroc = positives > 0 && negatives > 0 ? (rank_sum - positives * (positives + 1.0) / 2.0) /
                                                      ((double)positives * negatives)
                                                : NAN;
    out->k = k > 0 ? k : positives;
    if (out->k > finite)
        out->k = finite;
    int hits = 0;
    for (int t = 0; t < out->k; t++)
        hits += is_noisy[s[t].index] != 0;
    out->precision_at_k = out->k > 0 ? (double)hits / out->k : NAN;
    out->recall_at_k = positives > 0 ? (double)hits / positives : NAN;
    free(s);
    return RT_OK;
}
