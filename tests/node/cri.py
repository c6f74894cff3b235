#!/usr/bin/python3
"""A minimal CRI v1 client for the node suite: one call per run.

usage: cri.py SOCKET METHOD [REQUEST_JSON [STDOUT_WANTED]]
   -> the reply as one JSON line, with "seconds" the call took
       cri.py SOCKET --serve   (many calls, one a line: see serve())
METHOD is a RuntimeService or ImageService method named below; the request
is given with the proto field names. Exit 1 with the gRPC status on error.
CRI_STDOUT=FILE: ExecSync's stdout also goes to FILE as it came.
Exec and Attach also follow the returned URL to containerd's streaming
server and add what came on stdout, stderr and the error channel (the
exit status); Attach stops reading once STDOUT_WANTED was seen, or after
CRI_STREAM_LIMIT seconds (30).

The messages are the subset of k8s.io/cri-api runtime/v1 api.proto the
suite sends and reads, declared here with their real field numbers and
built with protobuf's descriptor API (no protoc at image build time).
Enums are declared as int32, which is the same on the wire; fields the
subset leaves out are skipped by the decoder.
"""
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

PKG = "runtime.v1"

# name: [(field, number, type)]; a type is a scalar name or a message of
# this file; a leading "*" makes the field repeated.
MESSAGES = {
    "VersionRequest": [("version", 1, "string")],
    "VersionResponse": [("version", 1, "string"), ("runtime_name", 2, "string"),
                        ("runtime_version", 3, "string"), ("runtime_api_version", 4, "string")],
    "UInt64Value": [("value", 1, "uint64")],
    "Int64Value": [("value", 1, "int64")],
    "PodSandboxMetadata": [("name", 1, "string"), ("uid", 2, "string"),
                           ("namespace", 3, "string"), ("attempt", 4, "uint32")],
    # NamespaceMode: POD 0, CONTAINER 1, NODE 2, TARGET 3.
    "NamespaceOption": [("network", 1, "int32"), ("pid", 2, "int32"), ("ipc", 3, "int32"),
                        ("target_id", 4, "string")],
    # ProfileType: RuntimeDefault 0, Unconfined 1, Localhost 2.
    "SecurityProfile": [("profile_type", 1, "int32"), ("localhost_ref", 2, "string")],
    "LinuxSandboxSecurityContext": [("namespace_options", 1, "NamespaceOption"),
                                    ("run_as_user", 3, "Int64Value"),
                                    ("readonly_rootfs", 4, "bool"),
                                    ("supplemental_groups", 5, "*int64"),
                                    ("privileged", 6, "bool"),
                                    ("run_as_group", 8, "Int64Value"),
                                    ("seccomp", 9, "SecurityProfile")],
    "LinuxPodSandboxConfig": [("cgroup_parent", 1, "string"),
                              ("security_context", 2, "LinuxSandboxSecurityContext"),
                              ("sysctls", 3, "map")],
    "PodSandboxConfig": [("metadata", 1, "PodSandboxMetadata"), ("hostname", 2, "string"),
                         ("log_directory", 3, "string"), ("labels", 6, "map"),
                         ("annotations", 7, "map"), ("linux", 8, "LinuxPodSandboxConfig")],
    "RunPodSandboxRequest": [("config", 1, "PodSandboxConfig"), ("runtime_handler", 2, "string")],
    "RunPodSandboxResponse": [("pod_sandbox_id", 1, "string")],
    "StopPodSandboxRequest": [("pod_sandbox_id", 1, "string")],
    "StopPodSandboxResponse": [],
    "RemovePodSandboxRequest": [("pod_sandbox_id", 1, "string")],
    "RemovePodSandboxResponse": [],
    "PodSandboxStatusRequest": [("pod_sandbox_id", 1, "string"), ("verbose", 2, "bool")],
    "PodSandboxNetworkStatus": [("ip", 1, "string")],
    # PodSandboxState: SANDBOX_READY 0, SANDBOX_NOTREADY 1.
    "PodSandboxStatus": [("id", 1, "string"), ("state", 3, "int32"), ("created_at", 4, "int64"),
                         ("network", 5, "PodSandboxNetworkStatus"),
                         ("runtime_handler", 9, "string")],
    "PodSandboxStatusResponse": [("status", 1, "PodSandboxStatus"), ("info", 2, "map")],
    "ContainerMetadata": [("name", 1, "string"), ("attempt", 2, "uint32")],
    "ImageSpec": [("image", 1, "string")],
    "KeyValue": [("key", 1, "string"), ("value", 2, "string")],
    "Mount": [("container_path", 1, "string"), ("host_path", 2, "string"),
              ("readonly", 3, "bool"), ("propagation", 5, "int32")],
    "LinuxContainerResources": [("cpu_period", 1, "int64"), ("cpu_quota", 2, "int64"),
                                ("cpu_shares", 3, "int64"), ("memory_limit_in_bytes", 4, "int64"),
                                ("oom_score_adj", 5, "int64"), ("cpuset_cpus", 6, "string"),
                                ("cpuset_mems", 7, "string"), ("unified", 9, "map")],
    "Capability": [("add_capabilities", 1, "*string"), ("drop_capabilities", 2, "*string")],
    "LinuxContainerSecurityContext": [("capabilities", 1, "Capability"), ("privileged", 2, "bool"),
                                      ("namespace_options", 3, "NamespaceOption"),
                                      ("run_as_user", 5, "Int64Value"),
                                      ("run_as_username", 6, "string"),
                                      ("readonly_rootfs", 7, "bool"),
                                      ("supplemental_groups", 8, "*int64"),
                                      ("no_new_privs", 11, "bool"),
                                      ("run_as_group", 12, "Int64Value"),
                                      ("masked_paths", 13, "*string"),
                                      ("readonly_paths", 14, "*string"),
                                      ("seccomp", 15, "SecurityProfile")],
    "LinuxContainerConfig": [("resources", 1, "LinuxContainerResources"),
                             ("security_context", 2, "LinuxContainerSecurityContext")],
    "ContainerConfig": [("metadata", 1, "ContainerMetadata"), ("image", 2, "ImageSpec"),
                        ("command", 3, "*string"), ("args", 4, "*string"),
                        ("working_dir", 5, "string"), ("envs", 6, "*KeyValue"),
                        ("mounts", 7, "*Mount"), ("labels", 9, "map"),
                        ("annotations", 10, "map"), ("log_path", 11, "string"),
                        ("stdin", 12, "bool"), ("stdin_once", 13, "bool"), ("tty", 14, "bool"),
                        ("linux", 15, "LinuxContainerConfig")],
    "CreateContainerRequest": [("pod_sandbox_id", 1, "string"), ("config", 2, "ContainerConfig"),
                               ("sandbox_config", 3, "PodSandboxConfig")],
    "CreateContainerResponse": [("container_id", 1, "string")],
    "StartContainerRequest": [("container_id", 1, "string")],
    "StartContainerResponse": [],
    "StopContainerRequest": [("container_id", 1, "string"), ("timeout", 2, "int64")],
    "StopContainerResponse": [],
    "RemoveContainerRequest": [("container_id", 1, "string")],
    "RemoveContainerResponse": [],
    "ContainerStatusRequest": [("container_id", 1, "string"), ("verbose", 2, "bool")],
    "ContainerResources": [("linux", 1, "LinuxContainerResources")],
    # ContainerState: CREATED 0, RUNNING 1, EXITED 2, UNKNOWN 3.
    "ContainerStatus": [("id", 1, "string"), ("state", 3, "int32"), ("created_at", 4, "int64"),
                        ("started_at", 5, "int64"), ("finished_at", 6, "int64"),
                        ("exit_code", 7, "int32"), ("reason", 10, "string"),
                        ("message", 11, "string"), ("log_path", 15, "string"),
                        ("resources", 16, "ContainerResources")],
    "ContainerStatusResponse": [("status", 1, "ContainerStatus"), ("info", 2, "map")],
    "UpdateContainerResourcesRequest": [("container_id", 1, "string"),
                                        ("linux", 2, "LinuxContainerResources")],
    "UpdateContainerResourcesResponse": [],
    "ReopenContainerLogRequest": [("container_id", 1, "string")],
    "ReopenContainerLogResponse": [],
    "ExecSyncRequest": [("container_id", 1, "string"), ("cmd", 2, "*string"),
                        ("timeout", 3, "int64")],
    "ExecSyncResponse": [("stdout", 1, "bytes"), ("stderr", 2, "bytes"), ("exit_code", 3, "int32")],
    "ExecRequest": [("container_id", 1, "string"), ("cmd", 2, "*string"), ("tty", 3, "bool"),
                    ("stdin", 4, "bool"), ("stdout", 5, "bool"), ("stderr", 6, "bool")],
    "ExecResponse": [("url", 1, "string")],
    "AttachRequest": [("container_id", 1, "string"), ("stdin", 2, "bool"), ("tty", 3, "bool"),
                      ("stdout", 4, "bool"), ("stderr", 5, "bool")],
    "AttachResponse": [("url", 1, "string")],
    "ContainerAttributes": [("id", 1, "string"), ("metadata", 2, "ContainerMetadata")],
    "CpuUsage": [("timestamp", 1, "int64"), ("usage_core_nano_seconds", 2, "UInt64Value")],
    "MemoryUsage": [("timestamp", 1, "int64"), ("working_set_bytes", 2, "UInt64Value"),
                    ("available_bytes", 3, "UInt64Value"), ("usage_bytes", 4, "UInt64Value"),
                    ("rss_bytes", 5, "UInt64Value")],
    "ContainerStats": [("attributes", 1, "ContainerAttributes"), ("cpu", 2, "CpuUsage"),
                       ("memory", 3, "MemoryUsage")],
    "ContainerStatsRequest": [("container_id", 1, "string")],
    "ContainerStatsResponse": [("stats", 1, "ContainerStats")],
    "ContainerStatsFilter": [("id", 1, "string"), ("pod_sandbox_id", 2, "string")],
    "ListContainerStatsRequest": [("filter", 1, "ContainerStatsFilter")],
    "ListContainerStatsResponse": [("stats", 1, "*ContainerStats")],
    "ImageStatusRequest": [("image", 1, "ImageSpec")],
    "Image": [("id", 1, "string"), ("repo_tags", 2, "*string")],
    "ImageStatusResponse": [("image", 1, "Image")],
}

