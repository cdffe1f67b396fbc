PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint protos clean images test-containers

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: venv
	$(VENV)/bin/xyd demo

test: venv
	$(PY) -m pytest -q -p no:cacheprovider

lint: venv
	$(VENV)/bin/ruff check .

protos: venv
	$(PY) -m federation.proto.build

# Container images (podman from Debian's packages; installs it when missing): see docker/build-images.sh.
images:
	bash docker/build-images.sh

# The whole federation in containers (podman kube play): PSI, SecureBoost and bank scoring, then torn down.
test-containers: venv images
	XYD_CONTAINER_TESTS=1 $(PY) -m pytest -q -p no:cacheprovider -m containers tests/integration/test_containers.py

clean:
	rm -rf $(VENV) build *.egg-info
