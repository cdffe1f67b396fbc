PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test fuzz lint protos clean images test-containers

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

# The hostile-input tests with many more examples each (schemathesis on the API, gRPC handlers of a real
# federation, table intake, consent artefacts, HE messages); about 30 minutes on two cores.
FUZZ_EXAMPLES ?= 300
fuzz: venv
	XYD_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider \
		tests/platform_node/api/test_schema_fuzz.py tests/tables/test_hostile_intake.py \
		tests/consent/test_hostile_artefacts.py tests/models/he/test_wire_hostile.py \
		"tests/integration/test_local_federation.py::test_hostile_grpc_requests_get_a_status_with_public_text_from_every_server"

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
