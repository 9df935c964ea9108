# SPDX-License-Identifier: Apache-2.0
"""Config errors end to end: a table of bad config files, each written to a temporary directory and
checked with `lwm2m-gateway check -c FILE`; stderr must be exactly the expected lines and the exit
status 2. Then every example in config/examples must pass with exit status 0 and print the expected
endpoint names. Binary: $GW_BUILD_DIR/bridge/lwm2m-gateway. Prints one line per case and
"N passed, M failed"; exits non-zero on a failure."""
import os
import subprocess
import sys
import tempfile

BUILD = os.environ.get("GW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../build"))
SOURCE = os.environ.get("GW_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
GW = os.path.join(BUILD, "bridge", "lwm2m-gateway")

# (name, file text, exact stderr lines). The file is written as NAME.yaml and checked from its
# directory, so messages start with "NAME.yaml:line:column".
BAD = [
    ('syntax',
     'lwm2m:\n'
     '  servers: [{uri: coap://h}\n'
     'adapters: x\n',
     [
         "syntax.yaml:3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at 2:12)",
     ]),
    ('tab',
     'lwm2m:\n'
     '\tservers: []\n',
     [
         'tab.yaml:2:1: invalid YAML: found character that cannot start any token (while scanning for the next token at 2:1)',
     ]),
    ('alias',
     'lwm2m: &l\n'
     '  servers: [{uri: coap://h}]\n'
     'gateway: *l\n',
     [
         'alias.yaml:3:10: aliases (*name) are not supported: use profiles to share device definitions',
     ]),
    ('unknown-top',
     'lwm2m:\n'
     '  servers: [{uri: coap://h}]\n'
     'device: []\n',
     [
         "unknown-top.yaml:3:1: device: unknown key (did you mean 'devices'?)",
     ]),
    ('typo',
     'gateway:\n'
     '  id: gw\n'
     'lwm2m:\n'
     '  lifetme: 300\n'
     '  servers: [{uri: coap://h}]\n',
     [
         "typo.yaml:4:3: lwm2m.lifetme: unknown key (did you mean 'lifetime'?)",
     ]),
    ('missing-model',
     'lwm2m:\n'
     '  servers: [{uri: coap://h}]\n'
     '  models: [nothere.xml]\n',
     [
         "missing-model.yaml:3:12: lwm2m.models[0]: cannot read 'nothere.xml': "
         "No such file or directory",
     ]),
    ('no-servers',
     'lwm2m:\n'
     '  lifetime: 60\n',
     [
         "no-servers.yaml:2:3: lwm2m: needs at least one server in 'servers' or a 'bootstrap' server",
     ]),
    ('uri',
     'lwm2m:\n'
     '  servers:\n'
     '    - uri: http://h\n'
     '    - uri: coap://h:0\n'
     '    - uri: coaps://h\n',
     [
         "uri.yaml:3:12: lwm2m.servers[0].uri: expected a URI like coap://host:5683 or coaps://host:5684, got 'http://h'",
         "uri.yaml:4:12: lwm2m.servers[1].uri: expected a URI like coap://host:5683 or coaps://host:5684, got 'coap://h:0'",
         'uri.yaml:5:7: lwm2m.servers[2].security: a coaps:// server needs security mode psk or cert',
     ]),
    ('psk',
     'lwm2m:\n'
     '  servers:\n'
     '    - uri: coaps://h\n'
     '      security: {mode: psk, identity: me, key: xyz}\n'
     '    - uri: coaps://h2\n'
     "      security: {mode: psk, key: '00'}\n"
     '    - uri: coap://h3\n'
     "      security: {mode: psk, identity: me, key: '00'}\n"
     '    - uri: coap://h4\n'
     '      security: {mode: nosec, identity: me}\n',
     [
         "psk.yaml:4:48: lwm2m.servers[0].security.key: expected the PSK as 1..64 bytes of hex digits (like 000102030405), got 'xyz'",
         "psk.yaml:6:17: lwm2m.servers[1].security: missing required key 'identity' (mode psk)",
         'psk.yaml:8:17: lwm2m.servers[2].security: security mode psk needs a coaps:// uri',
         'psk.yaml:10:41: lwm2m.servers[3].security.identity: only used with mode psk',
     ]),
    ('identity-gateway-mode',
     'lwm2m:\n'
     '  mode: gateway\n'
     '  servers:\n'
     "    - uri: coaps://h\n"
     "      security: {mode: psk, identity: '{gateway}-{device}', key: '00'}\n",
     [
         "identity-gateway-mode.yaml:5:39: lwm2m.servers[0].security.identity: in gateway mode "
         "there is one endpoint for the gateway: {device} cannot be used",
     ]),
    ('identity-placeholder',
     'lwm2m:\n'
     '  servers:\n'
     "    - uri: coaps://h\n"
     "      security: {mode: psk, identity: '{unit}', key: '00'}\n",
     [
         "identity-placeholder.yaml:4:39: lwm2m.servers[0].security.identity: unknown placeholder "
         "'{unit}' in '{unit}' (expected one of: {gateway}, {device})",
     ]),
    ('key-file',
     'lwm2m:\n'
     '  servers:\n'
     '    - uri: coaps://h\n'
     '      security: {mode: psk, identity: me, key_file: missing.key}\n',
     [
         "key-file.yaml:4:53: lwm2m.servers[0].security.key_file: cannot read 'missing.key': No such file or directory",
     ]),
    ('dup-ssid',
     'lwm2m:\n'
     '  servers:\n'
     '    - {uri: coap://a, short_server_id: 3}\n'
     '    - {uri: coap://b, short_server_id: 3}\n',
     [
         'dup-ssid.yaml:4:40: lwm2m.servers[1].short_server_id: 3 is already used by servers[0]',
     ]),
    ('durations',
     'lwm2m: {servers: [{uri: coap://h}], lifetime: 0}\n'
     'adapters:\n'
     '  - {name: a, type: modbus-tcp, host: h, timeout: fast, poll: 0s}\n'
     '  - {name: b, type: modbus-tcp, host: h, timeout: 5, poll: 2d}\n',
     [
         "durations.yaml:1:47: lwm2m.lifetime: expected 1..31536000 seconds, got '0'",
         "durations.yaml:3:51: adapters[0].timeout: expected a duration like 500ms, 1s or 5m, got 'fast'",
         "durations.yaml:3:63: adapters[0].poll: expected a duration from 1ms to 24h, got '0s'",
         "durations.yaml:4:51: adapters[1].timeout: expected a duration like 500ms, 1s or 5m, got '5'",
         "durations.yaml:4:60: adapters[1].poll: expected a duration like 500ms, 1s or 5m, got '2d'",
     ]),
    ('adapters',
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'adapters:\n'
     '  - {name: a, type: modbus, host: h}\n'
     '  - {name: b, type: modbus-tcp, port: 70000}\n'
     '  - {name: b, type: modbus-rtu, device: /dev/ttyS0, parity: mark, baud: 9600, hots: x}\n'
     '  - {type: mqtt, host: h, password: secret, protocol: 4}\n'
     "  - {name: 'bad name', type: mqtt, host: h, tls: {ca: /nonexistent/ca.pem}}\n",
     [
         "adapters.yaml:3:21: adapters[0].type: unknown type 'modbus' (expected one of: modbus-tcp, modbus-rtu, modbus-rtu-over-tcp, mqtt)",
         "adapters.yaml:4:5: adapters[1]: missing required key 'host'",
         "adapters.yaml:4:39: adapters[1].port: expected an integer 1..65535, got '70000'",
         "adapters.yaml:5:12: adapters[2].name: duplicate adapter name 'b' (first at 4:12)",
         "adapters.yaml:5:61: adapters[2].parity: unknown parity 'mark' (expected one of: none, even, odd)",
         'adapters.yaml:5:79: adapters[2].hots: unknown key (expected one of: name, type, timeout, poll, device, baud, parity, data_bits, stop_bits, rs485)',
         "adapters.yaml:6:5: adapters[3]: missing required key 'name'",
         "adapters.yaml:6:5: adapters[3]: a password needs a 'username'",
         "adapters.yaml:6:55: adapters[3].protocol: unknown protocol '4' (expected one of: 3.1.1, 5)",
         "adapters.yaml:7:12: adapters[4].name: expected a name of letters, digits, '.', '_' and '-' (at most 64), got 'bad name'",
         "adapters.yaml:7:55: adapters[4].tls.ca: cannot read '/nonexistent/ca.pem': No such file or directory",
     ]),
    ('env',
     'lwm2m:\n'
     '  servers: [{uri: "coap://${GW_TEST_UNSET_HOST}:5683"}]\n',
     [
         "env.yaml:2:19: lwm2m.servers[0].uri: environment variable 'GW_TEST_UNSET_HOST' is not set (write ${GW_TEST_UNSET_HOST:-default} to give a default)",
     ]),
    ('password-file',
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'adapters:\n'
     '  - {name: b, type: mqtt, host: h, username: u, password_file: secrets/mqtt.pw}\n'
     '  - {name: c, type: mqtt, host: h, username: u, password: x, password_file: secrets/mqtt.pw}\n',
     [
         'password-file.yaml:4:77: adapters[1].password_file: give either password or password_file, not both',
     ]),
    ('bindings',
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'profiles:\n'
     '  meter:\n'
     '    3316:\n'
     '      0:\n'
     '        5700: { read: holdings:0, type: float32 }\n'
     '        5701: { read: "coil:0", type: float32 }\n'
     '        5702: { reda: "holding:0" }\n'
     '        5703: { read: "input:5", write: "input:5" }\n'
     '        5704: { read: "holding:65534", type: float64, order: ABDC }\n'
     '        5705: { read: "holding:1", type: string(300) }\n'
     '        5706: { read: "holding:1", scale: much }\n'
     '    abc: {}\n'
     '    70000: {0: {1: x}}\n',
     [
         "bindings.yaml:6:23: profiles.meter.3316.0.5700.read: unknown table 'holdings' (expected one of: coil, discrete, input, holding)",
         "bindings.yaml:7:39: profiles.meter.3316.0.5701.type: a coil holds one bit: the type must be bool, got 'float32'",
         "bindings.yaml:8:17: profiles.meter.3316.0.5702.reda: unknown key (did you mean 'read'?)",
         'bindings.yaml:9:41: profiles.meter.3316.0.5703.write: input is read-only: write to coil:N or holding:N',
         "bindings.yaml:10:62: profiles.meter.3316.0.5704.order: unknown order 'ABDC' (expected one of: ABCD, CDAB, BADC, DCBA)",
         "bindings.yaml:11:42: profiles.meter.3316.0.5705.type: string(N) needs N in 1..250, got 'string(300)'",
         "bindings.yaml:12:43: profiles.meter.3316.0.5706.scale: expected a number, got 'much'",
         "bindings.yaml:13:5: profiles.meter.abc: expected an object id 0..65534, got 'abc'",
         "bindings.yaml:14:5: profiles.meter.70000: expected an object id 0..65534, got '70000'",
     ]),
    ('mqtt-bindings',
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'profiles:\n'
     '  th:\n'
     '    3303:\n'
     '      0:\n'
     '        5700: { topic: "sensors/+/state", json: /t }\n'
     '        5701: { topic: "s/{dev}" }\n'
     '        5702: { topic: s, json: temperature }\n'
     '        5703: { topic: s, json: /t, format: hex }\n'
     '        5704: { topic: s, write: { json: /on, qos: 3 } }\n',
     [
         "mqtt-bindings.yaml:6:24: profiles.th.3303.0.5700.topic: expected a topic without wildcards (+ and # belong in a device's discover pattern), got 'sensors/+/state'",
         "mqtt-bindings.yaml:7:24: profiles.th.3303.0.5701.topic: unknown placeholder '{dev}' in 's/{dev}' (expected one of: {gateway}, {device})",
         "mqtt-bindings.yaml:8:33: profiles.th.3303.0.5702.json: expected a JSON pointer like /temperature or /data/0/value, got 'temperature'",
         'mqtt-bindings.yaml:9:45: profiles.th.3303.0.5703.format: a json pointer needs format json, got format hex',
         "mqtt-bindings.yaml:10:34: profiles.th.3303.0.5704.write: missing required key 'topic'",
         "mqtt-bindings.yaml:10:52: profiles.th.3303.0.5704.write.qos: expected an integer 0..2, got '3'",
     ]),
    ('refs',
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'adapters:\n'
     '  - {name: plc1, type: modbus-tcp, host: h}\n'
     '  - {name: broker, type: mqtt, host: h}\n'
     'profiles:\n'
     '  meter: {3316: {0: {5700: {read: "holding:0"}}}}\n'
     '  th: {3303: {0: {5700: {topic: "s/{device}"}}}}\n'
     'devices:\n'
     '  - {name: m1, adapter: plc2, unit: 1, profile: meter}\n'
     '  - {name: m2, adapter: plc1, profile: metre}\n'
     '  - {name: m3, adapter: broker, profile: meter}\n'
     '  - {name: m4, adapter: plc1, profile: th}\n',
     [
         "refs.yaml:9:25: devices[0].adapter: unknown adapter 'plc2' (expected one of: plc1, broker)",
         "refs.yaml:10:40: devices[1].profile: unknown profile 'metre' (expected one of: meter, th)",
         "refs.yaml:11:42: devices[2].profile: profile 'meter' binds /3316/0/5700 to Modbus, which adapter 'broker' (mqtt) cannot serve",
         "refs.yaml:12:40: devices[3].profile: profile 'th' binds /3303/0/5700 to an MQTT topic, which adapter 'plc1' (modbus-tcp) cannot serve",
     ]),
    ('devices',
     'gateway: {id: gw}\n'
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'adapters:\n'
     '  - {name: plc1, type: modbus-tcp, host: h}\n'
     '  - {name: line, type: modbus-rtu, device: /dev/ttyS0}\n'
     '  - {name: broker, type: mqtt, host: h}\n'
     'profiles:\n'
     '  meter: {3316: {0: {5700: {read: "holding:0"}}}}\n'
     '  th: {3303: {0: {5700: {topic: "s/{device}"}}}}\n'
     'devices:\n'
     '  - {name: m1, adapter: plc1, unit: 1, profile: meter}\n'
     '  - {name: m1, adapter: plc1, unit: 2, profile: meter}\n'
     '  - {name: r1, adapter: line, unit: 0, profile: meter}\n'
     '  - {name: t1, adapter: broker, unit: 1, poll: 1s, profile: th}\n'
     '  - {adapter: plc1, profile: meter, discover: "s/+/x"}\n'
     '  - {adapter: broker, profile: th, discover: "s/x"}\n',
     [
         "devices.yaml:12:12: devices[1].name: duplicate device name 'm1' (first at 11:12)",
         'devices.yaml:13:37: devices[2].unit: expected a unit 1..247 on a serial line, got 0',
         'devices.yaml:14:39: devices[3].unit: only Modbus devices have a unit',
         'devices.yaml:14:48: devices[3].poll: only Modbus devices are polled (MQTT devices publish by themselves)',
         "devices.yaml:15:47: devices[4].discover: discovery needs an mqtt adapter, 'plc1' is modbus-tcp",
         'devices.yaml:16:46: devices[5].discover: expected a topic pattern where {device} or a + level names the device, like sensors/{device}/state',
     ]),
    ('device-keys',
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'adapters:\n'
     '  - {name: broker, type: mqtt, host: h}\n'
     'profiles:\n'
     '  th: {3303: {0: {5700: {topic: "s/{device}"}}}}\n'
     'devices:\n'
     '  - {adapter: broker, profile: th}\n'
     '  - {name: t2, adapter: broker, profile: th, discover: "s/+"}\n'
     '  - {name: t3, adapter: broker, profile: th, unit: 256, max_devices: 0}\n'
     '  - {name: t4, profile: th, overrides: {3: {0: {1: [x]}}}}\n'
     '  - {name: t5, adapter: broker, profile: th, availability: "s/{device}/a"}\n',
     [
         "device-keys.yaml:7:5: devices[0]: missing required key 'name' (or 'discover' to find devices on MQTT topics)",
         'device-keys.yaml:8:56: devices[1]: give either name or discover, not both',
         "device-keys.yaml:9:52: devices[2].unit: expected an integer 0..255, got '256'",
         "device-keys.yaml:9:70: devices[2].max_devices: expected an integer 1..100000, got '0'",
         "device-keys.yaml:10:5: devices[3]: missing required key 'adapter'",
         'device-keys.yaml:10:52: devices[3].overrides.3.0.1: expected a binding (a mapping with read/write, topic or value), got a sequence',
         'device-keys.yaml:11:60: devices[4].availability: only discovery rules (with discover) have availability',
     ]),
    ('stale-down',
     'gateway: {stale_after: soon, down_deregister: 0s}\n'
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'adapters:\n'
     '  - {name: broker, type: mqtt, host: h}\n'
     'profiles:\n'
     '  th: {3303: {0: {5700: {topic: "s/{device}"}}}}\n'
     'devices:\n'
     '  - {name: t1, adapter: broker, profile: th, stale_after: 5, down_deregister: yes}\n'
     '  - {adapter: broker, profile: th, discover: "s/+", stale_after: 25h}\n',
     [
         "stale-down.yaml:1:24: gateway.stale_after: expected a duration like 500ms, 1s or 5m, got 'soon'",
         "stale-down.yaml:1:47: gateway.down_deregister: expected a duration from 1ms to 24h, got '0s'",
         "stale-down.yaml:8:59: devices[0].stale_after: expected a duration like 500ms, 1s or 5m, got '5'",
         "stale-down.yaml:8:79: devices[0].down_deregister: expected a duration like 500ms, 1s or 5m, got 'yes'",
         "stale-down.yaml:9:66: devices[1].stale_after: expected a duration from 1ms to 24h, got '25h'",
     ]),
    ('availability',
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'adapters:\n'
     '  - {name: broker, type: mqtt, host: h}\n'
     'profiles:\n'
     '  th: {3303: {0: {5700: {topic: "s/{device}"}}}}\n'
     'devices:\n'
     '  - {adapter: broker, profile: th, discover: "s/+", availability: "s/+/avail"}\n'
     '  - {adapter: broker, profile: th, discover: "t/+", availability: "t/online"}\n',
     [
         'availability.yaml:7:67: devices[0].availability: expected a topic with {device} and no wildcards, like sensors/{device}/availability',
         'availability.yaml:8:67: devices[1].availability: expected a topic with {device} and no wildcards, like sensors/{device}/availability',
     ]),
    ('bootstrap-hold-off',
     'lwm2m:\n'
     '  bootstrap: {uri: coap://h, hold_off: 2h}\n',
     [
         "bootstrap-hold-off.yaml:2:40: lwm2m.bootstrap.hold_off: expected a duration from 0ms to 1h, got '2h'",
     ]),
    ('store-sync',
     'lwm2m:\n'
     '  servers: [{uri: coap://h}]\n'
     '  store: {enabled: true, sync: 5ms}\n',
     [
         "store-sync.yaml:3:32: lwm2m.store.sync: expected a duration from 10ms to 1h, got '5ms'",
     ]),
    ('reporting',
     'lwm2m:\n'
     '  servers: [{uri: coap://h}]\n'
     '  notifications: {con: maybe, con_every: 0}\n'
     '  store: {enabled: 1, max_entries: 0, max_bytes: 10}\n'
     'adapters:\n'
     '  - {name: broker, type: mqtt, host: h}\n'
     'profiles:\n'
     '  th:\n'
     '    send: {paths: [/3303/0/5700, /3304/0], period: 1}\n'
     '    3303: {0: {5700: {topic: "s/{device}"}}}\n'
     '  th2:\n'
     '    send: {paths: [3303/0], on_change: no, period: 0s, format: cbor}\n'
     '    3303: {0: {5700: {topic: "s/{device}"}}}\n'
     'devices:\n'
     '  - {name: t1, adapter: broker, profile: th, send: {paths: []}}\n'
     '  - {name: t2, adapter: broker, profile: th, send: {paths: [/3303/0/5700], on_change: false}}\n'
     '  - {adapter: broker, profile: th, discover: "s/+", send: {paths: [/3303/x], sned: 1}}\n',
     [
         "reporting.yaml:3:24: lwm2m.notifications.con: expected true or false, got 'maybe'",
         "reporting.yaml:3:42: lwm2m.notifications.con_every: expected an integer 1..65535, got '0'",
         "reporting.yaml:4:20: lwm2m.store.enabled: expected true or false, got '1'",
         "reporting.yaml:4:36: lwm2m.store.max_entries: expected an integer 1..1000000, got '0'",
         "reporting.yaml:4:50: lwm2m.store.max_bytes: expected an integer 1024..1073741824, got '10'",
         "reporting.yaml:9:34: profiles.th.send.paths[1]: profile 'th' binds no resource at /3304/0 (a Send path must name a bound resource, or an object or instance holding one)",
         "reporting.yaml:12:20: profiles.th2.send.paths[0]: expected an LwM2M path like /3303/0/5700 (1 to 4 ids 0..65534), got '3303/0'",
         "reporting.yaml:12:40: profiles.th2.send.on_change: expected true or false, got 'no'",
         "reporting.yaml:12:52: profiles.th2.send.period: expected 1..86400 seconds, got '0s'",
         "reporting.yaml:12:64: profiles.th2.send.format: unknown format 'cbor' (expected one of: senml-cbor, senml-json)",
         "reporting.yaml:15:60: devices[0].send.paths: expected a list of LwM2M paths like [/3303/0/5700], got an empty list",
         'reporting.yaml:16:52: devices[1].send: sends nothing: set on_change: true or a period',
         "reporting.yaml:17:68: devices[2].send.paths[0]: expected an LwM2M path like /3303/0/5700 (1 to 4 ids 0..65534), got '/3303/x'",
         'reporting.yaml:17:78: devices[2].send.sned: unknown key (expected one of: paths, on_change, period, format)',
     ]),
    ('send-paths',
     'lwm2m: {servers: [{uri: coap://h}]}\n'
     'adapters:\n'
     '  - {name: broker, type: mqtt, host: h}\n'
     'profiles:\n'
     '  th:\n'
     '    send: {paths: [/3303/0/5700], period: 30s}\n'
     '    3303: {0: {5700: {topic: "s/{device}"}}}\n'
     '  ok: {3303: {0: {5700: {topic: "s/{device}"}}}}\n'
     'devices:\n'
     '  - {name: t1, adapter: broker, profile: ok, send: {paths: [/3303/1, /3303/0/5700/0]}}\n'
     '  - name: t2\n'
     '    adapter: broker\n'
     '    profile: ok\n'
     '    overrides: {3303: {0: {5701: Cel}}}\n'
     '    send: {paths: [/3303/0/5701, /3303/0/5702]}\n',
     [
         "send-paths.yaml:10:61: devices[0].send.paths[0]: device 't1' (profile 'ok') binds no resource at /3303/1 (a Send path must name a bound resource, or an object or instance holding one)",
         "send-paths.yaml:15:34: devices[1].send.paths[1]: device 't2' (profile 'ok') binds no resource at /3303/0/5702 (a Send path must name a bound resource, or an object or instance holding one)",
     ]),
    ('endpoints',
     'gateway: {id: gw}\n'
     'lwm2m:\n'
     '  endpoint_name: "urn:dev:{gateway}"\n'
     '  servers: [{uri: coap://h}]\n'
     'adapters:\n'
     '  - {name: plc1, type: modbus-tcp, host: h}\n'
     'profiles:\n'
     '  meter: {3316: {0: {5700: {read: "holding:0"}}}}\n'
     'devices:\n'
     '  - {name: m1, adapter: plc1, unit: 1, profile: meter}\n'
     '  - {name: m2, adapter: plc1, unit: 2, profile: meter}\n',
     [
         "endpoints.yaml:11:5: devices[1]: endpoint name 'urn:dev:gw' is already used by device 'm1' (make lwm2m.endpoint_name tell them apart)",
     ]),
    ('gateway-mode',
     'gateway: {id: gw}\n'
     'lwm2m:\n'
     '  mode: gateway\n'
     '  endpoint_name: "urn:dev:{gateway}:{device}"\n'
     '  servers: [{uri: coap://h}]\n',
     [
         'gateway-mode.yaml:4:18: lwm2m.endpoint_name: in gateway mode there is one endpoint for the gateway: {device} and {unit} cannot be used',
     ]),
]

# More than 20 errors: the first 20 are printed, the rest counted.
MANY = "gateway:\n" + "".join("  k%d: 1\n" % i for i in range(25)) + \
    "lwm2m: {servers: [{uri: coap://h}]}\n"
MANY_EXPECTED = ["many.yaml:%d:3: gateway.k%d: unknown key (expected one of: id, state_dir, "
                 "log_level, http, stale_after, down_deregister)" % (i + 2, i)
                 for i in range(20)] + \
    ["many.yaml: 5 more errors not shown"]

# Examples: (file, environment, expected DEVICE/ENDPOINT rows of the device table).
EXAMPLES = [
    ("demo.yaml", {}, [
        ("meter-1", "urn:dev:plant1-gw:meter-1"),
        ("{device}", "urn:dev:plant1-gw:{device}"),
    ]),
    ("modbus-rtu.yaml", {"GW_PSK": "00112233445566778899aabbccddeeff"}, [
        ("oven-1", "urn:dev:line-gw:oven-1"),
        ("oven-2", "urn:dev:line-gw:oven-2"),
        ("flow-1", "urn:dev:line-gw:flow-1"),
        ("plc-1", "urn:dev:line-gw:plc-1"),
    ]),
    ("mqtt.yaml", {"MQTT_PASSWORD": "secret"}, [
        ("{device}", "urn:dev:home-gw:{device}"),
        ("plug-kitchen", "urn:dev:home-gw:plug-kitchen"),
        ("plug-garage", "urn:dev:home-gw:plug-garage"),
    ]),
    ("gateway-mode.yaml", {}, [
        ("meter-a", "urn:dev:substation-7"),
        ("meter-b", "urn:dev:substation-7"),
        ("meter-c", "urn:dev:substation-7"),
    ]),
]

RESULTS = {"passed": 0, "failed": 0}


def report(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, detail if not ok else ""))


