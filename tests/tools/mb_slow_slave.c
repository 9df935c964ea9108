/* SPDX-License-Identifier: Apache-2.0 */
/* mb_slow_slave: a libmodbus TCP slave for fault injection in integration tests. It serves
 * every unit id from one register map (holding[i] = i, input[i] = 2*i, coil/discrete i = i odd),
 * and can answer one unit slowly or never, answer exceptions, close connections, and count the
 * requests it saw per unit and function code ("stats" on stdin).
 *
 *   mb_slow_slave -p PORT [-s UNIT:MS] [-S UNIT] [-e ADDR] [-E UNIT:CODE] [-d N]
 *     -s  delay answers to UNIT by MS milliseconds      -S  never answer UNIT
 *     -e  exception 2 for any register read/write that covers ADDR
 *     -E  exception CODE for every request to UNIT (up to 4 times)
 *     -d  close a connection after N requests
 * Prints "listening PORT"; stdin: "stats" prints "stats unit=U fc=F n=N" lines then "end";
 * EOF on stdin exits. */
#include <errno.h>
#include <modbus/modbus.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#define MAX_CLIENTS 32
#define MAP_SIZE    10000

struct slave {
    modbus_t *ctx;
    modbus_mapping_t *map;
    int listen_fd;
    int clients[MAX_CLIENTS];
    unsigned served[MAX_CLIENTS];
    int slow_unit, slow_ms, silent_unit, exc_addr, drop_after;
    int exc_unit[4], exc_code[4]; /* -E, up to 4 times */
    int n_exc;
    unsigned long counts[256][32]; /* [unit][fc] */
};

static void fill_map(modbus_mapping_t *m) {
    for (int i = 0; i < MAP_SIZE; i++) {
        m->tab_registers[i] = (uint16_t)i;
        m->tab_input_registers[i] = (uint16_t)(2 * i);
        m->tab_bits[i] = (uint8_t)(i & 1);
        m->tab_input_bits[i] = (uint8_t)(i & 1);
    }
}

/* True when the request's address range covers s->exc_addr (register and bit functions). */
static bool covers_exc_addr(const struct slave *s, const uint8_t *q, int len) {
    int fc = q[7], addr, count = 1;
    if (s->exc_addr < 0 || len < 12)
        return false;
    addr = q[8] << 8 | q[9];
    if (fc == 1 || fc == 2 || fc == 3 || fc == 4 || fc == 15 || fc == 16)
        count = q[10] << 8 | q[11];
    return s->exc_addr >= addr && s->exc_addr < addr + count;
}

static void print_stats(const struct slave *s) {
    for (int u = 0; u < 256; u++)
        for (int f = 0; f < 32; f++)
            if (s->counts[u][f])
                printf("stats unit=%d fc=%d n=%lu\n", u, f, s->counts[u][f]);
    printf("end\n");
    fflush(stdout);
}

/* Serves one request on client slot i; returns false when the connection is to be closed. */
static bool serve(struct slave *s, int i) {
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    int len, unit, fc;
    modbus_set_socket(s->ctx, s->clients[i]);
    len = modbus_receive(s->ctx, q);
    if (len <= 0)
        return len == 0; /* 0: ignored frame; -1: peer gone */
    unit = q[6];
    fc = q[7] & 31;
    s->counts[unit][fc]++;
    if (s->drop_after > 0 && ++s->served[i] >= (unsigned)s->drop_after)
        return false;
    if (unit == s->silent_unit)
        return true;
    if (unit == s->slow_unit && s->slow_ms > 0)
        usleep((useconds_t)s->slow_ms * 1000u);
    for (int k = 0; k < s->n_exc; k++) {
        if (unit == s->exc_unit[k]) {
            modbus_reply_exception(s->ctx, q, (unsigned)s->exc_code[k]);
            return true;
        }
    }
    if (covers_exc_addr(s, q, len))
        modbus_reply_exception(s->ctx, q, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    else
        modbus_reply(s->ctx, q, len, s->map);
    return true;
}

static void accept_client(struct slave *s) {
    int fd = modbus_tcp_accept(s->ctx, &s->listen_fd);
    if (fd < 0)
        return;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (s->clients[i] < 0) {
            s->clients[i] = fd;
            s->served[i] = 0;
            return;
        }
    }
    close(fd);
}

static bool on_stdin(struct slave *s) {
    char line[64];
    if (!fgets(line, sizeof(line), stdin))
        return false;
    if (!strncmp(line, "stats", 5))
        print_stats(s);
    return true;
}

static void loop(struct slave *s) {
    for (;;) {
        fd_set rd;
        int maxfd = s->listen_fd;
        FD_ZERO(&rd);
        FD_SET(0, &rd);
        FD_SET(s->listen_fd, &rd);
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (s->clients[i] >= 0) {
                FD_SET(s->clients[i], &rd);
                if (s->clients[i] > maxfd)
                    maxfd = s->clients[i];
            }
        }
        if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (FD_ISSET(0, &rd) && !on_stdin(s))
            return;
        if (FD_ISSET(s->listen_fd, &rd))
            accept_client(s);
        for (int i = 0; i < MAX_CLIENTS; i++) {
            if (s->clients[i] >= 0 && FD_ISSET(s->clients[i], &rd) && !serve(s, i)) {
                close(s->clients[i]);
                s->clients[i] = -1;
            }
        }
    }
}

static void parse_pair(const char *arg, int *a, int *b) {
    *a = atoi(arg);
    *b = strchr(arg, ':') ? atoi(strchr(arg, ':') + 1) : 0;
}

int main(int argc, char **argv) {
    struct slave *s = calloc(1, sizeof(*s)); /* big counters: heap */
    int port = 0, opt;
    if (!s)
        return 1;
    s->slow_unit = s->silent_unit = s->exc_addr = -1;
    while ((opt = getopt(argc, argv, "p:s:S:e:E:d:")) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 's':
            parse_pair(optarg, &s->slow_unit, &s->slow_ms);
            break;
        case 'S':
            s->silent_unit = atoi(optarg);
            break;
        case 'e':
            s->exc_addr = atoi(optarg);
            break;
        case 'E':
            if (s->n_exc < 4) {
                parse_pair(optarg, &s->exc_unit[s->n_exc], &s->exc_code[s->n_exc]);
                s->n_exc++;
            }
            break;
        case 'd':
            s->drop_after = atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    for (int i = 0; i < MAX_CLIENTS; i++)
        s->clients[i] = -1;
    s->ctx = modbus_new_tcp("127.0.0.1", port);
    s->map = modbus_mapping_new(MAP_SIZE, MAP_SIZE, MAP_SIZE, MAP_SIZE);
    if (!s->ctx || !s->map)
        return 1;
    fill_map(s->map);
    s->listen_fd = modbus_tcp_listen(s->ctx, 8);
    if (s->listen_fd < 0) {
        fprintf(stderr, "listen: %s\n", modbus_strerror(errno));
        return 1;
    }
    printf("listening %d\n", port);
    fflush(stdout);
    loop(s);
    close(s->listen_fd);
    modbus_mapping_free(s->map);
    modbus_free(s->ctx);
    free(s);
    return 0;
}
