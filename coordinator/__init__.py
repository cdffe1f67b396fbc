"""xyd coordinator: control plane, node registry, jobs, model registry, the `xyd` CLI and the local launcher."""
