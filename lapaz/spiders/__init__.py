"""The project's spiders: `tramites` is the only one."""
