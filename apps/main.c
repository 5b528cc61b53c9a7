/* alumcl command line: subcommand dispatch. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <string.h>

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

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "devices") == 0)
        return cmd_devices();
    fprintf(stderr, "usage: alumcl devices\n");
    return 2;
}
