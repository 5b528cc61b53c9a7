/* alumcl command line: parses the subcommand and its options, then runs it. */
#include "apps/app_config.h"
#include "apps/app_train.h"
#include "runtime/rt_clblast.h"
#include "runtime/runtime.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: alumcl COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  train CONFIG [KEY=VALUE ...] [--device SEL] [--output DIR] [--resume auto|PATH]\n"
    "        [--print-config]      train as the YAML config says; KEY=VALUE overrides a key\n"
    "                              (e.g. optim.lr=0.01) and beats the file\n"
    "  eval CONFIG --checkpoint PATH [KEY=VALUE ...] [--device SEL]\n"
    "                              test-set loss and accuracy of a checkpoint\n"
    "  uncertainty CONFIG --checkpoint PATH [KEY=VALUE ...] [--device SEL] [--csv FILE]\n"
    "        [--output DIR]        rank training samples by how likely their label is wrong;\n"
    "                              writes uncertainty.csv and .json to DIR (default: the\n"
    "                              checkpoint's run directory, or the checkpoint's folder)\n"
    "  devices                     list OpenCL platforms and devices\n"
    "  tune-gemm [--device SEL] [--fraction F]\n"
    "                              tune CLBlast's GEMM for the device (clblast-utils) and store\n"
    "                              the result beside the kernel cache; F is the share of the\n"
    "                              search space tried (default 0.02)\n"
    "  config [CONFIG] [KEY=VALUE ...] [--markdown]\n"
    "                              print the resolved config, or without CONFIG (or with\n"
    "                              --help) the table of every key\n"
    "\n"
    "device selection (--device or ALUMCL_DEVICE; the flag wins): P:D (platform:device index\n"
    "from 'alumcl devices'), gpu, cpu, or part of a device name. Default: the first GPU,\n"
    "else the first CPU.\n"
    "\n"
    "environment: ALUMCL_DEVICE, ALUMCL_PROFILE=1 (per-kernel time table at exit),\n"
    "ALUMCL_CACHE_DIR, ALUMCL_CACHE=0 (kernel binary cache), ALUMCL_KERNEL_DIR (read .cl\n"
    "files from a directory instead of the embedded copies), ALUMCL_GEMM.\n";

typedef struct cli {
    const char *command;
    const char *config_path;
    const char *overrides[64];
    int n_overrides;
    const char *device;
    const char *output;
    const char *resume;
    const char *checkpoint;
    const char *csv;
    const char *fraction;
    bool print_config;
    bool markdown;
    bool help;
} cli;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "alumcl: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun 'alumcl --help' for usage\n");
    return 2;
}

static int parse_args(int argc, char **argv, cli *c)
{
    memset(c, 0, sizeof *c);
    c->command = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **value_slot = NULL;
        if (strcmp(a, "--device") == 0)
            value_slot = &c->device;
        else if (strcmp(a, "--output") == 0)
            value_slot = &c->output;
        else if (strcmp(a, "--resume") == 0)
            value_slot = &c->resume;
        else if (strcmp(a, "--checkpoint") == 0)
            value_slot = &c->checkpoint;
        else if (strcmp(a, "--csv") == 0)
            value_slot = &c->csv;
        else if (strcmp(a, "--fraction") == 0)
            value_slot = &c->fraction;
        if (value_slot) {
            if (i + 1 >= argc)
                return usage_error("option %s needs a value", a);
            *value_slot = argv[++i];
        } else if (strcmp(a, "--print-config") == 0) {
            c->print_config = true;
        } else if (strcmp(a, "--markdown") == 0) {
            c->markdown = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->help = true;
        } else if (a[0] == '-') {
            return usage_error("unknown option %s", a);
        } else if (strchr(a, '=')) {
            if (c->n_overrides == (int)(sizeof c->overrides / sizeof c->overrides[0]))
                return usage_error("too many KEY=VALUE overrides (at %s)", a);
            c->overrides[c->n_overrides++] = a;
        } else if (!c->config_path) {
            c->config_path = a;
        } else {
            return usage_error("unexpected argument %s (only one CONFIG file is allowed)", a);
        }
    }
    return 0;
}

