from source_node.intake.cli import register  # noqa
