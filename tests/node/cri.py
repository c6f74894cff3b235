#!/usr/bin/python3
"""A minimal CRI v1 client for the node suite: one call per run.

usage: cri.py SOCKET METHOD [REQUEST_JSON]   -> the reply as one JSON line
METHOD is a RuntimeService or ImageService method named below; the request
is given with the proto field names. Exit 1 with the gRPC status on error.

The messages are the subset of k8s.io/cri-api runtime/v1 api.proto the
suite sends and reads, declared here with their real field numbers and
built with protobuf's descriptor API (no protoc at image build time).
Enums are declared as int32, which is the same on the wire; fields the
subset leaves out are skipped by the decoder.
"""
import json
import sys

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
    "PodSandboxMetadata": [("name", 1, "string"), ("uid", 2, "string"),
                           ("namespace", 3, "string"), ("attempt", 4, "uint32")],
    # NamespaceMode: POD 0, CONTAINER 1, NODE 2, TARGET 3.
    "NamespaceOption": [("network", 1, "int32"), ("pid", 2, "int32"), ("ipc", 3, "int32")],
    "LinuxSandboxSecurityContext": [("namespace_options", 1, "NamespaceOption")],
    "LinuxPodSandboxConfig": [("cgroup_parent", 1, "string"),
                              ("security_context", 2, "LinuxSandboxSecurityContext")],
    "PodSandboxConfig": [("metadata", 1, "PodSandboxMetadata"), ("hostname", 2, "string"),
                         ("log_directory", 3, "string"), ("linux", 8, "LinuxPodSandboxConfig")],
    "RunPodSandboxRequest": [("config", 1, "PodSandboxConfig"), ("runtime_handler", 2, "string")],
    "RunPodSandboxResponse": [("pod_sandbox_id", 1, "string")],
    "StopPodSandboxRequest": [("pod_sandbox_id", 1, "string")],
    "StopPodSandboxResponse": [],
    "RemovePodSandboxRequest": [("pod_sandbox_id", 1, "string")],
    "RemovePodSandboxResponse": [],
    "ContainerMetadata": [("name", 1, "string"), ("attempt", 2, "uint32")],
    "ImageSpec": [("image", 1, "string")],
    "LinuxContainerResources": [("cpu_period", 1, "int64"), ("cpu_quota", 2, "int64"),
                                ("cpu_shares", 3, "int64"), ("memory_limit_in_bytes", 4, "int64")],
    "LinuxContainerConfig": [("resources", 1, "LinuxContainerResources")],
    "ContainerConfig": [("metadata", 1, "ContainerMetadata"), ("image", 2, "ImageSpec"),
                        ("command", 3, "*string"), ("args", 4, "*string"),
                        ("working_dir", 5, "string"), ("log_path", 11, "string"),
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
    "ContainerStatusRequest": [("container_id", 1, "string")],
    # ContainerState: CREATED 0, RUNNING 1, EXITED 2, UNKNOWN 3.
    "ContainerStatus": [("id", 1, "string"), ("state", 3, "int32"), ("exit_code", 7, "int32"),
                        ("reason", 10, "string")],
    "ContainerStatusResponse": [("status", 1, "ContainerStatus")],
    "ExecSyncRequest": [("container_id", 1, "string"), ("cmd", 2, "*string"),
                        ("timeout", 3, "int64")],
    "ExecSyncResponse": [("stdout", 1, "bytes"), ("stderr", 2, "bytes"), ("exit_code", 3, "int32")],
    "ContainerAttributes": [("id", 1, "string")],
    "CpuUsage": [("timestamp", 1, "int64"), ("usage_core_nano_seconds", 2, "UInt64Value")],
    "MemoryUsage": [("timestamp", 1, "int64"), ("working_set_bytes", 2, "UInt64Value"),
                    ("usage_bytes", 4, "UInt64Value")],
    "ContainerStats": [("attributes", 1, "ContainerAttributes"), ("cpu", 2, "CpuUsage"),
                       ("memory", 3, "MemoryUsage")],
    "ContainerStatsRequest": [("container_id", 1, "string")],
    "ContainerStatsResponse": [("stats", 1, "ContainerStats")],
    "ImageStatusRequest": [("image", 1, "ImageSpec")],
    "Image": [("id", 1, "string"), ("repo_tags", 2, "*string")],
    "ImageStatusResponse": [("image", 1, "Image")],
}

RUNTIME = ["Version", "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox",
           "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer",
           "ContainerStatus", "ExecSync", "ContainerStats"]
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
            if ftype in SCALARS:
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


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    sock, method = sys.argv[1], sys.argv[2]
    body = json.loads(sys.argv[3]) if len(sys.argv) == 4 else {}
    service = "RuntimeService" if method in RUNTIME else "ImageService" if method in IMAGE else None
    if service is None:
        sys.exit(f"cri.py: unknown method {method}")
    cls = message_classes()
    req_t, resp_t = cls(f"{method}Request"), cls(f"{method}Response")
    req = json_format.ParseDict(body, req_t())
    with grpc.insecure_channel(f"unix://{sock}") as ch:
        call = ch.unary_unary(f"/{PKG}.{service}/{method}",
                              request_serializer=req_t.SerializeToString,
                              response_deserializer=resp_t.FromString)
        try:
            resp = call(req, timeout=120)
        except grpc.RpcError as e:
            print(json.dumps({"error": str(e.code()), "details": e.details()}))
            sys.exit(1)
    out = json_format.MessageToDict(resp, preserving_proto_field_name=True,
                                    including_default_value_fields=True)
    if method == "ExecSync":
        out["stdout"] = resp.stdout.decode(errors="replace")
        out["stderr"] = resp.stderr.decode(errors="replace")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