static int load_config(const cli *c, app_config *cfg)
{
    char *errors = NULL;
    int st = app_config_load(cfg, c->config_path, c->overrides, c->n_overrides, &errors);
    if (st != RT_OK) {
        fprintf(stderr, "alumcl: invalid configuration:\n%s", errors ? errors : rt_last_error());
        if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
            fputc('\n', stderr);
        free(errors);
        return 1;
    }
    free(errors);
    const char *env_device = getenv("ALUMCL_DEVICE");
    if (c->device)
        snprintf(cfg->device.selector, sizeof cfg->device.selector, "%s", c->device);
    else if (env_device && *env_device)
        snprintf(cfg->device.selector, sizeof cfg->device.selector, "%s", env_device);
    if (c->output) {
        if (!c->output[0] || strlen(c->output) >= sizeof cfg->run.output_dir) {
            fprintf(stderr, "alumcl: --output must be a path of 1 to %zu bytes\n",
                    sizeof cfg->run.output_dir - 1);
            return 1;
        }
        snprintf(cfg->run.output_dir, sizeof cfg->run.output_dir, "%s", c->output);
    }
    return 0;
}

static int cmd_devices(void)
{
    rt_device_list list;
    if (rt_device_list_query(&list) != RT_OK) {
        fprintf(stderr, "alumcl: %s\n", rt_last_error());
        return 1;
    }
    fputs(list.warnings, stderr);
    rt_device_list_print(&list, stdout);
    rt_device_list_free(&list);
    return 0;
}

static int cmd_tune_gemm(const cli *c)
{
    double fraction = 0.02;
    if (c->fraction) {
        char *end;
        fraction = strtod(c->fraction, &end);
        if (*end || !(fraction > 0 && fraction <= 1))
            return usage_error("--fraction %s is invalid: expected a number in (0, 1]",
                               c->fraction);
    }
    /* a closed output pipe must not kill alumcl and orphan the tuner it runs */
    signal(SIGPIPE, SIG_IGN);
    rt_context *ctx;
    const char *selector = c->device ? c->device : getenv("ALUMCL_DEVICE");
    if (rt_context_create(&ctx, selector) != RT_OK) {
        fprintf(stderr, "alumcl: error: %s\n", rt_last_error());
        return 1;
    }
    char device[1024];
    rt_context_describe(ctx, device, sizeof device);
    printf("device: %s\n", device);
    int st = rt_clblast_tune(ctx, fraction, stdout);
    if (st != RT_OK)
        fprintf(stderr, "alumcl: error: %s\n", rt_last_error());
    rt_context_free(ctx);
    return st == RT_OK ? 0 : 1;
}

static int cmd_config(const cli *c)
{
    if (!c->config_path && c->n_overrides == 0) {
        app_config_print_help(stdout, c->markdown);
        return 0;
    }
    app_config cfg;
    if (load_config(c, &cfg) != 0)
        return 1;
    return app_config_write_yaml(&cfg, stdout) == RT_OK ? 0 : 1;
}

static int cmd_run(const cli *c)
{
    if (!c->config_path)
        return usage_error("%s needs a CONFIG file", c->command);
    bool needs_checkpoint = strcmp(c->command, "train") != 0;
    if (needs_checkpoint && !c->checkpoint)
        return usage_error("%s needs --checkpoint PATH", c->command);
    app_config cfg;
    if (load_config(c, &cfg) != 0)
        return 1;
    if (c->print_config) {
        app_config_write_yaml(&cfg, stdout);
        return 0;
    }
    app_run_options options = {0};
    options.config_path = c->config_path;
    options.resume = c->resume;
    options.checkpoint = c->checkpoint;
    options.output_csv = c->csv;
    options.output_given = c->output != NULL;
    if (strcmp(c->command, "train") == 0)
        return app_train(&cfg, &options);
    if (strcmp(c->command, "eval") == 0)
        return app_eval(&cfg, &options);
    return app_uncertainty(&cfg, &options);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("alumcl %s\n", ALUMCL_VERSION);
        return 0;
    }
    cli c;
    int st = parse_args(argc, argv, &c);
    if (st != 0)
        return st;
    if (c.help && strcmp(c.command, "config") == 0) {
        app_config_print_help(stdout, c.markdown);
        return 0;
    }
    if (c.help) {
        fputs(usage_text, stdout);
        return 0;
    }
    bool takes_config = strcmp(c.command, "devices") != 0 && strcmp(c.command, "tune-gemm") != 0;
    if (!takes_config && (c.config_path || c.n_overrides))
        return usage_error("%s takes no CONFIG or KEY=VALUE arguments", c.command);
    if (strcmp(c.command, "devices") == 0)
        return cmd_devices();
    if (strcmp(c.command, "config") == 0)
        return cmd_config(&c);
    if (strcmp(c.command, "tune-gemm") == 0)
        return cmd_tune_gemm(&c);
    if (strcmp(c.command, "train") == 0 || strcmp(c.command, "eval") == 0 ||
        strcmp(c.command, "uncertainty") == 0)
        return cmd_run(&c);
    return usage_error("unknown command '%s'", c.command);
}
