# SPDX-License-Identifier: Apache-2.0
"""An independent Modbus slave for the Modbus integration tests: Debian's pymodbus 3.0 (run with
/usr/bin/python3) serving a datastore loaded from a JSON file, over TCP on loopback or RTU on a
serial device (one end of a socat pty pair). Units not in the file get no answer.

    pymodbus_server.py --spec FILE (--tcp PORT [--framer rtu] | --rtu DEVICE [--baud B --parity N])

--framer rtu serves RTU frames (unit, PDU, CRC) on the TCP port: RTU over TCP, as a
serial-to-Ethernet converter carries them.

spec: {"units": {"1": {"hr": [..], "ir": [..], "co": [..], "di": [..]}}}; protocol address i is
element i (zero_mode). Reads past the end of a table get exception 2 (illegal data address).
Prints "ready" once serving; stdin commands (one per line, answers one line):
    get UNIT TABLE ADDR COUNT  -> "got v1 v2 ..."   (TABLE: hr ir co di)
    set UNIT TABLE ADDR v1 ... -> "ok"
    drop                       -> "dropped N"  (closes every TCP connection from the server side)
"""
import argparse
import asyncio
import json
import logging
import sys

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer

FC = {"co": 1, "di": 2, "hr": 3, "ir": 4}


def build_context(spec):
    slaves = {}
    for unit, tables in spec["units"].items():
        blocks = {k: ModbusSequentialDataBlock(0, tables.get(k, [0]) or [0])
                  for k in ("hr", "ir", "co", "di")}
        slaves[int(unit)] = ModbusSlaveContext(zero_mode=True, **blocks)
    return ModbusServerContext(slaves=slaves, single=False)


def command(line, context, server):
    words = line.split()
    if not words:
        return None
    if words[0] == "get":
        unit, table, addr, count = int(words[1]), words[2], int(words[3]), int(words[4])
        vals = context[unit].getValues(FC[table], addr, count)
        return "got " + " ".join(str(int(v)) for v in vals)
    if words[0] == "set":
        unit, table, addr = int(words[1]), words[2], int(words[3])
        context[unit].setValues(FC[table], addr, [int(v) for v in words[4:]])
        return "ok"
    if words[0] == "drop":
        conns = list(getattr(server, "active_connections", {}).values())
        for handler in conns:
            handler.transport.close()
        return "dropped %d" % len(conns)
    return "error unknown command"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--tcp", type=int)
    ap.add_argument("--rtu")
    ap.add_argument("--baud", type=int, default=19200)
    ap.add_argument("--parity", default="N")
    ap.add_argument("--framer", choices=("socket", "rtu"), default="socket")
    args = ap.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    with open(args.spec, encoding="utf-8") as f:
        context = build_context(json.load(f))
    loop = asyncio.get_running_loop()
    if args.tcp is not None:
        framer = ModbusRtuFramer if args.framer == "rtu" else None  # None: MBAP (Modbus TCP)
        server = ModbusTcpServer(context, framer=framer, address=("127.0.0.1", args.tcp),
                                 ignore_missing_slaves=True, allow_reuse_address=True)
        task = asyncio.create_task(server.serve_forever())
        await asyncio.wait_for(server.serving, 5)
    else:
        server = ModbusSerialServer(context, framer=ModbusRtuFramer, port=args.rtu,
                                    baudrate=args.baud, parity=args.parity, bytesize=8,
                                    stopbits=1, timeout=0.05, ignore_missing_slaves=True)
        await server.start()
        task = None
    done = asyncio.Event()

    def on_stdin():
        line = sys.stdin.readline()
        if not line:
            done.set()
            return
        answer = command(line, context, server)
        if answer is not None:
            print(answer, flush=True)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    print("ready", flush=True)
    await done.wait()
    if task:
        task.cancel()


if __name__ == "__main__":
    asyncio.run(main())
