# SPDX-License-Identifier: Apache-2.0
"""`lwm2m-gateway run` against a TLS broker, configured only through its YAML: Debian's mosquitto
with a mutual-TLS listener and a TLS-PSK listener (certificates made with openssl, as in
test_mqtt_tls.py), the test LwM2M server (libcoap3) and the gateway. With `tls: {ca, cert, key}`
(paths relative to the config file, a password from password_file) and with
`tls: {psk: "${VAR}", psk_identity}` (over MQTT 5 with a persistent session) the gateway
discovers a device from a retained message published on the broker's plain listener, the server
receives its registration, and a new published value arrives as a Notify. With a CA that did
not sign the broker's certificate the gateway logs the TLS reason once, keeps retrying with
back-off, registers nothing, stays up and stops cleanly."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from gw_fixtures import GatewayProc  # noqa: E402
from lwm2m_server import CT_TEXT, LwM2MServer  # noqa: E402
from test_mqtt import Publisher  # noqa: E402
from test_mqtt_tls import PSK_IDENTITY, PSK_KEY, TlsBroker  # noqa: E402

S = {}

CONFIG = """\
gateway: {{ id: {gw}, log_level: info }}
lwm2m:
  lifetime: 120
  servers: [ {{ uri: 'coap://127.0.0.1:{srv}' }} ]
adapters:
  - name: broker
    type: mqtt
    host: 127.0.0.1
    port: {port}
    client_id: "{{gateway}}-client"
    qos: 1
    keepalive: 10
{extra}
profiles:
  th:
    3303: {{ 0: {{ 5700: {{ topic: "sensors/{{device}}/state", json: /temperature }} }} }}
devices:
  - {{ adapter: broker, profile: th, discover: "sensors/{{device}}/state" }}
"""


def ep(gw, name):
    return "urn:dev:%s:%s" % (gw, name)


def Gateway(gw_id, port, extra, files=(), env=None):
    """The gateway with its config written next to copies of the certificates it names."""
    gw = GatewayProc(CONFIG.format(gw=gw_id, srv=S["srv"].port, port=port, extra=extra), files,
                     env, prefix="gw-mqtls-gw-")
    gw.id = gw_id
    return gw


def discover_and_notify(gw, device, first, second):
    """The device's retained state discovers it; its registration and a Notify arrive."""
    pub = Publisher(S["broker"].port, client_id="gw-tls-gw-pub-" + device)
    try:
        pub.publish_many([("sensors/%s/state" % device,
                           json.dumps({"temperature": first}).encode())], qos=1, retain=True)
        harness.wait_for(lambda: "adapter broker up" in gw.log() or gw.proc.poll() is not None,
                         timeout=15, what="broker up")
        assert gw.proc.poll() is None, gw.log()[-3000:]
        reg = S["srv"].wait_registration(ep(gw.id, device), timeout=15)
        assert "/3303/0" in reg.objects, reg.objects
        r = S["srv"].read(ep(gw.id, device), "/3303/0/5700", accept=CT_TEXT)
        assert r.code == "2.05" and float(r.text) == first, r
        obs = S["srv"].observe(ep(gw.id, device), "/3303/0/5700", accept=CT_TEXT)
        assert obs.code == "2.05", obs
        pub.publish_many([("sensors/%s/state" % device,
                           json.dumps({"temperature": second}).encode())], qos=1, retain=True)
        deadline = time.monotonic() + 10
        while True:
            n = S["srv"].wait_notify(token=obs.token,
                                     timeout=max(0.1, deadline - time.monotonic()))
            if float(n.text) == second:
                break
        # Clear the retained state so that a later gateway does not discover this device.
        pub.publish_many([("sensors/%s/state" % device, b"")], qos=1, retain=True)
    finally:
        pub.close()


def test_start():
    S["broker"] = TlsBroker(psk=True)
    S["srv"] = LwM2MServer().start()


def test_tls_certificates_from_config():
    b = S["broker"]
    files = [(b.path("ca.crt"), "ca.pem"), (b.path("client.crt"), "client.pem"),
             (b.path("client.key"), "client.key")]
    pw = os.path.join(b.dir, "mqtt-password")
    with open(pw, "w") as f:
        f.write("not-checked-by-this-broker\n")
    files.append((pw, "mqtt-password"))
    gw = Gateway("gw-tls", b.tls_port,
                 "    username: gateway\n    password_file: mqtt-password\n"
                 "    tls: { ca: ca.pem, cert: client.pem, key: client.key }", files)
    try:
        discover_and_notify(gw, "th-tls", 21.5, 23.25)
    finally:
        gw.stop()
    S["srv"].wait_deregistration(ep("gw-tls", "th-tls"), timeout=5)


def test_tls_psk_from_env_mqtt5():
    b = S["broker"]
    extra = ("    protocol: 5\n    clean_session: false\n    session_expiry: 10m\n"
             "    tls: { psk: \"${GW_TEST_MQTT_PSK}\", psk_identity: %s }" % PSK_IDENTITY)
    gw = Gateway("gw-psk", b.psk_port, extra, env={"GW_TEST_MQTT_PSK": PSK_KEY})
    try:
        discover_and_notify(gw, "th-psk", 18.0, 19.5)
    finally:
        gw.stop()
    S["srv"].wait_deregistration(ep("gw-psk", "th-psk"), timeout=5)


def connections_on(port):
    return len(re.findall(r"New connection from [^ ]+ on port %d\." % port, S["broker"].log_text()))


def test_wrong_ca_logs_and_retries():
    b = S["broker"]
    # The retained state of a device exists: were the gateway connected, it would register it.
    pub = Publisher(b.port, client_id="gw-tls-gw-pub-wrong")
    pub.publish_many([("sensors/th-wrong/state", b'{"temperature": 1}')], qos=1, retain=True)
    pub.close()
    before = connections_on(b.tls_port)
    files = [(b.path("otherca.crt"), "ca.pem"), (b.path("client.crt"), "client.pem"),
             (b.path("client.key"), "client.key")]
    gw = Gateway("gw-wrong", b.tls_port,
                 "    tls: { ca: ca.pem, cert: client.pem, key: client.key }", files)
    try:
        # Several attempts (the back-off starts at 500 ms), each refused by the handshake.
        harness.wait_for(lambda: connections_on(b.tls_port) >= before + 3
                         or gw.proc.poll() is not None, timeout=20, what="three attempts")
        assert gw.proc.poll() is None, gw.log()[-3000:]
        log = gw.log()
        lines = [l for l in log.splitlines() if "cannot connect to 127.0.0.1:%d" % b.tls_port in l]
        # Said once, with OpenSSL's reason, not once per attempt.
        assert len(lines) == 1, log[-3000:]
        assert "TLS handshake failed" in lines[0] and "certificate verify failed" in lines[0], \
            lines[0]
        assert "retrying" in lines[0], lines[0]
        assert "adapter broker up" not in log, log[-3000:]
        assert not [e for e in S["srv"].events("register") if e.get("ep") ==
                    ep("gw-wrong", "th-wrong")]
    finally:
        gw.stop()
        pub = Publisher(b.port, client_id="gw-tls-gw-pub-wrong")
        pub.publish_many([("sensors/th-wrong/state", b"")], qos=1, retain=True)
        pub.close()


def test_cleanup():
    if S.get("srv"):
        S["srv"].stop()
    if S.get("broker"):
        S["broker"].close()


if __name__ == "__main__":
    harness.run([test_start, test_tls_certificates_from_config, test_tls_psk_from_env_mqtt5,
                 test_wrong_ca_logs_and_retries, test_cleanup])
