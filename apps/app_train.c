/*
 * The train command: epochs, steps, metrics logs and stop signals.
 *
 * Everything in a step stays on the device: the host uploads the batch,
 * enqueues forward, loss, backward and the optimiser update, and reads back
 * two floats only on logging steps. Per-sample records (loss, prediction,
 * probability of the training label) are scattered into dataset-sized
 * device arrays and read once per epoch.
 */
#include "apps/app_trainer.h"
#include "apps/app_report.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- metrics logs ---- */

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
        app_json_number(f, "lr", r->lr, false);
        app_json_number(f, "train_loss", r->train_loss, false);
        app_json_number(f, "train_acc", r->train_acc, false);
        app_json_number(f, "train_acc_clean", r->train_acc_clean, false);
        app_json_number(f, "train_acc_noisy_given", r->train_acc_noisy_given, false);
        app_json_number(f, "train_acc_noisy_true", r->train_acc_noisy_true, false);
        app_json_number(f, "triplet_loss", r->triplet_loss, false);
        app_json_number(f, "test_loss", r->test_loss, false);
        app_json_number(f, "test_acc", r->test_acc, false);
        app_json_number(f, "seconds", r->seconds, false);
        app_json_number(f, "data_wait", r->data_wait, true);
        fprintf(f, "}\n");
    }
    return app_atomic_commit(&jsonl);
}

/* ---- per-epoch training statistics from the per-sample arrays ---- */

static int epoch_train_stats(trainer *t, epoch_record *r)
{
    int d = t->data.train->count;
    float *buf = malloc((size_t)d * 4 * sizeof(float));
    if (!buf)
        return rt_set_error(RT_ERR_NOMEM, "out of host memory");
    float *loss = buf, *pred = buf + d, *prob = buf + 2 * d, *seen = buf + 3 * d;
    int st = trainer_read_samples(t, loss, pred, prob, seen);
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

/* Adds the triplet loss tensor of this step to the epoch's device sum. */
static int accumulate_triplet(trainer *t, const rt_tensor *loss)
{
    if (!t->triplet_accum.buf) {
        int shape[1] = {(int)loss->numel};
        RT_TRY(rt_tensor_alloc(t->ctx, &t->triplet_accum, "triplet.epoch_sum", RT_F32, 1, shape));
        RT_TRY(rt_tensor_zero(&t->triplet_accum));
    }
    t->triplet_steps++;
    return nn_axpy(t->ctx, 1.0f, loss, &t->triplet_accum);
}

/* Moves the device sum of triplet losses into t->triplet_sum and zeroes it. */
static int collect_triplet(trainer *t)
{
    if (!t->triplet_accum.buf)
        return RT_OK;
    float sum;
    RT_TRY(rt_tensor_read_range(&t->triplet_accum, 0, 1, &sum));
    t->triplet_sum += sum;
    return rt_tensor_zero(&t->triplet_accum);
}

static int train_step(trainer *t, const app_batch *b, double lr, bool log_now, float *stats_out,
                      float *triplet_out)
{
    rt_context *ctx = t->ctx;
    RT_TRY(trainer_upload_batch(t, b));
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
    RT_TRY(trainer_record_samples(t, b->size));
    if (triplet_loss)
        RT_TRY(accumulate_triplet(t, triplet_loss));
    *triplet_out = 0.0f;
    if (!log_now)
        return RT_OK;
    RT_TRY(rt_tensor_read(&t->stats, stats_out));
    if (triplet_loss)
        RT_TRY(rt_tensor_read_range(triplet_loss, 0, 1, triplet_out));
    return RT_OK;
}

int trainer_diverged(const trainer *t, double loss, double lr, const char *last_good)
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
    int64_t total = t->steps_per_epoch;
    double wait_sum = 0, window_start = app_now_seconds();
    int window_images = 0, window_steps = 0;
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
                return trainer_diverged(t, stats[0], lr, last_good);
            RT_TRY(rt_finish(t->ctx));
            double elapsed = app_now_seconds() - window_start;
            printf("epoch %d/%d  step %lld/%lld  loss %.4f  acc %5.1f%%", t->epoch + 1,
                   cfg->run.epochs, (long long)(in_epoch + 1), (long long)total, stats[0],
                   100.0 * stats[1] / b->size);
            if (cfg->method.name == APP_METHOD_ALUM && cfg->method.triplet)
                printf("  triplet %.4f", triplet);
            printf("  lr %.4g  %.0f ms/step  %.1f img/s  data wait %.0f%%\n", lr,
                   1e3 * elapsed / window_steps, window_images / elapsed,
                   100.0 * window_wait / elapsed);
            fflush(stdout);
            window_start = app_now_seconds();
            window_images = window_steps = 0;
            window_wait = 0;
        }
        if (stop_requested) {
            *interrupted = true;
            break;
        }
    }
    t->epoch_wait += wait_sum;
    RT_TRY(collect_triplet(t));
    *triplet_mean = t->triplet_steps ? t->triplet_sum / (double)t->triplet_steps : NAN;
    if (!*interrupted) {
        t->triplet_sum = 0;
        t->triplet_steps = 0;
    }
    return RT_OK;
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
        return trainer_diverged(t, r->train_loss, r->lr, last_good);
    r->test_loss = r->test_acc = NAN;
    bool last_epoch = t->epoch + 1 == cfg->run.epochs;
    if ((cfg->run.eval_every > 0 && (t->epoch + 1) % cfg->run.eval_every == 0) || last_epoch) {
        RT_TRY(trainer_evaluate(t, t->data.test, &r->test_loss, &r->test_acc));
        r->evaluated = 1;
        /* running statistics can blow up while the training loss is still finite */
        if (!isfinite(r->test_loss))
            return trainer_diverged(t, r->test_loss, r->lr, last_good);
    }
    r->seconds = app_now_seconds() - t->epoch_start;
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
        RT_TRY(trainer_save_rotating(t, t->epoch + 1, last_good, last_good_size));
    if (best) {
        char path[1200];
        snprintf(path, sizeof path, "%s/best.ckpt", t->ckpt_dir);
        RT_TRY(trainer_save_checkpoint(t, path, t->epoch + 1));
    }
    return write_metrics(t);
}

