"""xyd coordinator: control plane, node registry, persisted jobs and the model registry."""
