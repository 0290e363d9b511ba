"""Compose backend: the lab's Docker stack (server or its free-threaded twin, Locust master and workers) driven through
the Docker SDK. CPU limits (pinned cores or a quota) change live (container update), the switch interval via the
server's control CLI.
"""
import math
import os
import subprocess
import time

from runner import promtext
from runner.locust_api import LocustController
from runner.backend import REPO_ROOT, BackendError, free_port
from runner.spec import ALL_CORES, FREE_THREADED, GIL, PINNED, PYTHON_BUILDS, placement_of

COMPOSE_FILE = os.path.join(REPO_ROOT, "compose.yaml")
SERVICES = ("server", "locust-master", "locust-worker")  # compose.yaml's names; Prometheus/Grafana are not needed
LOCUST_SERVICES = SERVICES[1:]
SERVER_PORT_IN_STACK = "server:25000"  # how the Locust workers reach the server on the stack's network
# The python axis: the GIL server or its free-threaded twin (compose.yaml's service server-ft, profile free-threaded).
FT_SERVICE, FT_PROFILE, FT_PORT_IN_STACK = "server-ft", "free-threaded", "server-ft:25000"
SERVER_SERVICE = {None: "server", GIL: "server", FREE_THREADED: FT_SERVICE}
LOCUST_HOST = {"server": SERVER_PORT_IN_STACK, FT_SERVICE: FT_PORT_IN_STACK}
GIL_STATE = {"server": "true", FT_SERVICE: "false"}  # primes_server_info gil_enabled each service must report
PORT_VARIABLES = {"server": ("SERVER_PORT", "SERVER_METRICS_PORT"), FT_SERVICE: ("SERVER_FT_PORT", "SERVER_FT_METRICS_PORT")}
# Base images for the builds, when set (e.g. where no registry is reachable): passed to every image built, so a
# service whose build args miss one (server-ft lacked PYTHON_IMAGE once) still builds from local images.
BUILD_ARG_VARIABLES = ("PYTHON_IMAGE", "DEBIAN_IMAGE")
METRICS_PORT, WEB_PORT = "8000/tcp", "8089/tcp"  # container ports published by compose.yaml
SERVER_ENV = {"model": "SERVER_MODEL", "workers": "SERVER_WORKERS", "algorithm": "SERVER_ALGORITHM"}


def docker_errors():
    """The Docker SDK's and its HTTP library's errors (the SDK is imported only when the backend is used)."""
    import docker.errors
    import requests
    return (docker.errors.DockerException, requests.RequestException)


def _published(container, port):
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(port) or []
    if not bindings:
        raise BackendError(f"container {container.name} does not publish {port}")
    host = bindings[0]["HostIp"] or "127.0.0.1"
    return ("127.0.0.1" if host in ("0.0.0.0", "::") else host), int(bindings[0]["HostPort"])


def cpu_list(cpus):
    """[0, 1, 2] -> "0-2": a cpuset as Docker takes it (contiguous from the first CPU, as the runner uses them)."""
    cpus = sorted(cpus)
    return str(cpus[0]) if len(cpus) == 1 else f"{cpus[0]}-{cpus[-1]}"


def update_container(client, container, body):
    """The Engine API's update endpoint: the SDK's update() has no NanoCpus, and a container made with `cpus:`
    (NanoCpus) refuses a quota/period pair, so a quota is always NanoCpus and "no quota" is CpuQuota -1."""
    api = client.api
    response = api.post(f"{api.base_url}/v{api.api_version}/containers/{container.id}/update", json=body)
    if response.status_code >= 400:
        raise BackendError(f"docker refused {body} for {container.name}: {response.text.strip()}")


def placement_body(placement, cores, host_cores):
    """What `docker update` sets for a placement. pinned: cpuset = the first `cores` CPUs, no quota (like
    `--cpuset-cpus 0 --cpu-quota -1`); quota: every CPU and a CFS quota (like `--cpuset-cpus 0-N --cpus 0.5`)."""
    if placement == PINNED:
        return {"CpusetCpus": cpu_list(range(int(cores))), "CpuQuota": -1}
    return {"CpusetCpus": cpu_list(range(host_cores)), "NanoCpus": int(round(cores * 1e9))}