RUNTIME = ["Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus",
           "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
           "ContainerStatus", "UpdateContainerResources", "ReopenContainerLog", "ExecSync",
           "Exec", "Attach", "ContainerStats", "ListContainerStats"]
IMAGE = ["ImageStatus"]

F = descriptor_pb2.FieldDescriptorProto
SCALARS = {"string": F.TYPE_STRING, "bytes": F.TYPE_BYTES, "bool": F.TYPE_BOOL,
           "int32": F.TYPE_INT32, "int64": F.TYPE_INT64, "uint32": F.TYPE_UINT32,
           "uint64": F.TYPE_UINT64}


def message_classes():
    fdp = descriptor_pb2.FileDescriptorProto(name="outlet_node_cri.proto", package=PKG,
                                             syntax="proto3")
    for name, fields in MESSAGES.items():
        m = fdp.message_type.add(name=name)
        for fname, number, ftype in fields:
            f = m.field.add(name=fname, number=number)
            f.label = F.LABEL_REPEATED if ftype.startswith("*") else F.LABEL_OPTIONAL
            ftype = ftype.lstrip("*")
            if ftype == "map":
                # map<string, string> is on the wire a repeated nested
                # message {key = 1; value = 2} marked map_entry.
                entry = "".join(p.capitalize() for p in fname.split("_")) + "Entry"
                e = m.nested_type.add(name=entry)
                e.options.map_entry = True
                for kname, knum in (("key", 1), ("value", 2)):
                    e.field.add(name=kname, number=knum, type=F.TYPE_STRING,
                                label=F.LABEL_OPTIONAL)
                f.label = F.LABEL_REPEATED
                f.type = F.TYPE_MESSAGE
                f.type_name = f".{PKG}.{name}.{entry}"
            elif ftype in SCALARS:
                f.type = SCALARS[ftype]
            else:
                f.type = F.TYPE_MESSAGE
                f.type_name = f".{PKG}.{ftype}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    get = getattr(message_factory, "GetMessageClass", None)
    if get is None:  # protobuf < 4.22 (Debian 12 has 3.21)
        get = message_factory.MessageFactory(pool).GetPrototype
    return lambda n: get(pool.FindMessageTypeByName(f"{PKG}.{n}"))