static int run_training(trainer *t)
{
    const app_config *cfg = t->cfg;
    char last_good[1200] = "";
    if (t->options->resume)
        RT_TRY(trainer_resume(t, t->options->resume));
    if (t->epoch >= cfg->run.epochs && t->n_records > 0) {
        printf("the checkpoint has already finished %d epochs (run.epochs is %d); raise "
               "run.epochs to train further\n",
               t->epoch, cfg->run.epochs);
        RT_TRY(write_metrics(t));
        return trainer_write_summary(t);
    }
    trainer_print_startup(t);
    double run_start = app_now_seconds();
    while (t->epoch < cfg->run.epochs) {
        t->epoch_start = app_now_seconds();
        t->epoch_wait = 0;
        bool interrupted = false;
        double triplet_mean = NAN;
        RT_TRY(train_epoch(t, &interrupted, &triplet_mean, last_good));
        if (interrupted) {
            RT_TRY(trainer_save_rotating(t, t->epoch, last_good, sizeof last_good));
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
    t->run_seconds = app_now_seconds() - run_start;
    const epoch_record *last = t->n_records ? &t->records[t->n_records - 1] : NULL;
    printf("\nresult: last test accuracy %.2f%% (epoch %d), best test accuracy %.2f%% "
           "(epoch %d), %.1f s in this process\n",
           last ? last->test_acc : NAN, last ? last->epoch : 0, t->best_acc, t->best_epoch,
           t->run_seconds);
    RT_TRY(trainer_write_summary(t));
    printf("outputs in %s\n", t->run_dir);
    return RT_OK;
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
    int code = trainer_exit_status(st);
    trainer_free(&t);
    return code;
}
