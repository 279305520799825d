#!/usr/bin/env python3
"""Validates deploy/ files that cannot run here (no Docker engine, no cluster).

Checks: every YAML file parses; the payorch image tag is the project version everywhere;
every `payorch run` flag used by the Dockerfile, compose and Kubernetes files is a flag of
the built binary; the HTTP port is one port everywhere (listen flag, EXPOSE, probes,
Services, Prometheus); the Kafka cluster in compose is a consistent 3-voter KRaft quorum
with replication 3 and min.insync.replicas 2; files mounted by compose exist; the
StatefulSet's selectors and headless Service agree; the Dockerfile's build stage installs
every library package (-dev) of scripts/deps.sh but the fuzzers' sanitizer runtime, and its
runtime stage the package of every shared library the built binary needs.

usage: check_deploy.py REPO_ROOT PAYORCH_BINARY
"""
import pathlib
import re
import subprocess
import sys

import yaml

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def main():
    root = pathlib.Path(sys.argv[1])
    binary = sys.argv[2]
    deploy = root / "deploy"
    version = re.search(r"project\(payorch VERSION (\S+)", (root / "CMakeLists.txt").read_text())[1]

    docs = {}
    for path in sorted(deploy.rglob("*.y*ml")):
        try:
            docs[path.relative_to(deploy).as_posix()] = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except yaml.YAMLError as e:
            failures.append(f"{path}: does not parse: {e}")
    compose = docs["compose.yaml"][0]
    k8s = docs["k8s/payorch.yaml"]
    dockerfile = (deploy / "docker" / "Dockerfile").read_text()

    # The image builds with the libraries a fresh Debian machine gets from scripts/deps.sh.
    deps = re.search(r"DEBIAN_PACKAGES=\((.*?)\)", (root / "scripts" / "deps.sh").read_text(), re.S)[1]
    dev_packages = re.compile(r"[\w.+-]+-dev\b")
    wanted = set(dev_packages.findall(deps)) - {"libclang-rt-14-dev"}  # `make fuzz` only
    build_stage = re.split(r"^FROM ", dockerfile, flags=re.M)[1]
    missing = wanted - set(dev_packages.findall(build_stage))
    check(not missing, f"Dockerfile build stage lacks packages of scripts/deps.sh: {sorted(missing)}")

    # The image runs: every shared library the binary needs comes from a package the
    # runtime stage installs, or from debian:12 itself (libc, libstdc++, libgcc).
    runtime_stage = re.split(r"^FROM ", dockerfile, flags=re.M)[2]
    runtime_packages = set(re.findall(r"\blib[\w.+-]+", runtime_stage))
    base_image = {"libc6", "libstdc++6", "libgcc-s1"}
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    dynamic = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True).stdout
    for lib in re.findall(r"^\s*NEEDED\s+(\S+)$", dynamic, flags=re.M):
        owners = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True).stdout
        package = next((line.split(":")[0] for line in owners.splitlines()
                        if line.endswith(f"/{multiarch}/{lib}")), None)
        check(package is not None, f"no {multiarch} package of this machine has {lib}")
        check(package is None or package in runtime_packages | base_image,
              f"Dockerfile runtime stage lacks {package} (the binary needs {lib})")

    # The flags of the real binary.
    help_text = subprocess.run([binary, "run", "--help"], capture_output=True, text=True).stdout
    known = set(re.findall(r"--([a-z][a-z0-9-]*)", help_text))
    check("http" in known, "payorch run has no --http flag")

    def flags_of(args):
        return {a[2:].split("=", 1)[0] for a in args if a.startswith("--")}

    run_arg_lists = []
    cmd = re.search(r'CMD \[(.*?)\]', dockerfile, re.S)[1]
    run_arg_lists.append(("Dockerfile CMD", re.findall(r'"([^"]*)"', cmd)))
    for name, svc in compose["services"].items():
        if svc.get("image", "").startswith("payorch:"):
            run_arg_lists.append((f"compose {name}", svc["command"]))
    stateful = next(d for d in k8s if d["kind"] == "StatefulSet")
    container = stateful["spec"]["template"]["spec"]["containers"][0]
    run_arg_lists.append(("k8s StatefulSet", container["args"]))

    http_ports = set()
    for where, args in run_arg_lists:
        check(args[0] == "run", f"{where}: does not run `payorch run`")
        unknown = flags_of(args) - known
        check(not unknown, f"{where}: flags unknown to `payorch run`: {sorted(unknown)}")
        for i, a in enumerate(args):
            value = a.split("=", 1)[1] if a.startswith("--http=") else (
                args[i + 1] if a == "--http" and i + 1 < len(args) else None)
            if value:
                http_ports.add(int(value.rsplit(":", 1)[1]))
    check(len(http_ports) == 1, f"payorch listens on several ports: {http_ports}")
    port = http_ports.pop() if http_ports else 8080

    # Image tags: the project version, everywhere.
    check(f"payorch:{version}" in dockerfile, f"Dockerfile does not build payorch:{version}")
    for name, svc in compose["services"].items():
        if svc.get("image", "").startswith("payorch:"):
            check(svc["image"] == f"payorch:{version}", f"compose {name}: image {svc['image']}")
    check(container["image"] == f"payorch:{version}", f"k8s image {container['image']}")

    # One port everywhere.
    check(re.search(rf"^EXPOSE {port}$", dockerfile, re.M), f"Dockerfile does not EXPOSE {port}")
    for name, svc in compose["services"].items():
        if svc.get("image", "").startswith("payorch:"):
            check(f"localhost:{port}/health/ready" in " ".join(svc["healthcheck"]["test"]),
                  f"compose {name}: healthcheck not on :{port}/health/ready")
            check(all(p.endswith(f":{port}") for p in svc["ports"]), f"compose {name}: ports")
    check(container["ports"][0]["containerPort"] == port, "k8s containerPort")
    check(container["readinessProbe"]["httpGet"]["path"] == "/health/ready", "k8s readiness path")
    check(container["livenessProbe"]["httpGet"]["path"] == "/health/live", "k8s liveness path")
    for svc in (d for d in k8s if d["kind"] == "Service"):
        check(svc["spec"]["ports"][0]["port"] == port, f"k8s Service {svc['metadata']['name']} port")
        ann = svc["metadata"].get("annotations", {})
        if "prometheus.io/port" in ann:
            check(ann["prometheus.io/port"] == str(port), "k8s prometheus.io/port annotation")

    # Prometheus (compose) scrapes every payorch service on that port.
    prom = docs.get("prometheus/compose.yml", [{}])[0]
    targets = {t for job in prom.get("scrape_configs", []) for sc in job.get("static_configs", [])
               for t in sc.get("targets", [])}
    payorch_services = {n for n, s in compose["services"].items()
                        if s.get("image", "").startswith("payorch:")}
    check(targets == {f"{n}:{port}" for n in payorch_services},
          f"prometheus/compose.yml targets {sorted(targets)} are not the payorch services on :{port}")

    # StatefulSet wiring.
    headless = [d for d in k8s if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
    check(len(headless) == 1 and headless[0]["metadata"]["name"] == stateful["spec"]["serviceName"],
          "StatefulSet serviceName is not the headless Service")
    labels = stateful["spec"]["template"]["metadata"]["labels"]
    check(stateful["spec"]["selector"]["matchLabels"].items() <= labels.items(),
          "StatefulSet selector does not match its pod labels")
    check(stateful["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] ==
          container["volumeMounts"][0]["name"], "RocksDB volume claim not mounted")

    # Kafka: a 3-voter KRaft quorum, replication 3, min ISR 2, no unclean election.
    kafkas = {n: s for n, s in compose["services"].items() if n.startswith("kafka-")}
    check(len(kafkas) == 3, "compose does not have three Kafka brokers")
    voters = set()
    for name, svc in kafkas.items():
        env = svc["environment"]
        voters.add(f"{env['KAFKA_NODE_ID']}@{name}:9093")
        check(env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092", f"{name}: listeners")
        check(env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3", f"{name}: replication factor")
        check(env["KAFKA_MIN_INSYNC_REPLICAS"] == "2", f"{name}: min.insync.replicas")
        check(env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false", f"{name}: unclean election")
        check(set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) >= {f"{env['KAFKA_NODE_ID']}@{name}:9093"},
              f"{name}: not a voter")
    for svc in kafkas.values():
        check(set(svc["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters,
              "quorum voters differ from the brokers")
    for name, svc in compose["services"].items():
        if svc.get("image", "").startswith("payorch:"):
            brokers = next(a for a in svc["command"] if a.startswith("--brokers="))[len("--brokers="):]
            check(set(brokers.split(",")) == {f"{n}:9092" for n in kafkas}, f"{name}: --brokers")

    # Mounted files exist.
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith("./"):
                check((deploy / src).exists(), f"compose {name}: mounts missing {src}")

    for f in failures:
        print("FAIL:", f)
    print(f"checked {len(docs)} YAML files, {len(run_arg_lists)} payorch command lines: "
          f"{'OK' if not failures else str(len(failures)) + ' problems'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
