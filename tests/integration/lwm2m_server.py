# SPDX-License-Identifier: Apache-2.0
"""Driver of the test LwM2M server (tests/peers/lwm2m_test_server, built on libcoap3).

It starts the server on a free loopback UDP port, speaks its JSON-lines control protocol (commands
on stdin, results and events on stdout) and gives tests a plain API. Not a test itself.

    with LwM2MServer() as srv:
        reg = srv.wait_registration("urn:dev:gw:meter-1", timeout=10)
        r = srv.read(reg.ep, "/3/0", accept=CT_TLV)
        assert r.code == "2.05", r
        obs = srv.observe(reg.ep, "/3303/0/5700")
        n = srv.wait_notify(token=obs.token, timeout=5)

DTLS (libcoap's GnuTLS flavour on the server side) on a second port, next to the plain one:

    with LwM2MServer(psk={"urn:dev:gw:meter-1": b"secret-key"}) as srv:   # srv.dtls_uri
        reg = srv.wait_registration("urn:dev:gw:meter-1")
        assert reg.secure and reg.psk_identity == "urn:dev:gw:meter-1"
        srv.drop_sessions()      # the server forgets its DTLS sessions, as a restart does
    LwM2MServer(pki=dtls_certs.server_pki(dtls_certs.make_pki(tmp, ["ep1"])))  # reg.cert_cn

Bootstrap-Server role (the same process also serves /rd): a script per endpoint name, played
after the client's POST /bs?ep=NAME, over the session it came on (plain or DTLS):

    srv.bs_config("urn:dev:gw:meter-1", [
        bs_delete("/"),
        bs_security(1, srv.uri, mode="nosec", ssid=1),      # TLV unless ct= or the client's pct
        bs_server(1, ssid=1, lifetime=60),
        bs_finish()])
    ev = srv.wait_bs_finished("urn:dev:gw:meter-1")         # ev["code"] == "2.04"
    steps = srv.bs_steps("urn:dev:gw:meter-1")               # Results with .raw["op"], ["path"]
"""
import collections
import itertools
import json
import os
import subprocess
import threading
import time

CT_TEXT = 0
CT_LINK = 40
CT_OPAQUE = 42
CT_CBOR = 60
CT_SENML_JSON = 110
CT_SENML_CBOR = 112
CT_TLV = 11542
CT_LWM2M_JSON = 11543
CT_LWM2M_CBOR = 11544

# RFC 8428 Table 4: SenML CBOR integer labels.
SENML_LABELS = {-1: "bver", -2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs", 0: "n", 1: "u",
                2: "v", 3: "vs", 4: "vb", 5: "s", 6: "t", 7: "ut", 8: "vd"}


def server_binary():
    """Path of lwm2m_test_server: $GW_BUILD_DIR (set by ctest), else a build dir of the repo."""
    build = os.environ.get("GW_BUILD_DIR")
    candidates = [build] if build else []
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    candidates += [os.path.join(repo, d) for d in ("build", "build-peer")]
    for c in candidates:
        path = os.path.join(c, "tests", "peers", "lwm2m_test_server")
        if os.access(path, os.X_OK):
            return path
    raise FileNotFoundError("lwm2m_test_server not built (set GW_BUILD_DIR)")


class Result:
    """A command result: code ("2.05"), ct, payload (bytes), decoded, or error ("timeout")."""

    def __init__(self, raw):
        self.raw = raw
        self.error = raw.get("error")
        self.code = raw.get("code")
        self.ct = raw.get("ct")
        self.payload = bytes.fromhex(raw.get("payload", ""))
        self.decoded = raw.get("decoded")
        self.decode_error = raw.get("decode_error")
        self.token = raw.get("token")
        self.observe = raw.get("observe")
        self.t = raw.get("t")

    @property
    def ok(self):
        return self.error is None and bool(self.code) and self.code.startswith("2.")

    @property
    def text(self):
        return self.payload.decode("utf-8", "replace")

    def __repr__(self):
        if self.error:
            return "Result(error=%r)" % self.error
        return "Result(code=%s, ct=%s, payload=%s, decoded=%s%s)" % (
            self.code, self.ct, self.payload[:64].hex(), json.dumps(self.decoded)[:200],
            ", decode_error=%r" % self.decode_error if self.decode_error else "")