def run(args, cwd, env=None):
    full = dict(os.environ)
    full.pop("GW_TEST_UNSET_HOST", None)
    full.update(env or {})
    return subprocess.run([GW] + args, cwd=cwd, env=full, capture_output=True, text=True,
                          timeout=30)


def diff(expected, got):
    out = []
    for i in range(max(len(expected), len(got))):
        e = expected[i] if i < len(expected) else "<none>"
        g = got[i] if i < len(got) else "<none>"
        if e != g:
            out.append("\n    line %d\n      expected: %s\n      got:      %s" % (i + 1, e, g))
    return "".join(out)


def check_bad(tmp, name, text, expected):
    with open(os.path.join(tmp, name + ".yaml"), "w") as f:
        f.write(text)
    r = run(["check", "-c", name + ".yaml"], tmp)
    got = r.stderr.splitlines()
    if r.returncode != 2:
        report("bad/" + name, False, ": exit status %d, expected 2" % r.returncode)
    elif r.stdout != "":
        report("bad/" + name, False, ": unexpected stdout: %r" % r.stdout[:200])
    else:
        report("bad/" + name, got == expected, diff(expected, got))


def device_rows(stdout):
    """The (DEVICE, ENDPOINT) columns of the device table printed by check."""
    rows, inside = [], False
    for line in stdout.splitlines():
        if line.startswith("DEVICE "):
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            cols = line.split()
            rows.append((cols[0], cols[1]))
    return rows