def locust_cpus(cores, host_cores):
    """Locust's CPUs for a server limited to `cores`: the CPUs after the server's first ceil(cores), else all of them.
    For both placements alike, so pinned and quota cells differ only in how the server is limited."""
    first = math.ceil(cores)
    return cpu_list(range(first, host_cores) if first < host_cores else range(host_cores))


def saved_cpus(container, host_cores):
    """An update body that puts a container's CPU settings back as they were (see update_container)."""
    config = container.attrs["HostConfig"]
    body = {"CpusetCpus": config.get("CpusetCpus") or cpu_list(range(host_cores))}
    if config.get("CpuQuota", 0) > 0 and config.get("CpuPeriod"):
        body["NanoCpus"] = int(config["CpuQuota"] * 1e9 / config["CpuPeriod"])
    elif config.get("NanoCpus") and config.get("CpuQuota", 0) == 0:
        body["NanoCpus"] = config["NanoCpus"]
    else:
        body["CpuQuota"] = -1
    return body


class ComposeTarget:
    def __init__(self, metrics_url, locust_host):
        self.metrics_url = metrics_url
        self.locust_host = locust_host

    def scrape(self):
        return promtext.scrape(self.metrics_url)


class ComposeBackend:
    name = "compose"

    def __init__(self, experiment, out_dir, project=None, start_stack=False, workers=1):
        self.experiment = experiment
        self.logs = os.path.join(out_dir, "logs")
        self.project = project or os.environ.get("COMPOSE_PROJECT_NAME") or os.path.basename(REPO_ROOT).lower()
        self.start_stack = start_stack
        self.locust_workers = workers
        self.client = None  # the Docker SDK client and the engine's CPU count, set by connect()
        self.host_cores = None
        self.locust = None
        self.started = False
        self.env = dict(os.environ)
        self.env.setdefault("COMPOSE_BAKE", "false")  # bake wants a newer buildx than Debian ships
        self.original = {}  # service -> switch interval of a stack we did not start, restored at the end
        self.original_cpus = []  # (container, update body) of a stack we did not start, restored at the end
        self.server_config = {}  # service -> (model, workers, algorithm) it runs now
        self.skip_note = None  # this backend runs every cell
        self.services = list(dict.fromkeys(SERVER_SERVICE.get(c.python, "server") for c in experiment.cells))
        self.profile = ["--profile", FT_PROFILE] if FT_SERVICE in self.services else []

    # ---- before any load ----
    def connect(self):
        """Reach the Docker engine (once): the SDK client and the engine's CPU count. Raises BackendError."""
        if self.client is not None:
            return
        try:
            import docker
            client = docker.from_env()
            client.ping()
            cores = int(client.info()["NCPU"])
        except Exception as exc:  # noqa: BLE001 - any failure here means "no engine"
            raise BackendError(f"the compose backend needs a reachable Docker engine: {exc}") from None
        self.client, self.host_cores = client, cores

    def problems(self):
        """What this backend cannot run, one message each; reads the engine connect() reached, changes nothing."""
        if self.client is None:
            return ["the compose backend is not connected to a Docker engine (connect() first)"]
        found = []
        if self.start_stack and not os.path.exists(COMPOSE_FILE):
            found.append(f"{COMPOSE_FILE} is missing (needed to start the stack)")
        for cell in self.experiment.cells:
            if cell.python not in (None, *PYTHON_BUILDS):
                found.append(f"cell {cell.label}: the compose backend runs its images' interpreters: python must be "
                             f"{GIL} or {FREE_THREADED} (an interpreter path is for the native backend)")
            if cell.cpus != ALL_CORES and cell.cpus > self.host_cores:
                found.append(f"cell {cell.label}: cpus {cell.cpus:g} but the Docker host has {self.host_cores}")
            elif placement_of(cell, self.name) == PINNED and cell.cpus != ALL_CORES and cell.cpus != int(cell.cpus):
                found.append(f"cell {cell.label}: pinned cores are whole cores; {cell.cpus:g} needs placement quota")
        configs = {(SERVER_SERVICE.get(c.python), c.model, c.workers, c.algorithm) for c in self.experiment.cells}
        if len(configs) > len(self.services) and not self.start_stack:
            found.append("the matrix has several server configurations (model/workers/algorithm); the compose "
                         "backend recreates the server for each, which needs --start-stack")
        if not self.start_stack:
            for service in [*self.services, "locust-master"]:
                if not self._running(service):
                    hint = (f"`docker compose --profile {FT_PROFILE} up -d {FT_SERVICE}`" if service == FT_SERVICE
                            else "`docker compose up -d`")
                    found.append(f"no running {service!r} container in compose project {self.project!r}: start it "
                                 f"with {hint}, or pass --start-stack")
        return list(dict.fromkeys(found))

    # ---- the stack ----
    def _compose(self, *args, env=None):
        command = ["docker", "compose", "-f", COMPOSE_FILE, "-p", self.project, *self.profile, *args]
        with open(os.path.join(self.logs, "compose.log"), "ab") as log:
            done = subprocess.run(command, cwd=REPO_ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise BackendError(f"`{' '.join(command)}` failed (see {self.logs}/compose.log)")

    def _running(self, service):
        return self.client.containers.list(filters={"label": [f"com.docker.compose.project={self.project}",
                                                              f"com.docker.compose.service={service}"]})

    def _container(self, service):
        found = self._running(service)
        if not found:
            raise BackendError(f"no running {service!r} container in compose project {self.project!r} "
                               f"(start the stack, or pass --start-stack)")
        return found[0]

    def _server_env(self, cell):
        env = dict(self.env)
        env.update({SERVER_ENV["model"]: cell.model, SERVER_ENV["workers"]: str(cell.workers),
                    SERVER_ENV["algorithm"]: cell.algorithm})
        return env

    def open(self):
        os.makedirs(self.logs, exist_ok=True)
        if self.start_stack:
            # Free host ports, so a developer's own stack (default ports) is never disturbed.
            # The GIL server always runs: the Locust master waits for it (depends_on).
            servers = list(dict.fromkeys(["server", *self.services]))
            services = [*servers, *SERVICES[1:]]
            for variable in [v for service in servers for v in PORT_VARIABLES[service]]:
                self.env[variable] = str(free_port())
            self.env.update(LOCUST_WEB_PORT=str(free_port()), LOCUST_WORKERS=str(self.locust_workers))
            build_args = [f"--build-arg={v}={self.env[v]}" for v in BUILD_ARG_VARIABLES if self.env.get(v)]
            self.started = True  # from here on close() takes the stack down, even if `up` fails half-way
            self._compose("build", *build_args, *services)
            first = self.experiment.cells[0]  # both servers share the SERVER_* settings; a cell recreates its own
            self._compose("up", "-d", "--wait", *services, env=self._server_env(first))
            self.server_config = dict.fromkeys(servers, (first.model, first.workers, first.algorithm))
        master = self._container("locust-master")
        host, port = _published(master, WEB_PORT)
        self.locust = LocustController(f"http://{host}:{port}")
        self.locust.wait_ready()
        self.locust.stop()  # a load left running by someone else would spoil the first cell
        if not self.started:
            for service in self.services:
                sample = self._target(self._container(service), service).scrape()
                self.original[service] = sample.get_sum(promtext.SWITCH_INTERVAL)
            for service in dict.fromkeys([*self.services, *LOCUST_SERVICES]):
                self.original_cpus += [(c, saved_cpus(c, self.host_cores)) for c in self._running(service)]

    def _target(self, server, service):
        host, port = _published(server, METRICS_PORT)
        return ComposeTarget(f"http://{host}:{port}/metrics", LOCUST_HOST[service])

    def _set_switch_interval(self, server, seconds):
        result = server.exec_run(["python", "-m", "server.control", "switch-interval", repr(seconds)])
        if result.exit_code != 0:
            raise BackendError(f"setting the switch interval failed: {result.output.decode(errors='replace')}")

    def start_cell(self, cell, name):
        service = SERVER_SERVICE[cell.python]
        config = (cell.model, cell.workers, cell.algorithm)
        if self.started and config != self.server_config.get(service):
            self._compose("up", "-d", "--no-deps", "--force-recreate", "--wait", service, env=self._server_env(cell))
            self.server_config[service] = config
        server = self._container(service)
        target = self._target(server, service)
        info = (target.scrape().labels_of(promtext.SERVER_INFO) or [{}])[0]
        if (info.get("model"), info.get("algorithm")) != (cell.model, cell.algorithm):
            raise BackendError(f"the stack's {service} runs model={info.get('model')} algorithm="
                               f"{info.get('algorithm')}, the cell wants {cell.model}/{cell.algorithm}")
        if cell.python and info.get("gil_enabled") != GIL_STATE[service]:
            raise BackendError(f"the stack's {service} reports gil_enabled={info.get('gil_enabled')}, the cell "
                               f"wants python {cell.python}")
        cores = float(self.host_cores) if cell.cpus == ALL_CORES else float(cell.cpus)
        placement = placement_of(cell, self.name)
        update_container(self.client, server, placement_body(placement, cores, self.host_cores))
        for service in LOCUST_SERVICES:
            for container in self._running(service):
                update_container(self.client, container, {"CpusetCpus": locust_cpus(cores, self.host_cores)})
        self._set_switch_interval(server, cell.switch_interval_s)
        # Every change is live: wait until the server's own metrics show them.
        allowed = int(cores) if placement == PINNED else self.host_cores
        deadline = time.monotonic() + 15
        while True:
            sample = target.scrape()
            limit, interval = sample.get_sum(promtext.CPU_LIMIT), sample.get_sum(promtext.SWITCH_INTERVAL)
            cpuset, quota = sample.get_sum(promtext.CPUSET_CORES), sample.get_sum(promtext.QUOTA_CORES)
            applied = (cpuset == allowed and (quota is None if placement == PINNED else
                                              quota is not None and abs(quota - cores) < 0.01))
            if applied and limit is not None and abs(limit - cores) < 0.01 and interval is not None and \
                    abs(interval - cell.switch_interval_s) < 1e-9:
                return target
            if time.monotonic() > deadline:
                raise BackendError(f"the server reports {cpuset} CPUs, quota {quota}, cpu limit {limit} and switch "
                                   f"interval {interval} after setting {placement} {cores:g} and "
                                   f"{cell.switch_interval_s:g}")
            time.sleep(0.2)

    def end_cell(self):
        pass  # the stack's server lives on; the measurement already waited until it was idle

    def locust_cpu_seconds(self):
        """{Locust container: CPU seconds so far} of the master and every worker, from the Docker stats API."""
        found = {}
        for service in SERVICES[1:]:
            for container in self._running(service):
                try:
                    # one_shot: the counters now, without waiting for a second sample (about 1 s).
                    stats = container.stats(stream=False, one_shot=True)
                    found[container.name] = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
                except (KeyError, TypeError, ValueError, OSError, *docker_errors()) as exc:  # gone, old engine
                    found[container.name] = None
                    self._note(f"no CPU figure for {container.name}: {exc}")
        return found

    def _note(self, text):
        with open(os.path.join(self.logs, "compose.log"), "a") as log:
            log.write(f"runner: {text}\n")

    def close(self):
        if self.locust is not None:
            try:
                self.locust.stop()
            except Exception:  # noqa: BLE001 - best effort before taking the stack down
                pass
        if self.started:
            self._compose("down", "--volumes", "--remove-orphans")
            self.started = False
        elif self.client is not None:
            for container, body in self.original_cpus:
                update_container(self.client, container, body)
            for service, interval in self.original.items():
                if interval:
                    self._set_switch_interval(self._container(service), interval)