class Registration:
    """A register event: ep, id, lt, version (lwm2m=), binding (b=), queue (the 1.1 Q parameter
    was present; a 1.0 "UQ" stays in binding), sms, links, addr and port (the endpoint's source
    address as the server saw it), t (monotonic ms, as time.monotonic() * 1000), secure (it came
    over DTLS), psk_identity or cert_cn (the DTLS client's identity, else None)."""

    def __init__(self, ev):
        self.raw = ev
        self.ep = ev.get("ep")
        self.id = ev.get("id")
        self.lt = ev.get("lt")
        self.version = ev.get("lwm2m")
        self.binding = ev.get("b")
        self.queue = ev.get("q")
        self.sms = ev.get("sms")
        self.links = ev.get("links")
        self.addr = ev.get("addr")
        self.port = ev.get("port")
        self.t = ev.get("t")
        self.secure = ev.get("secure")
        self.psk_identity = ev.get("psk_identity")
        self.cert_cn = ev.get("cert_cn")

    @property
    def objects(self):
        """The registered paths, e.g. ["/1/0", "/3/0", "/3303"] (root "/" entries left out)."""
        return [p for p, _ in parse_links(self.links or "") if p != "/"]

    def __repr__(self):
        return "Registration(%r)" % self.raw


def parse_links(text):
    """RFC 6690 link-format into [(path, {attr: value})]; values unquoted, flags map to None."""
    out = []
    for entry in _split_outside_quotes(text, ","):
        entry = entry.strip()
        if not entry.startswith("<") or ">" not in entry:
            continue
        path, rest = entry[1:].split(">", 1)
        attrs = {}
        for a in _split_outside_quotes(rest, ";"):
            a = a.strip()
            if not a:
                continue
            k, sep, v = a.partition("=")
            attrs[k] = (v[1:-1] if v.startswith('"') and v.endswith('"') else v) if sep else None
        out.append((path, attrs))
    return out


def _split_outside_quotes(text, sep):
    parts, cur, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def senml_records(decoded):
    """SenML records from a decoded SenML JSON or CBOR payload, with names ("bn", "v", ...) for
    the CBOR integer labels and bytes for "vd"."""
    recs = []
    for rec in decoded or []:
        out = {}
        for k, v in rec.items():
            try:
                name = SENML_LABELS.get(int(k), k)
            except ValueError:
                name = k
            if isinstance(v, dict) and set(v) == {"hex"}:
                v = bytes.fromhex(v["hex"])
            out[name] = v
        recs.append(out)
    return recs


def senml_values(decoded):
    """{full name: value} of a SenML pack, resolving bn/n and the v/vs/vb/vd/vlo value fields."""
    values, bn = {}, ""
    for rec in senml_records(decoded):
        bn = rec.get("bn", bn)
        name = bn + rec.get("n", "")
        for key in ("v", "vs", "vb", "vd", "vlo"):
            if key in rec:
                values[name] = rec[key]
    return values


def tlv_find(nodes, *ids):
    """The TLV node reached by ids (instance, resource, resource instance) or None."""
    for i, want in enumerate(ids):
        node = next((n for n in nodes or [] if n["id"] == want), None)
        if node is None or i == len(ids) - 1:
            return node
        nodes = node.get("children")
    return None


def tlv_int(node):
    return int.from_bytes(bytes.fromhex(node["value_hex"]), "big", signed=True)


def tlv_float(node):
    import struct
    raw = bytes.fromhex(node["value_hex"])
    return struct.unpack(">f" if len(raw) == 4 else ">d", raw)[0]


def tlv_str(node):
    return bytes.fromhex(node["value_hex"]).decode("utf-8")


def tlv_bool(node):
    return bytes.fromhex(node["value_hex"]) != b"\x00"