def check_example(name, env, expected_rows):
    path = os.path.join(SOURCE, "config", "examples", name)
    r = run(["check", "-c", path], SOURCE, env)
    if r.returncode != 0:
        report("example/" + name, False, ": exit status %d\n%s" % (r.returncode, r.stderr))
        return
    rows = device_rows(r.stdout)
    ok = rows == expected_rows and r.stderr == "" and \
        r.stdout.startswith("%s: valid (" % path)
    report("example/" + name, ok, ": rows %r, stderr %r" % (rows, r.stderr))


def check_cli(tmp):
    r = run(["--version"], tmp)
    report("cli/version", r.returncode == 0 and r.stdout.startswith("lwm2m-gateway "),
           ": %r" % r.stdout)
    r = run(["check"], tmp)
    report("cli/check-without-file", r.returncode == 2 and "usage:" in r.stderr, ": %r" % r.stderr)
    r = run(["check", "-c", "does-not-exist.yaml"], tmp)
    exp = ["does-not-exist.yaml: cannot open: No such file or directory"]
    report("cli/missing-file", r.returncode == 2 and r.stderr.splitlines() == exp,
           ": %d %r" % (r.returncode, r.stderr))
    r = run(["run", "-c", "x.yaml"], tmp)
    report("cli/run-not-yet", r.returncode == 2, ": %d" % r.returncode)
    # A path with a directory: relative secret files are found next to the config file.
    sub = os.path.join(tmp, "conf")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "psk.hex"), "w") as f:
        f.write("000102030405060708090a0b0c0d0e0f\n")
    with open(os.path.join(sub, "gw.yaml"), "w") as f:
        f.write("lwm2m:\n  servers:\n    - uri: coaps://127.0.0.1\n"
                "      security: {mode: psk, identity: gw, key_file: psk.hex}\n")
    r = run(["check", "--config", "conf/gw.yaml"], tmp)
    report("cli/key-file-next-to-config", r.returncode == 0 and "16-byte key" in r.stdout,
           ": %d %r" % (r.returncode, r.stderr))
    # check shows an MQTT 5 persistent session with its expiry, and a binding's own QoS
    with open(os.path.join(tmp, "mq5.yaml"), "w") as f:
        f.write("lwm2m: {servers: [{uri: 'coap://127.0.0.1'}]}\n"
                "adapters: [{name: b, type: mqtt, host: h, protocol: 5, clean_session: false,\n"
                "            client_id: gw1, session_expiry: 10m}]\n"
                "profiles: {p: {3303: {0: {5700: {topic: 't/{device}', qos: 2}}}}}\n"
                "devices: [{name: s1, adapter: b, profile: p}]\n")
    r = run(["check", "-c", "mq5.yaml"], tmp)
    report("cli/mqtt5-session-and-qos", r.returncode == 0 and
           "MQTT 5, keepalive 60s, timeout 5s, persistent session (expiry 600s)" in r.stdout and
           "topic t/s1 qos 2" in r.stdout, ": %d %r %r" % (r.returncode, r.stdout, r.stderr))


def main():
    if not os.access(GW, os.X_OK):
        print("lwm2m-gateway not found at %s (set GW_BUILD_DIR)" % GW)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "secrets"))
        with open(os.path.join(tmp, "secrets", "mqtt.pw"), "w") as f:
            f.write("s3cret\n")
        for name, text, expected in BAD:
            check_bad(tmp, name, text, expected)
        check_bad(tmp, "many", MANY, MANY_EXPECTED)
        check_cli(tmp)
    for name, env, rows in EXAMPLES:
        check_example(name, env, rows)
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