class Client:
    """One gRPC channel and one descriptor pool for any number of calls."""

    def __init__(self, sock):
        self.cls = message_classes()
        self.ch = grpc.insecure_channel(f"unix://{sock}")

    def call(self, method, body, stdout_file=None, want=None, limit=None):
        """-> (rc, reply dict); rc 1 with the gRPC status on error."""
        service = ("RuntimeService" if method in RUNTIME else
                   "ImageService" if method in IMAGE else None)
        if service is None:
            return 1, {"error": f"cri.py: unknown method {method}"}
        req_t, resp_t = self.cls(f"{method}Request"), self.cls(f"{method}Response")
        try:
            req = json_format.ParseDict(body, req_t())
        except json_format.ParseError as e:
            return 1, {"error": f"cri.py: bad {method} request: {e}"}
        call = self.ch.unary_unary(f"/{PKG}.{service}/{method}",
                                   request_serializer=req_t.SerializeToString,
                                   response_deserializer=resp_t.FromString)
        t0 = time.monotonic()
        try:
            resp = call(req, timeout=120)
        except grpc.RpcError as e:
            return 1, {"error": str(e.code()), "details": e.details(),
                       "seconds": round(time.monotonic() - t0, 2)}
        out = json_format.MessageToDict(resp, preserving_proto_field_name=True,
                                        including_default_value_fields=True)
        out["seconds"] = round(time.monotonic() - t0, 2)
        if method == "ExecSync":
            out["stdout"] = resp.stdout.decode(errors="replace")
            out["stderr"] = resp.stderr.decode(errors="replace")
            if stdout_file:
                with open(stdout_file, "wb") as f:
                    f.write(resp.stdout)
        if method in ("Exec", "Attach"):
            # The URL is good for one connection: follow it at once.
            try:
                out.update(ws_stream(out["url"], want, limit))
            except Exception as e:  # reported, not raised: the suite prints it
                out["stream_error"] = repr(e)
                return 1, out
        return 0, out