SECURITY_MODES = {"psk": 0, "rpk": 1, "cert": 2, "nosec": 3, "est": 4}


def _opaque(v):
    """An opaque resource value for the server: bytes as is, text as its UTF-8 bytes."""
    if isinstance(v, str):
        v = v.encode("utf-8")
    return {"hex": bytes(v).hex()}


def _step(op, path=None, delay=None, timeout=None, continue_=None, **fields):
    """A bootstrap step: delay (s) before it is sent, timeout (s) for its response, continue_=True
    to go on after an error response (else the run fails)."""
    step = {"op": op}
    if path is not None:
        step["path"] = path
    for k, v in (("delay", delay), ("timeout", timeout), ("continue", continue_)):
        if v is not None:
            step[k] = v
    step.update({k: v for k, v in fields.items() if v is not None})
    return step


def bs_delete(path="/", **opts):
    return _step("delete", path, **opts)


def bs_write(path, resources=None, instances=None, senml=None, payload=None, ct=None, wrap=None,
             **opts):
    """Bootstrap-Write (PUT). resources {RID: value} on /O/I, or instances {IID: {RID: value}} on
    /O, encoded by the server: values str, int, float, bool, bytes (opaque), {"objlnk": "O:I"}, or
    {RIID: value} (a multiple resource); ct 11542 (TLV, the default unless the client's pct says
    112 or 110), 112 or 110; wrap=True puts an /O/I write's TLV inside its Object Instance TLV.
    Or senml records (ct 110 or 112), or a raw payload (bytes, with ct)."""
    def conv(tree):
        out = {}
        for k, v in tree.items():
            if isinstance(v, (bytes, bytearray)):
                v = _opaque(v)
            elif isinstance(v, dict) and "objlnk" not in v and "hex" not in v:
                v = conv(v)
            out[str(k)] = v
        return out
    return _step("write", path, resources=conv(resources) if resources is not None else None,
                 instances=conv(instances) if instances is not None else None, senml=senml,
                 payload=bytes(payload).hex() if payload is not None else None, ct=ct, wrap=wrap,
                 **opts)


def bs_security(iid, uri, mode="nosec", ssid=None, identity=b"", key=b"", server_key=b"",
                bootstrap=False, ct=None, **more):
    """A Write of Security object instance /0/iid: 0 Server URI, 1 Bootstrap-Server, 2 Security
    Mode ("psk", "rpk", "cert", "nosec", "est" or the number), 3 Public Key or Identity, 4 Server
    Public Key, 5 Secret Key (opaque; empty unless given, as they are mandatory), 10 Short Server
    ID (when ssid is given). more: other resources by number (r11=..) or step options."""
    res = {"0": uri, "1": bool(bootstrap), "2": SECURITY_MODES.get(mode, mode),
           "3": _opaque(identity), "4": _opaque(server_key), "5": _opaque(key)}
    if ssid is not None:
        res["10"] = ssid
    return _with_more(bs_write("/0/%d" % iid, resources=res, ct=ct), more)


def bs_server(iid, ssid, lifetime=300, binding="U", storing=True, pmin=None, pmax=None, ct=None,
              **more):
    """A Write of Server object instance /1/iid: 0 SSID, 1 Lifetime, 6 Notification Storing, 7
    Binding, and 2/3 default pmin/pmax when given."""
    res = {"0": ssid, "1": lifetime, "6": bool(storing), "7": binding}
    if pmin is not None:
        res["2"] = pmin
    if pmax is not None:
        res["3"] = pmax
    return _with_more(bs_write("/1/%d" % iid, resources=res, ct=ct), more)


def _with_more(step, more):
    """r<N>=value keyword arguments add resource N; the others are step options."""
    opts = {}
    for k, v in more.items():
        if k.startswith("r") and k[1:].isdigit():
            step["resources"][k[1:]] = _opaque(v) if isinstance(v, (bytes, bytearray)) else v
        else:
            opts[k] = v
    step.update(_step(step["op"], **opts))
    return step


