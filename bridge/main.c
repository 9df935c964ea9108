/* SPDX-License-Identifier: Apache-2.0 */
/* lwm2m-gateway command line: parses the sub-command and options and hands over to the gateway.
 * At this stage only --version and --help exist; `run` and `check` arrive with the bridge (M4). */
#include <stdio.h>
#include <string.h>

#include "gw_version.h"

static void usage(FILE *out) {
    fprintf(out, "usage: lwm2m-gateway [--version | --help]\n"
                 "       lwm2m-gateway run -c FILE     (not implemented yet: milestone M4)\n"
                 "       lwm2m-gateway check -c FILE   (not implemented yet: milestone M4)\n");
}

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
        printf("lwm2m-gateway %s\n", GW_VERSION);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "check") == 0)) {
        fprintf(stderr, "lwm2m-gateway: '%s' is not implemented in this version yet\n", argv[1]);
        return 2;
    }
    usage(stderr);
    return 2;
}