# --- the streaming server (Exec, Attach) -----------------------------------
# kubelet's streaming protocol over a WebSocket (RFC 6455): each binary
# message is one channel byte (0 stdin, 1 stdout, 2 stderr, 3 error: a
# Status JSON at the end in v4) and the data. The server is containerd's,
# on 127.0.0.1 inside the node.
def ws_stream(url, want_stdout=None, limit=None):
    limit = limit or float(os.environ.get("CRI_STREAM_LIMIT", "30"))
    u = urllib.parse.urlsplit(url)
    host, port = u.hostname, u.port or 80
    s = socket.create_connection((host, port), timeout=limit)
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + ("?" + u.query if u.query else "")
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n"
               f"Origin: http://{host}\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError(f"streaming server closed during the handshake: {buf[:200]!r}")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise OSError(f"streaming server answered {head[:300]!r}")
    chans = {1: b"", 2: b"", 3: b""}
    deadline = time.monotonic() + limit

    def need(n):
        nonlocal buf
        while len(buf) < n:
            if time.monotonic() > deadline:
                raise TimeoutError("stream")
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError
            buf += chunk
        out, buf = buf[:n], buf[n:]
        return out

    closed = "eof"
    try:
        while True:
            b0, b1 = need(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", need(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", need(8))[0]
            mask = need(4) if b1 & 0x80 else None
            data = need(n)
            if mask:
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
            op = b0 & 0x0F
            if op == 8:
                closed = "close"
                break
            if op in (1, 2) and data:
                ch = data[0]
                chans[ch] = chans.get(ch, b"") + data[1:]
            if want_stdout is not None and want_stdout.encode() in chans[1]:
                closed = "seen"
                break
    except EOFError:
        pass
    except TimeoutError:
        closed = "timeout"
    s.close()
    return {"stdout": chans[1].decode(errors="replace"),
            "stderr": chans[2].decode(errors="replace"),
            "status": chans[3].decode(errors="replace"), "end": closed}


def serve(sock):
    """--serve: one request a line on stdin, {"method", "body", and optional
    "stdout_file", "want", "limit"}; one reply a line on stdout, the rc, a
    tab, the reply JSON. Starting python and grpc costs seconds under TCG:
    the suite pays it once."""
    client = Client(sock)
    for line in sys.stdin:
        try:
            r = json.loads(line)
            rc, out = client.call(r["method"], r.get("body") or {}, r.get("stdout_file") or None,
                                  r.get("want") or None, float(r.get("limit") or 0) or None)
        except Exception as e:  # one bad request must not end the suite's client
            rc, out = 1, {"error": f"cri.py: {e!r}"}
        sys.stdout.write(f"{rc}\t{json.dumps(out)}\n")
        sys.stdout.flush()


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "--serve":
        serve(sys.argv[1])
        return
    if len(sys.argv) not in (3, 4, 5):
        sys.exit(__doc__)
    sock, method = sys.argv[1], sys.argv[2]
    body = json.loads(sys.argv[3]) if len(sys.argv) >= 4 else {}
    want = sys.argv[4] if len(sys.argv) == 5 else None
    rc, out = Client(sock).call(method, body, os.environ.get("CRI_STDOUT"), want)
    print(json.dumps(out))
    sys.exit(rc)


if __name__ == "__main__":
    main()