def bs_discover(path="/", **opts):
    """Bootstrap-Discover: GET with Accept 40."""
    return _step("discover", path, **opts)


def bs_read(path, accept=None, **opts):
    """Bootstrap-Read (1.1; /1 and /2 only, says the spec; not checked here)."""
    return _step("read", path, accept=accept, **opts)


def bs_finish(**opts):
    """Bootstrap-Finish: POST /bs. It must be the last step."""
    return _step("finish", **opts)


class BootstrapFailed(AssertionError):
    """A bootstrap run failed (bs_failed) where it was expected to finish."""


def _payload_fields(payload):
    if payload is None:
        return {}
    if isinstance(payload, str):
        return {"text": payload}
    return {"payload": bytes(payload).hex()}


def _psk_args(psk):
    args = []
    for identity, key in psk.items():
        if isinstance(identity, bytes):
            identity = identity.decode("utf-8")
        key = bytes(key).hex() if isinstance(key, (bytes, bytearray)) else bytes.fromhex(key).hex()
        args += ["--psk", "%s:%s" % (identity, key)]
    return args


class LwM2MServer:
    """The test LwM2M server as a subprocess. Every method that issues a request returns a
    Result; waits raise TimeoutError.

    DTLS: dtls_port (0: a free port; None: no DTLS unless psk or pki is given, then 0) listens on
    the same addresses as the plain port. psk: {identity: key} (key as bytes, or a hex string);
    a client offering another identity or key fails the handshake. pki: (cert, key, ca) PEM
    paths: the server's certificate and key, and the CA that client certificates must chain to
    (a client certificate is required). Both may be given."""

    def __init__(self, port=0, addr="127.0.0.1", ipv6=False, timeout=10.0, reject_versions=(),
                 register_code=None, extra_args=(), binary=None, log_level=None, dtls_port=None,
                 psk=None, pki=None):
        self.binary = binary or server_binary()
        self.args = ["--port", str(port), "--addr", addr, "--timeout", str(timeout)]
        if dtls_port is None and (psk or pki):
            dtls_port = 0
        if dtls_port is not None:
            self.args += ["--dtls-port", str(dtls_port)]
        self.args += _psk_args(psk or {})
        if pki:
            self.args += ["--pki", ",".join(pki)]
        if ipv6:
            self.args.append("--ipv6")
        for v in reject_versions:
            self.args += ["--reject-version", v]
        if register_code:
            self.args += ["--register-code", register_code]
        if log_level is not None:
            self.args += ["--log-level", str(log_level)]
        self.args += list(extra_args)
        self.timeout = timeout
        self.proc = None
        self.returncode = None
        self.port = None
        self.endpoints = []
        self.dtls_port = None      # the DTLS port once started, or None without DTLS
        self.dtls_endpoints = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._wlock = threading.Lock()
        self._results = {}
        self._events = []        # every event, in arrival order
        self._consumed = set()   # indexes of events returned by a wait
        # indexes of events by name and by (name, ep), so that waiting for one of 10,000
        # registrations does not rescan them all; each with the count of consumed leading entries
        self._index = collections.defaultdict(lambda: [[], 0])
        self._stderr = collections.deque(maxlen=200)
        self._dead = False

    # ---- lifecycle ----

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen([self.binary] + self.args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        ready = self.wait_event("ready", timeout=timeout)
        self.port = ready["port"]
        self.endpoints = ready["endpoints"]
        self.dtls_port = ready.get("dtls_port")
        self.dtls_endpoints = ready.get("dtls_endpoints", [])
        return self

    def stop(self, timeout=5.0):
        """Quits the server; returns its exit status (also kept in self.returncode)."""
        if not self.proc:
            return self.returncode
        if self.proc.poll() is None:
            try:
                self._command({"cmd": "quit"}, timeout=timeout)
            except (TimeoutError, OSError, RuntimeError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.returncode = self.proc.returncode
        time.sleep(0.05)  # let the stderr reader take the last lines (sanitizer reports)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        self.proc = None
        return self.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def uri(self):
        return "coap://127.0.0.1:%d" % self.port

    @property
    def dtls_uri(self):
        """coaps://127.0.0.1:N (coaps://[::1]:N on an IPv6-only server), or None without DTLS."""
        if self.dtls_port is None:
            return None
        addr = self.dtls_endpoints[0]["addr"] if self.dtls_endpoints else "127.0.0.1"
        return "coaps://%s:%d" % ("[%s]" % addr if ":" in addr else addr, self.dtls_port)

    def stderr_tail(self):
        return "\n".join(self._stderr)

    # ---- the control channel ----

    def _read_stdout(self):
        for line in self.proc.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                self._stderr.append("bad stdout line: %r" % line)
                continue
            with self._cond:
                if "event" in obj:
                    i = len(self._events)
                    self._events.append(obj)
                    self._index[obj["event"]][0].append(i)
                    if "ep" in obj:
                        self._index[(obj["event"], obj["ep"])][0].append(i)
                elif "id" in obj:
                    self._results[obj["id"]] = obj
                self._cond.notify_all()
        with self._cond:
            self._dead = True
            self._cond.notify_all()

    def _read_stderr(self):
        for line in self.proc.stderr:
            self._stderr.append(line.decode("utf-8", "replace").rstrip())
            if os.environ.get("GW_PEER_LOG"):
                print("lwm2m_test_server:", self._stderr[-1], flush=True)

    def _command(self, cmd, timeout=None):
        cid = next(self._ids)
        cmd = dict(cmd, id=cid)
        line = (json.dumps(cmd) + "\n").encode()
        if self._dead or not self.proc:
            raise RuntimeError("lwm2m_test_server is not running:\n" + self.stderr_tail())
        with self._wlock:  # not under _cond: a full pipe must not block the stdout reader
            self.proc.stdin.write(line)
            self.proc.stdin.flush()
        with self._cond:
            deadline = time.monotonic() + (timeout or self.timeout) + 5.0
            while cid not in self._results:
                left = deadline - time.monotonic()
                if left <= 0 or self._dead:
                    raise TimeoutError("no result for %r" % cmd)
                self._cond.wait(left)
            return self._results.pop(cid)

    def command(self, cmd, timeout=None, **fields):
        """Any control command, e.g. command("request", addr=.., port=.., path="/time")."""
        req = {"cmd": cmd}
        req.update({k: v for k, v in fields.items() if v is not None})
        if timeout is not None:
            req["timeout"] = timeout
        return Result(self._command(req, timeout))

    # ---- events ----

    def wait_event(self, name, pred=None, timeout=10.0, consume=True, ep=None):
        """The first not yet consumed event `name` (of endpoint ep, if given) for which
        pred(event) holds."""
        deadline = time.monotonic() + timeout
        key = name if ep is None else (name, ep)
        with self._cond:
            while True:
                ev = self._find(key, pred, consume)
                if ev is not None:
                    return ev
                left = deadline - time.monotonic()
                if left <= 0 or self._dead:
                    raise TimeoutError("no %s event%s within %.1f s%s" % (
                        name, "" if ep is None else " of " + ep, timeout,
                        " (server exited)" if self._dead else ""))
                self._cond.wait(left)

    def _find(self, key, pred, consume):
        entry = self._index[key]
        idxs = entry[0]
        while entry[1] < len(idxs) and idxs[entry[1]] in self._consumed:
            entry[1] += 1  # skip the consumed head once, not on every wait
        for i in idxs[entry[1]:]:
            ev = self._events[i]
            if i not in self._consumed and (pred is None or pred(ev)):
                if consume:
                    self._consumed.add(i)
                return ev
        return None

    def events(self, name=None):
        """Every event received so far (consumed or not), optionally only those named name."""
        with self._cond:
            return [e for e in self._events if name is None or e.get("event") == name]

    def wait_registration(self, ep, timeout=10.0):
        return Registration(self.wait_event("register", timeout=timeout, ep=ep))

    def wait_registrations(self, eps, timeout=30.0):
        """{ep: Registration} for every name in eps, within one overall timeout."""
        deadline = time.monotonic() + timeout
        return {ep: self.wait_registration(ep, max(0.0, deadline - time.monotonic()))
                for ep in eps}

    def wait_update(self, ep, timeout=10.0):
        return self.wait_event("update", timeout=timeout, ep=ep)

    def wait_deregistration(self, ep, timeout=10.0):
        return self.wait_event("deregister", timeout=timeout, ep=ep)

    def wait_expired(self, ep, timeout=10.0):
        return self.wait_event("expired", timeout=timeout, ep=ep)

    def wait_register_rejected(self, ep=None, timeout=10.0):
        return self.wait_event("register_rejected", timeout=timeout, ep=ep)

    def wait_send(self, ep=None, timeout=10.0):
        return Result(self.wait_event("send", timeout=timeout, ep=ep))

    def wait_dtls_failed(self, pred=None, timeout=10.0):
        """A failed DTLS handshake: {addr, port, reason, detail?, psk_identity?}. reason:
        "unknown psk identity" (with psk_identity), "handshake record does not decrypt (wrong
        key?)" (a wrong PSK key, reported at the client's Finished), or "handshake failed" (detail:
        libcoap's last warning, e.g. "... The peer certificate's CA is unknown: 'CN'" or "Client
        Certificate requested and required, but not provided")."""
        return self.wait_event("dtls_failed", pred, timeout)

    def wait_dtls_closed(self, ep=None, pred=None, timeout=10.0):
        """An established DTLS session ended: {ep? (its registration), addr, port, reason}, reason
        "closed" (by the client: close_notify or a fatal alert), "new handshake from the client"
        (a ClientHello came from its address: the client restarted or gave up on the session) or
        "session expired" (idle). Its registration stays, without a session."""
        return self.wait_event("dtls_closed", pred, timeout, ep=ep)

    def wait_bs_request(self, ep=None, timeout=10.0):
        """A Bootstrap-Request: {ep, addr, port, secure, psk_identity?|cert_cn?, pct?, code (our
        answer: "2.04", or "4.00" without ep or configuration, "4.15" for a pct we cannot write,
        or a configured code), reason?}."""
        return self.wait_event("bs_request", timeout=timeout, ep=ep)

    def wait_bs_finished(self, ep, timeout=10.0):
        """The end of ep's bootstrap run: {ep, code (the Bootstrap-Finish response, "2.04" or e.g.
        "4.06"; None when the script had no finish), steps}. Raises BootstrapFailed when the run
        failed instead."""
        key, ev = self._wait_first([("bs_finished", ep), ("bs_failed", ep)], timeout)
        if key[0] == "bs_failed":
            raise BootstrapFailed("bootstrap of %s failed: %r" % (ep, ev))
        return ev

    def wait_bs_failed(self, ep, timeout=10.0):
        """A run that stopped: {ep, step, op, path, reason ("timeout", "reset", "error response"
        (with code), "session closed", "superseded by a new Bootstrap-Request", ...), code?}."""
        return self.wait_event("bs_failed", timeout=timeout, ep=ep)

    def bs_steps(self, ep):
        """The bs_step events of ep so far, as Results (code, ct, payload, decoded) whose raw
        also has step (index), op and path."""
        with self._cond:
            return [Result(e) for e in self._events
                    if e.get("event") == "bs_step" and e.get("ep") == ep]

    def _wait_first(self, keys, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for key in keys:
                    ev = self._find(key, None, True)
                    if ev is not None:
                        return key, ev
                left = deadline - time.monotonic()
                if left <= 0 or self._dead:
                    raise TimeoutError("none of %r within %.1f s" % (keys, timeout))
                self._cond.wait(left)

    def wait_notify(self, token=None, ep=None, path=None, timeout=10.0):
        def match(e):
            return (token is None or e["token"] == token) and (path is None or e["path"] == path)
        return Result(self.wait_event("notify", match, timeout, ep=ep))

    # ---- LwM2M Device Management operations (to a registered endpoint) ----

    def read(self, ep, path, accept=None, timeout=None):
        return self.command("read", ep=ep, path=path, accept=accept, timeout=timeout)

    def discover(self, ep, path, timeout=None):
        return self.command("discover", ep=ep, path=path, timeout=timeout)

    def write(self, ep, path, payload, ct, partial=False, timeout=None):
        """Replace (PUT) or, with partial=True, partial update (POST). payload: bytes or str."""
        return self.command("write", ep=ep, path=path, ct=ct, partial=partial or None,
                            timeout=timeout, **_payload_fields(payload))

    def write_attributes(self, ep, path, timeout=None, **attrs):
        """PUT with the attributes as Uri-Query: write_attributes(ep, p, pmin=10, pmax=60);
        a None value sends the bare name (which removes the attribute)."""
        return self.command("write_attributes", ep=ep, path=path, attrs=attrs, timeout=timeout)

    def execute(self, ep, path, args=None, timeout=None):
        return self.command("execute", ep=ep, path=path, timeout=timeout,
                            **_payload_fields(args))

    def create(self, ep, path, payload, ct, timeout=None):
        return self.command("create", ep=ep, path=path, ct=ct, timeout=timeout,
                            **_payload_fields(payload))

    def delete(self, ep, path, timeout=None):
        return self.command("delete", ep=ep, path=path, timeout=timeout)

    def observe(self, ep, path, accept=None, timeout=None):
        """GET with Observe 0; the Result carries the token that notify events carry."""
        return self.command("observe", ep=ep, path=path, accept=accept, timeout=timeout)

    def cancel_observe(self, token, mode="get", timeout=None):
        """mode "get": GET Observe 1 with the same token (the Result is the response);
        mode "rst": answer the next notification with RST (an immediate ok Result)."""
        return self.command("cancel_observe", token=token, mode=mode, timeout=timeout)

    def read_composite(self, ep, paths=None, ct=CT_SENML_JSON, accept=None, payload=None,
                       timeout=None):
        """FETCH with a SenML list of paths (or a raw payload); Accept defaults to ct."""
        return self.command("read_composite", ep=ep, path="/", ct=ct, accept=accept,
                            paths=None if payload is not None else list(paths or []),
                            timeout=timeout, **_payload_fields(payload))

    def observe_composite(self, ep, paths=None, ct=CT_SENML_JSON, accept=None, payload=None,
                          timeout=None):
        return self.command("observe_composite", ep=ep, path="/", ct=ct, accept=accept,
                            paths=None if payload is not None else list(paths or []),
                            timeout=timeout, **_payload_fields(payload))

    def write_composite(self, ep, records=None, ct=CT_SENML_JSON, payload=None, timeout=None):
        """iPATCH with SenML records given as JSON (names as in SenML JSON; "vd" base64url),
        encoded by the server as ct 110 or 112, or with a raw payload."""
        return self.command("write_composite", ep=ep, path="/", ct=ct, senml=records,
                            timeout=timeout, **_payload_fields(payload))

    # ---- other commands ----

    def request(self, method, path, addr=None, port=None, ep=None, accept=None, ct=None,
                payload=None, query=None, observe=None, timeout=None):
        """A raw request to addr:port (its own client socket) or to a registered ep."""
        return self.command("request", method=method, path=path, addr=addr, port=port, ep=ep,
                            accept=accept, ct=ct, query=query, observe=observe,
                            timeout=timeout, **_payload_fields(payload))

    def list(self):
        """{"registrations": [...], "observations": [...], "bs_configs": [names]}"""
        raw = self._command({"cmd": "list"})
        return {"registrations": raw["registrations"], "observations": raw["observations"],
                "bs_configs": raw["bs_configs"]}

    # ---- Bootstrap-Server ----

    def bs_config(self, ep, steps=(), code=None, count=None):
        """The bootstrap script of endpoint name ep ("*": any name without its own): steps (made
        by bs_delete, bs_write, bs_security, bs_server, bs_discover, bs_read, bs_finish) played
        after a 2.04 to its POST /bs. code ("5.03"): answer the Bootstrap-Request with it instead
        (the next count requests only, when count is given; then the script runs). Replaces ep's
        previous script; raises ValueError for a script the server refuses."""
        cmd = {"cmd": "bs_config", "ep": ep, "steps": list(steps)}
        if code is not None:
            cmd["code"] = code
        if count is not None:
            cmd["count"] = count
        raw = self._command(cmd)
        if "error" in raw:
            raise ValueError(raw["error"])
        return raw

    def bs_initiate(self, ep, addr, port):
        """Server-initiated bootstrap: ep's script (bs_config) played at once to the endpoint at
        addr:port, from the plain listening address and port, without waiting for a
        Bootstrap-Request; the same bs_step / bs_finished / bs_failed events follow. Raises
        ValueError when the server refuses (no script, bad address)."""
        raw = self._command({"cmd": "bs_initiate", "ep": ep, "addr": addr, "port": port})
        if "error" in raw:
            raise ValueError(raw["error"])
        return raw

    def bs_remove(self, ep):
        """Forgets ep's script: its Bootstrap-Request gets 4.00 again (unless "*" has one)."""
        return self._command({"cmd": "bs_config", "ep": ep, "remove": True})

    def encode_resources(self, path, resources, ct=CT_TLV, wrap=False):
        """The server's encoding of a bootstrap write body (see bs_write): bytes."""
        tree = bs_write(path, resources=resources)["resources"]
        key = "resources" if path.strip("/").count("/") == 1 else "instances"
        raw = self._command({"cmd": "encode", "ct": ct, "path": path, key: tree, "wrap": wrap})
        if "error" in raw:
            raise ValueError(raw["error"])
        return bytes.fromhex(raw["payload"])

    def registration(self, ep):
        for r in self.list()["registrations"]:
            if r["ep"] == ep:
                return Registration(r)
        return None

    def pause(self):
        """Drop every datagram in and out until resume(): an outage (plain and DTLS ports)."""
        return self._command({"cmd": "pause"})

    def resume(self):
        return self._command({"cmd": "resume"})

    def drop_sessions(self, forget_registrations=False, close_notify=False):
        """Forget every DTLS session, as a restarted server would: nothing is sent (close_notify
        =True: libcoap's close_notify goes out), pending requests and observations on them fail
        with "session dropped", the client's next records go unanswered until it handshakes
        again. Registrations stay, without a session, until the endpoint's next Update or
        Register (DM requests to it fail meanwhile); forget_registrations=True removes them too
        (an Update then gets 4.04). Returns how many sessions were dropped."""
        return self._command({"cmd": "drop_sessions", "close_notify": close_notify,
                              "forget_registrations": forget_registrations})["dropped"]

    def set_fault(self, reject_version=None, register_code=None, count=1, clear=False,
                  location_joined=None):
        """reject_version: "1.2" or a list (Register with it gets 4.12, [] clears);
        register_code: "5.03" for the next count Registers (count -1: all);
        location_joined: True answers Register with ONE Location-Path option "rd/<id>" (a
        server bug seen in the wild) instead of "rd" and "<id>"."""
        cmd = {"cmd": "fault", "clear": clear}
        if location_joined is not None:
            cmd["location_joined"] = location_joined
        if reject_version is not None:
            cmd["reject_version"] = reject_version
        if register_code is not None:
            cmd["register_code"] = register_code
            cmd["count"] = count
        return self._command(cmd)

    def set_timeout(self, seconds):
        self.timeout = seconds
        return self._command({"cmd": "set", "timeout": seconds})

    def decode(self, ct, payload):
        """The server's independent decoding of a payload (bytes) in content-format ct."""
        return Result(self._command({"cmd": "decode", "ct": ct, "payload": bytes(payload).hex()}))

    def encode_senml(self, records, ct=CT_SENML_CBOR):
        return bytes.fromhex(self._command({"cmd": "encode", "ct": ct,
                                            "senml": records})["payload"])
