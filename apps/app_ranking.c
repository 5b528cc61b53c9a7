/* Mislabeled-sample rankings and the end-of-run summary. */
#include "apps/app_trainer.h"
#include "apps/app_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- mislabeled-sample rankings ---- */

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
static bool has_finite(const float *score, int n)
{
    for (int i = 0; score && i < n; i++)
        if (isfinite(score[i]))
            return true;
    return false;
}

int trainer_report_rankings(const trainer *t, float *const scores[RANK_COUNT], const char *csv_path,
                            FILE *summary)
{
    int d = t->data.train->count;
    int chosen = configured_ranking(t->cfg);
    if (!has_finite(scores[chosen], d)) {
        if (chosen != RANK_LOSS)
            printf("note: %s scores are unavailable for this run (the method did not compute "
                   "them), so samples are ranked by loss\n",
                   rank_names[chosen]);
        chosen = RANK_LOSS;
    }
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
               q.recall_at_k, q.k, r == chosen ? "   (order of the ranked CSV)" : "");
        fprintf(summary, "%s\n    \"%s\": {", first ? "" : ",", rank_names[r]);
        app_json_number(summary, "auroc", q.auroc, false);
        app_json_number(summary, "precision_at_k", q.precision_at_k, false);
        app_json_number(summary, "recall_at_k", q.recall_at_k, false);
        fprintf(summary, "\"k\": %d, \"positives\": %d}", q.k, q.positives);
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
        for (int r = 0; r < RANK_COUNT; r++) {
            if (!scores[r])
                continue;
            /* the score of prob_given is 1 - p; the CSV shows p itself */
            float value = r == RANK_PROB_GIVEN ? 1.0f - scores[r][idx] : scores[r][idx];
            fprintf(csv.stream, ",%.6g", value);
        }
        fprintf(csv.stream, "\n");
    }
    free(order);
    return app_atomic_commit(&csv);
}

/* Fills the loss, probability and (when mined) data-uncertainty scores of the last epoch. */
int trainer_training_scores(trainer *t, float *scores[RANK_COUNT], float *buf)
{
    int d = t->data.train->count;
    float *loss = buf, *pred = buf + d, *prob = buf + 2 * d, *seen = buf + 3 * d;
    RT_TRY(trainer_read_samples(t, loss, pred, prob, seen));
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

int trainer_write_summary(trainer *t)
{
    int d = t->data.train->count;
    float *buf = malloc((size_t)d * 6 * sizeof(float));
    if (!buf)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    float *scores[RANK_COUNT] = {0};
    int st = trainer_training_scores(t, scores, buf);
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
            app_config_enum_name("method.name", t->cfg->method.name), t->cfg->run.seed, t->epoch);
    double seconds = 0;
    for (int i = 0; i < t->n_records; i++)
        seconds += t->records[i].seconds;
    fprintf(f.stream, "  ");
    app_json_number(f.stream, "last_test_acc", last ? last->test_acc : NAN, false);
    app_json_number(f.stream, "best_test_acc", t->best_acc >= 0 ? t->best_acc : NAN, false);
    fprintf(f.stream, "\"best_epoch\": %d,\n  ", t->best_epoch);
    app_json_number(f.stream, "noise_rate", t->data.noise_rate >= 0 ? t->data.noise_rate : NAN,
                    false);
    fprintf(f.stream, "\"train_samples\": %d,\n  ", d);
    app_json_number(f.stream, "seconds", seconds, false);
    fprintf(f.stream, "\n");
    st = trainer_report_rankings(t, scores, csv_path, f.stream);
    fprintf(f.stream, "\n}\n");
    free(buf);
    if (st != RT_OK) {
        app_atomic_abort(&f);
        return st;
    }
    return app_atomic_commit(&f);
}
